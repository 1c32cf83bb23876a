"""The role's defaults, argument_specs and the table of docs/collection.md describe the same
variables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "ocp4_workload_litemaas"

# Every variable of rhpds.litemaas 0.1.2 (ORIGINAL-COLLECTION.md), which users may still pass.
VARIABLES_0_1_2 = [
    "version",
    "namespace",
    "route_name",
    "image_registry",
    "backend_image",
    "frontend_image",
    "litellm_image",
    "litellm_tag",
    "cloud_provider",
    "postgres_version",
    "postgres_storage_size",
    "postgres_storage_class",
    "postgres_storage_access_mode",
    "postgres_password",
    "jwt_secret",
    "admin_api_key",
    "litellm_api_key",
    "litellm_ui_username",
    "litellm_ui_password",
    "oauth_enabled",
    "oauth_provider",
    "oauth_client_id",
    "oauth_client_secret",
    "admin_emails",
    "cluster_domain",
    "backend_memory_limit",
    "backend_cpu_limit",
    "frontend_memory_limit",
    "frontend_cpu_limit",
    "litellm_memory_limit",
    "litellm_cpu_limit",
    "remove",
    "deploy_frontend",
    "deploy_backend",
    "deploy_litellm",
]


def _spec() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]["options"]


def test_every_0_1_2_variable_and_the_new_ones_are_declared() -> None:
    options = _spec()
    for name in [*VARIABLES_0_1_2, "instance", "user_info_secrets"]:
        assert f"ocp4_workload_litemaas_{name}" in options, name
    for name in (
        "become_override",
        "ocp_username",
        "silent",
    ):
        assert name in options, name


def test_the_private_tables_are_role_vars_not_options() -> None:
    tables = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert tables["_ocp4_workload_litemaas_storage_class_map"]["aws"] == "gp3-csi"
    for name in tables:
        assert name.startswith("_") and name not in _spec() and name not in defaults, name


def test_defaults_match_the_argument_specs() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = _spec()
    for name, value in defaults.items():
        assert name in options, f"{name} has a default but no argument spec"
        assert options[name].get("default") == value, name
    for name, option in options.items():
        if "default" in option:
            assert name in defaults, f"{name} documents a default that defaults/main.yml lacks"
        assert option.get("description"), name


def test_secret_variables_are_no_log_and_default_to_generated() -> None:
    options = _spec()
    for name in (
        "postgres_password",
        "jwt_secret",
        "admin_api_key",
        "litellm_api_key",
        "litellm_ui_password",
        "oauth_client_secret",
    ):
        option = options[f"ocp4_workload_litemaas_{name}"]
        assert option.get("no_log") is True, name
        assert option.get("default") == "", name  # 0.1.2's lookup default was re-evaluated per use


def test_the_collection_page_lists_every_variable_with_its_default() -> None:
    section = (REPO / "docs" / "collection.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in section.splitlines()
        if line.startswith("| `")
    }
    for name, option in _spec().items():
        assert name in rows, f"docs/collection.md does not list {name}"
        default = option.get("default")
        if isinstance(default, bool):
            assert f"`{str(default).lower()}`" in rows[name], name
        elif isinstance(default, (str, int)):
            assert f"`{default}`" in rows[name] or (default == "" and '`""`' in rows[name]), name
