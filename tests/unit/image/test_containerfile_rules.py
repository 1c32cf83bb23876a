"""The Containerfile runner refuses what it cannot carry out, before doing anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import containerfile
from containerfile import NotCarriedOut, carry_out, check

pytestmark = pytest.mark.unit

BASE = f"FROM {containerfile.BASE_IMAGE}:9.6"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{BASE}\nVOLUME /data\n", "VOLUME is not supported"),
        (f"{BASE}\nADD https://example.invalid/x.tgz /opt/x\n", "ADD is not supported"),
        (f"{BASE}\nHEALTHCHECK CMD true\n", "HEALTHCHECK is not supported"),
        ("FROM docker.io/library/python:3.11\n", "can be substituted"),
        (f"FROM {containerfile.BASE_IMAGE}:latest\n", "pinned by a tag"),
        ("ENV A=1\n", "first instruction must be FROM"),
        (f"{BASE}\nRUN cp x /opt/app-root/y\n", "names image paths ['/opt/app-root/y']"),
        (f"{BASE}\nRUN --mount=type=cache,target=/c pip install x\n", "shell form without flags"),
        (f"{BASE}\nCOPY --chown=1001:0 a b\n", "flag --chown=1001:0"),
        (f"{BASE}\nRUN dnf install -y httpd\n", "no Debian counterpart listed for ['httpd']"),
        (f"{BASE}\nENTRYPOINT litemaas-controller serve\n", "exec (JSON) form"),
    ],
)
def test_an_instruction_that_cannot_be_carried_out_stops_the_build(
    text: str, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(NotCarriedOut, match=re.escape(reason)):
        carry_out(text, tmp_path, tmp_path / "image")
    assert not (tmp_path / "image").exists()  # refused before any stage was made


def test_only_the_listed_substitutions_are_accepted() -> None:
    text = (
        f"{BASE}\n"
        "RUN microdnf install -y --nodocs git openssl-3.0.7 && microdnf clean all\n"
        'RUN ansible-galaxy collection install -p "$COLLECTIONS" "kubernetes.core:==6.2.0"\n'
        'RUN ansible-galaxy collection install -p "$COLLECTIONS" "community.okd:==4.0.0"\n'
    )
    with pytest.raises(NotCarriedOut, match="names image paths"):
        check(text.replace('"$COLLECTIONS"', "/opt/collections"))
    steps = check(text)  # the community.okd line is an ordinary RUN (and would fail to fetch)
    assert [s["instruction"] for s in steps] == ["FROM", "RUN", "RUN", "RUN"]
    assert containerfile.PACKAGE_MANAGER.match(steps[1]["value"])
    assert containerfile.GALAXY_DOWNLOAD.match(steps[2]["value"])
    assert not containerfile.GALAXY_DOWNLOAD.match(steps[3]["value"])


def test_image_paths_are_rerooted_and_system_paths_are_not(tmp_path: Path) -> None:
    value = "/opt/app-root/bin:/usr/bin:relative"
    assert (
        containerfile.reroot_value(tmp_path, value)
        == f"{tmp_path}/opt/app-root/bin:/usr/bin:relative"
    )


def test_the_repository_containerfile_passes_the_checks() -> None:
    steps = check(containerfile.CONTAINERFILE.read_text())
    assert [s["instruction"] for s in steps].count("FROM") == 2
