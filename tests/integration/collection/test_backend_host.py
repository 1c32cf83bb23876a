"""The backend without the frontend: its OAuth callback host has a Route, its URL is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import assert_ok, deploy, new_namespace

pytestmark = pytest.mark.integration


def test_backend_alone_gets_the_callback_host_and_reports_its_url(
    sandbox_aws: Sandbox, module_workdir: Path
) -> None:
    ns, kube = new_namespace(), sandbox_aws.kube()
    run = deploy(
        sandbox_aws,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
        ocp4_workload_litemaas_oauth_enabled=True,
    )
    try:
        assert_ok(run)
        url = f"https://litemaas-{ns}.{sandbox_aws.domain}"
        client = kube.get(f"/apis/oauth.openshift.io/v1/oauthclients/litemaas-{ns}")
        assert client["redirectURIs"] == [f"{url}/api/auth/callback"]
        route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litemaas")
        assert route is not None, "the OAuth callback host has no Route"
        assert f"https://{route['spec']['host']}" == url
        assert route["spec"]["to"] == {"kind": "Service", "name": "backend", "weight": 100}
        assert kube.get(f"/api/v1/namespaces/{ns}/services/frontend") is None

        assert run.set_stats["litemaas"]["backend_url"] == url
        (user_info,) = run.task_results("agnosticd_user_info")
        assert user_info["data"]["litemaas_backend_url"] == url
        assert f"LiteMaaS Backend: {url} (API under /api/v1)" in "\n".join(user_info["msg"])
    finally:
        kube.delete(f"/apis/oauth.openshift.io/v1/oauthclients/litemaas-{ns}")
        kube.delete(f"/api/v1/namespaces/{ns}")
