"""The environment a run gets: the service's proxy, CA and cluster settings, and nothing secret.

ansible-runner starts from a copy of the service's whole environment; that copy would hand the
webhook secret and API token to every playbook.  Runs get an allow-list instead: what they need
to reach the cluster and Route hosts the way the service does, Ansible's own settings, the
variables ansible-runner adds itself, the names configured in ``run_env_passthrough``, and the
marker that ties every process of the run to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from litemaas_controller.runner.procs import MARKER

ALWAYS = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL", "TERM",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_PROXY",
        "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "VIRTUAL_ENV", "PYTHONPATH",
    }
)  # fmt: skip
PREFIXES = ("ANSIBLE_", "LC_")
#: never handed to a run, whatever ``run_env_passthrough`` says
NEVER = frozenset({"LITEMAAS_WEBHOOK_SECRET", "LITEMAAS_API_TOKEN"})
PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def run_environment(
    runner_env: Mapping[str, str],
    service_env: Mapping[str, str],
    passthrough: Iterable[str],
    marker: str,
    kubeconfig: str | None,
) -> dict[str, str]:
    """Filter ansible-runner's prepared ``runner_env`` down to what a run may see."""
    keep = set(ALWAYS) | set(passthrough)
    env = {
        k: v
        for k, v in runner_env.items()
        if k in keep
        or k.startswith(PREFIXES)
        or service_env.get(k) != v  # set by ansible-runner itself, not inherited
    }
    env = {
        k: v
        for k, v in env.items()
        if k not in NEVER and (not k.startswith("LITEMAAS_") or k in keep)
    }
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    env[MARKER] = marker
    return env


def proxy_urls(env: Mapping[str, str]) -> list[str]:
    return [env[n] for n in PROXY_NAMES if env.get(n)]
