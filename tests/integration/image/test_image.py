"""The image the Containerfile describes, carried out into a directory (tests/containerfile/) and
run: the service's command, the collections it ships, a deploy against the sandbox."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import tomllib
import urllib.request
import uuid
from pathlib import Path

import pytest

import containerfile
from containerfile import Image
from sandbox import Sandbox

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
OCI = ("title", "description", "version", "source", "licenses", "vendor", "base.name")
#: the table of substitutions a build may make (containerfile.SUBSTITUTIONS describes each)
ALLOWED = {
    "FROM": re.compile(rf"^FROM {re.escape(containerfile.BASE_IMAGE)}:[\w.-]+( AS \w+)?$"),
    "package manager": containerfile.PACKAGE_MANAGER,
    "Galaxy download": containerfile.GALAXY_DOWNLOAD,
}


@pytest.fixture(scope="module")
def image() -> Image:
    return containerfile.build()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the pod's /tmp emptyDir is: Ansible's files go there, not into the cached image."""
    return tmp_path_factory.mktemp("image-tmp")


def run(image: Image, scratch: Path, *argv: str, env: dict[str, str] | None = None) -> str:
    writable = {
        "ANSIBLE_HOME": str(scratch / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(scratch / ".ansible" / "tmp"),
    }
    done = subprocess.run(
        [image.program(argv[0]), *argv[1:]],
        env={**image.host_env(), **writable, **(env or {})},
        cwd=image.host_path(image.workdir),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"{argv} exit {done.returncode}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    )
    return done.stdout


def test_only_listed_substitutions_were_made(image: Image) -> None:
    for line in image.substituted:
        instruction = line.removeprefix("RUN ")
        assert any(p.match(instruction) or p.match(line) for p in ALLOWED.values()), line
    assert len(containerfile.SUBSTITUTIONS) == len(ALLOWED)


def test_image_runs_the_service_as_a_non_root_user_with_oci_labels(
    image: Image, scratch: Path
) -> None:
    assert image.entrypoint == ["litemaas-controller", "serve"]
    assert image.user.isdigit() and int(image.user) != 0
    assert {f"org.opencontainers.image.{k}" for k in OCI} <= image.labels.keys()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert image.labels["org.opencontainers.image.version"] == version
    assert run(image, scratch, "litemaas-controller", "--version").strip() == version


def test_writable_directories_work_for_any_uid_in_group_0(image: Image) -> None:
    """OpenShift runs the image as an arbitrary UID with group 0: what it writes must be group 0
    with the group's bits equal to the owner's."""
    for variable in ("LITEMAAS_STATE_DIR", "ANSIBLE_COLLECTIONS_PATH"):
        top = image.host_path(image.env[variable])
        for path in [top, *top.rglob("*")]:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            assert info.st_gid == 0, path
            assert (info.st_mode >> 3) & 0o7 == (info.st_mode >> 6) & 0o7, path


def test_the_collections_resolve_from_the_image(image: Image, scratch: Path) -> None:
    docs = json.loads(run(image, scratch, "ansible-doc", "--json", "rhpds.litemaas.litellm_model",
                          "kubernetes.core.k8s"))  # fmt: skip
    for name in ("rhpds.litemaas.litellm_model", "kubernetes.core.k8s"):
        assert Path(docs[name]["doc"]["filename"]).is_relative_to(image.root), name
    # the install role and the manifests it applies ship in the collection
    role = json.loads(run(image, scratch, "ansible-doc", "--json", "-t", "role",
                          "rhpds.litemaas.litemaas_controller"))  # fmt: skip
    collection = Path(role["rhpds.litemaas.litemaas_controller"]["path"])
    assert collection.is_relative_to(image.root)
    assert (collection / "deploy" / "controller" / "kustomization.yaml").is_file()


def test_a_deploy_playbook_runs_from_the_image(
    image: Image, scratch: Path, sandbox_aws: Sandbox
) -> None:
    namespace = f"img-{uuid.uuid4().hex[:8]}"
    env = {**sandbox_aws.env(), "ANSIBLE_NOCOLOR": "1"}
    args = ["-e", f"ocp4_workload_litemaas_namespace={namespace}",
            "-e", "ocp4_workload_litemaas_user_info_secrets=false"]  # fmt: skip
    deployed = run(
        image, scratch, "ansible-playbook", "rhpds.litemaas.deploy_litemaas", *args, env=env
    )
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", deployed)
    assert sandbox_aws.kube().get(f"/apis/apps/v1/namespaces/{namespace}/deployments/litellm")
    removed = run(
        image, scratch, "ansible-playbook", "rhpds.litemaas.remove_litemaas", *args, env=env
    )
    assert "failed=0" in removed
    assert sandbox_aws.kube().get(f"/api/v1/namespaces/{namespace}") is None


def test_the_image_serves_with_the_playbooks_it_ships(
    image: Image, scratch: Path, sandbox_aws: Sandbox, tmp_path: Path
) -> None:
    """The entrypoint starts: the service finds the collection's playbooks and the role's
    argument specs inside the image (it refuses to start without them; its environment is the
    image's alone) and reports ready."""
    env = {
        **image.host_env(),
        "ANSIBLE_HOME": str(scratch / ".ansible"),
        "HOME": str(scratch),
        "LITEMAAS_LISTEN": "127.0.0.1:0",
        "LITEMAAS_STATE_DIR": str(tmp_path / "state"),  # the volume's place, not the cached image
        "LITEMAAS_API_TOKEN": "t" * 32,
        "LITEMAAS_HEALING": "off",
        "KUBECONFIG": str(sandbox_aws.kubeconfig),
    }
    log = tmp_path / "serve.log"
    with log.open("w") as errors:
        proc = subprocess.Popen(
            image.command(), env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, f"serve did not start: {line!r}\n{log.read_text()[-4000:]}"
        with urllib.request.urlopen(found.group(1) + "/readyz", timeout=30) as ready:
            assert json.loads(ready.read())["status"] == "ready"
        with urllib.request.urlopen(
            found.group(1) + "/api/v1/schemas/order.json", timeout=30
        ) as schema:
            assert "ocp4_workload_litemaas_version" in schema.read().decode()
    finally:
        proc.terminate()
        assert proc.wait(60) == 0
