"""The sandbox's router, seen from the host: an HTTP(S) forward proxy on loopback.

Clients reach Route and Ingress hosts with only the standard proxy variables set
(`HTTPS_PROXY=http://127.0.0.1:PORT`): `CONNECT host:443` to an edge route is answered with a
TLS handshake under a certificate for that host signed by the sandbox CA, then the decrypted
stream goes to a ready pod of the route's Service; passthrough routes are spliced as they are;
plain `GET http://host/...` goes to routes without TLS, or is redirected to https as the route's
insecureEdgeTerminationPolicy says. Unknown hosts and hosts without ready pods get 503, as from
OpenShift's router.

It also reaches Services by their cluster DNS names (`http://vllm.models.svc:8000/v1`, or
`CONNECT db.ns.svc.cluster.local:5432`), as a pod would through cluster DNS and kube-proxy: a
controller on the host then sees the cluster's network as it would when it runs in the cluster.
The proxy connects to nothing but pods of this sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from .. import pki as pki_mod
from .routing import Target

log = logging.getLogger("sandbox.router")
Resolve = Callable[[str, int], Target | None]  # (host, port)
Allowed = Callable[[str], bool]  # may the router connect to this address?
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 33\r\n\r\nApplication is not available (503)"
)


class RouterProxy:
    def __init__(self, resolve: Resolve, allowed: Allowed, pki_dir: Path, port: int) -> None:
        self.resolve, self.allowed, self.port = resolve, allowed, port
        self.pki_dir = pki_dir
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="router", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("router did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stopped.wait()

    # -- certificates --------------------------------------------------------------------------
    def _context(self, host: str) -> ssl.SSLContext:
        """A server context for `host`, with a certificate signed by the sandbox CA."""
        if host not in self._contexts:
            pki = pki_mod.Pki(
                ca_cert=self.pki_dir / "ca.crt",
                ca_key=self.pki_dir / "ca.key",
                server_cert=self.pki_dir / "apiserver.crt",
                server_key=self.pki_dir / "apiserver.key",
                sa_key=self.pki_dir / "sa.key",
                sa_pub=self.pki_dir / "sa.pub",
            )
            ca, ca_key = pki_mod.load_ca(pki)
            cert, key = pki_mod.issue(ca, ca_key, host, [host], [])
            directory = self.pki_dir / "routes"
            directory.mkdir(exist_ok=True)
            cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert_path, key_path)
            self._contexts[host] = ctx
        return self._contexts[host]

    # -- one client ------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head.partition(b" ")
            target, _, _ = rest.partition(b" ")
            if method == b"CONNECT":
                await self._connect(target.decode(), reader, writer)
            else:
                await self._forward(head, reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except (OSError, ssl.SSLError) as exc:
            log.debug("router client: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    def _backend(self, target: Target | None) -> tuple[str, int] | None:
        if target is None:
            return None
        choices = [a for a in target.addresses if self.allowed(a[0])]
        return random.choice(choices) if choices else None

    async def _connect(
        self, authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = _split(authority, 443)
        target = self.resolve(host, port)
        backend = self._backend(target)
        wants_tls = port == 443
        if target is not None and target.service:
            wants_tls = False  # a Service carries whatever the client sends, TLS or not
        if target is None or backend is None or bool(target.tls) != wants_tls:
            writer.write(UNAVAILABLE)
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        if target.tls in ("edge", "reencrypt"):
            await writer.start_tls(self._context(host))
        upstream_tls: ssl.SSLContext | None = None
        if target.tls == "reencrypt":
            upstream_tls = ssl.create_default_context()
            upstream_tls.check_hostname = False
            upstream_tls.verify_mode = ssl.CERT_NONE  # the pod's serving certificate is its own
        up_reader, up_writer = await asyncio.open_connection(*backend, ssl=upstream_tls)
        await splice(reader, writer, up_reader, up_writer)

    async def _forward(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A plain-HTTP proxy request: `GET http://host/path HTTP/1.1`."""
        line, _, headers = head.partition(b"\r\n")
        method, url, version = line.split(b" ", 2)
        if not url.startswith(b"http://"):
            writer.write(UNAVAILABLE)
            return
        authority, _, path = url[len(b"http://") :].partition(b"/")
        host, port = _split(authority.decode(), 80)
        target = self.resolve(host, port)
        if target is not None and target.tls and target.insecure == "Redirect":
            location = f"https://{host}/{path.decode()}"
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            return
        backend = self._backend(target)
        if target is None or backend is None or (target.tls and target.insecure != "Allow"):
            writer.write(UNAVAILABLE)
            return
        kept = [
            h
            for h in headers.split(b"\r\n")
            if h and not h.lower().startswith((b"proxy-connection:", b"connection:"))
        ]
        request = b" ".join([method, b"/" + path, version]) + b"\r\n"
        request += b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"
        up_reader, up_writer = await asyncio.open_connection(*backend)
        up_writer.write(request)
        await splice(reader, writer, up_reader, up_writer)


def _split(authority: str, default: int) -> tuple[str, int]:
    host, colon, port = authority.rpartition(":")
    if not colon or not port.isdigit():
        return authority, default
    return host, int(port)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (OSError, ssl.SSLError, RuntimeError):
        return


async def splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    # The exchange is over when the pod's side ends; the client's side may close first (a
    # half-close after its request) without ending it.
    upward = asyncio.create_task(_pipe(reader, up_writer))
    try:
        await _pipe(up_reader, writer)
    finally:
        upward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upward
        up_writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await up_writer.wait_closed()
