"""What the in-cluster end-to-end test needs around the controller's pod: its API reached through
its Route with nothing but `.sandbox/env` (the router's proxy and CA bundle), and the sandbox's
router reachable from the pod network, as a cluster's pods reach the apps domain's router."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from litemaas_controller.intake.auth import signed_headers
from waiting import wait_until

TERMINAL = {"succeeded", "failed", "cancelled", "superseded"}


def ended(view: dict[str, Any]) -> bool:
    return view["status"] in TERMINAL and all(
        run["status"] not in ("queued", "running") for run in view["runs"]
    )


class _Pump(socketserver.BaseRequestHandler):
    server: Forwarder

    def handle(self) -> None:
        with socket.create_connection(self.server.target, timeout=30) as upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
            back.start()
            _copy(self.request, upstream)
            back.join()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class Forwarder(socketserver.ThreadingTCPServer):
    """TCP from ``listen`` to ``target``, byte for byte. The sandbox's router listens on loopback;
    on a cluster, pods reach the router by the apps domain's DNS: here they reach it as a proxy on
    the node's pod-network address (``HTTPS_PROXY`` in the controller's ConfigMap)."""

    daemon_threads = True
    block_on_close = False  # a connection the pod keeps open must not hold up the stop
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        super().__init__(listen, _Pump)
        threading.Thread(target=self.serve_forever, name="router forwarder", daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class RouteClient:
    """The controller's API at ``https://<host>`` through the router, with only `.sandbox/env`'s
    proxy and CA bundle; the webhook secret signs orders, the API token reads."""

    def __init__(self, env: dict[str, str], host: str, webhook_secret: str, token: str) -> None:
        self.base = f"https://{host}"
        self._secret, self._token = webhook_secret, token
        context = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
        self._open = urllib.request.build_opener(
            urllib.request.ProxyHandler({"https": env["HTTPS_PROXY"]}),
            urllib.request.HTTPSHandler(context=context),
        ).open

    def __repr__(self) -> str:  # what a failure shows: never the secrets it holds
        return f"RouteClient({self.base!r})"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self._open(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except OSError as exc:  # the router's 503 or no pod yet: reported, waited on by callers
            return 0, str(exc)

    def read(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path, headers={"Authorization": f"Bearer {self._token}"})

    def order(self, order: dict[str, Any]) -> tuple[int, Any]:
        """Send a signed catalog order; (status, answer)."""
        body = json.dumps(order).encode()
        headers = {**signed_headers(self._secret, body, time.time())}
        headers["Content-Type"] = "application/json"
        return self.request("POST", "/api/v1/orders", body, headers)

    def view(self, order_id: str) -> dict[str, Any] | None:
        status, view = self.read(f"/api/v1/orders/{order_id}")
        return view if status == 200 else None

    def finished(self, order_id: str, timeout: float = 600) -> dict[str, Any]:
        """The order's view once it has ended: a terminal status and no run of it queued or
        running (a pod that stops while another starts on its ledger can end a run the new pod
        has queued again: docs/in-cluster.md)."""
        found: dict[str, Any] = wait_until(
            lambda: (o := self.view(order_id)) and ended(o) and o,
            timeout=timeout,
            what=f"order {order_id} to end",
        )
        return found

    def orders(self, instance: str) -> list[dict[str, Any]]:
        """The instance's orders, oldest first."""
        status, found = self.read(f"/api/v1/orders?instance={instance}&limit=1000")
        assert status == 200, found
        return list(reversed(found["items"]))
