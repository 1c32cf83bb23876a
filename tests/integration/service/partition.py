"""A network partition between the service and kube-apiserver: a TCP forwarder on loopback that a
test cuts (every connection through it closed, new ones held, reaching nothing) and mends (the held
ones go through: a client waiting to reconnect does so at once, without its back-off).

TLS passes through untouched (the client still verifies kube-apiserver's certificate, which names
127.0.0.1); ``kubeconfig`` writes a copy of the sandbox's kubeconfig that goes through it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml

CHUNK = 65536


class Partition:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._cut = False
        threading.Thread(target=self._accept, name="partition", daemon=True).start()

    def kubeconfig(self, original: Path, copy: Path) -> Path:
        config = yaml.safe_load(original.read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        copy.write_text(yaml.safe_dump(config))
        copy.chmod(0o600)
        return copy

    def cut(self) -> None:
        """Close every connection through it; hold new ones (they reach nothing) until mended."""
        with self._lock:
            self._cut = True
            dropped, self._open = self._open, set()
        for sock in dropped:
            _close(sock)

    def mend(self) -> None:
        """Let connections through again, the held ones first."""
        with self._lock:
            self._cut = False
            held, self._held = self._held, []
        for client in held:
            self._forward(client)

    def close(self) -> None:
        self.cut()
        with self._lock:
            held, self._held = self._held, []
        for sock in (*held, self._listener):
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        with self._lock:
            if self._cut:
                self._held.append(client)
                return
        try:
            server = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        with self._lock:
            self._open.update((client, server))
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass  # cut, or the other side closed
        finally:
            with self._lock:
                self._open -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
