"""Where a model's upstream key may go: the allow-list (one table, run against the controller's
intake and the collection's module alike), the reserved Secret names both refuse, and no
redirect carrying the key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.rhpds.litemaas.plugins.module_utils import (
    litellm_api,
    litellm_models,
    litellm_secret_refs,
    litellm_upstream_allow,
)

from litemaas_controller.config import upstream_allow as service_allow
from litemaas_controller.intake.messages import references
from sandbox.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.unit

Allowed = Callable[[str, Iterable[str]], bool]
IMPLEMENTATIONS: dict[str, Allowed] = {
    "intake": service_allow.allowed,
    "module": litellm_upstream_allow.allowed,
}

CASES: list[tuple[str, list[str], bool]] = [
    ("http://vllm.models.svc:8000/v1", [], True),  # no entries: any host
    ("http://vllm.models.svc:8000/v1", ["vllm.models.svc"], True),
    ("http://VLLM.Models.svc.:8000/v1", ["vllm.models.svc."], True),  # case, trailing dot
    ("http://other.models.svc/v1", ["vllm.models.svc"], False),
    ("https://vllm.models.svc/v1", ["*.models.svc"], True),
    ("http://a.b.models.svc/v1", [".models.svc"], True),  # any depth
    ("http://models.svc/v1", ["*.models.svc"], False),  # not the domain itself
    ("http://evilmodels.svc/v1", [".models.svc"], False),
    ("http://vllm.models.svc.evil.example/v1", ["*.models.svc"], False),
    ("http://10.1.2.3:8000/v1", ["10.0.0.0/8"], True),
    ("http://11.1.2.3/v1", ["10.0.0.0/8"], False),
    ("http://10.1.2.3/v1", ["10.1.2.3"], True),
    ("http://10.1.2.4/v1", ["10.1.2.3"], False),
    ("http://vllm.models.svc/v1", ["10.0.0.0/8"], False),  # names are never resolved
    ("http://[fd00::5]:8000/v1", ["fd00::/8"], True),
    ("http://[fe80::1]/v1", ["fd00::/8"], False),
    ("http://[::1]:8000/v1", ["::1"], True),
    ("http://[::1]:8000/v1", ["[::1]"], True),
    ("http://[0:0:0:0:0:0:0:1]/v1", ["::1"], True),  # the same address written out
    ("http://[::ffff:10.0.0.1]/v1", ["10.0.0.0/8"], True),  # IPv4-mapped is that IPv4
    ("http://10.0.0.1/v1", ["fd00::/8"], False),
    ("http://2130706433/v1", ["127.0.0.0/8"], False),  # 127.0.0.1 in disguise: not an address
    ("http://vllm.models.svc@evil.example/v1", ["vllm.models.svc"], False),
    ("http://evil.example\\@vllm.models.svc/v1", ["vllm.models.svc"], False),
    ("http://vllm.models.svc:port/v1", ["vllm.models.svc"], False),
    ("ftp://vllm.models.svc/v1", ["vllm.models.svc"], False),
    ("http://10.1.2.3/v1", ["vllm.models.svc", "10.0.0.0/8"], True),
]


@pytest.mark.parametrize("side", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize(("url", "entries", "expected"), CASES)
def test_the_allow_list_admits_hosts_domains_and_networks_alike_at_intake_and_in_the_module(
    side: str, url: str, entries: list[str], expected: bool
) -> None:
    assert IMPLEMENTATIONS[side](url, entries) is expected


def test_intake_and_the_modules_reserve_the_same_secret_names() -> None:
    assert references.RESERVED_SECRETS == litellm_secret_refs.RESERVED
    assert references.ALLOW_REF_LABEL == litellm_secret_refs.ALLOW_REF_LABEL
    assert "litellm-secret" in references.RESERVED_SECRETS


class _Redirect(BaseHTTPRequestHandler):
    """An upstream that sends every request on to another host (``server.target``)."""

    server: _RedirectServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET


class _RedirectServer(ThreadingHTTPServer):
    daemon_threads = True
    target = ""


@pytest.fixture
def redirecting() -> Iterator[tuple[_RedirectServer, FakeUpstream]]:
    with FakeUpstream(api_key="sk-elsewhere") as elsewhere:
        server = _RedirectServer(("127.0.0.1", 0), _Redirect)
        server.target = f"http://127.0.0.1:{elsewhere.port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server, elsewhere
        finally:
            server.shutdown()
            server.server_close()


def test_a_redirect_never_carries_the_upstream_key_to_another_host(
    redirecting: tuple[_RedirectServer, FakeUpstream],
) -> None:
    server, elsewhere = redirecting
    upstream = litellm_api.Upstream(
        f"http://127.0.0.1:{server.server_address[1]}/v1", key="sk-upstream-key", timeout=10
    )
    with pytest.raises(litellm_models.ModelError, match="Redirects are not followed"):
        litellm_models.discover_upstream_model(upstream, "llama")  # GET: "safe" would follow
    with pytest.raises(litellm_api.LiteLLMError, match="HTTP 302"):
        upstream.probe("llama", "chat", prefix="")
    assert elsewhere.state.presented == []
