"""Which vars an order may set: from the role's argument_specs, its only source."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from litemaas_controller.errors import ConfigError
from litemaas_controller.role.order_vars import DECIDED, from_argument_specs, load_order_vars

pytestmark = pytest.mark.unit

REPO_SPECS = (
    Path(__file__).resolve().parents[3] / "roles/ocp4_workload_litemaas/meta/argument_specs.yml"
)

SPECS = """
argument_specs:
  main:
    options:
      ocp4_workload_litemaas_version: {type: str}
      ocp4_workload_litemaas_deploy_backend: {type: bool}
      ocp4_workload_litemaas_postgres_password: {type: str, no_log: true}
      ocp4_workload_litemaas_oauth_client_secret: {type: str}
      ocp4_workload_litemaas_namespace: {type: str}
      _ocp4_workload_litemaas_private_map: {type: dict}
"""


def test_argument_specs_split_into_allowed_secret_and_decided(tmp_path: Path) -> None:
    path = tmp_path / "argument_specs.yml"
    path.write_text(SPECS)
    catalogue = from_argument_specs(path)
    assert catalogue.allowed == {
        "ocp4_workload_litemaas_version": "string",
        "ocp4_workload_litemaas_deploy_backend": "boolean",
    }
    assert catalogue.secret == {
        "ocp4_workload_litemaas_postgres_password",  # no_log
        "ocp4_workload_litemaas_oauth_client_secret",  # by its name
    }


def test_a_missing_file_is_a_config_error_that_says_where_it_looked(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yml"
    with pytest.raises(ConfigError, match="LITEMAAS_ARGUMENT_SPECS") as refused:
        load_order_vars(absent)
    assert str(absent) in refused.value.message


def test_the_roles_own_specs_allow_every_public_role_var_and_nothing_decided() -> None:
    options = yaml.safe_load(REPO_SPECS.read_text())["argument_specs"]["main"]["options"]
    catalogue = load_order_vars(REPO_SPECS)
    assert not set(catalogue.allowed) & (catalogue.secret | DECIDED)
    # the variable the built-in copy of 0.1.2's list had lost
    assert "ocp4_workload_litemaas_wait_timeout" in catalogue.allowed
    public = {n for n in options if n.startswith("ocp4_workload_litemaas_")} - DECIDED
    assert set(catalogue.allowed) | catalogue.secret == public


def test_a_broken_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "argument_specs.yml"
    path.write_text("argument_specs: [1, 2]\n")
    with pytest.raises(ConfigError):
        from_argument_specs(path)


@pytest.mark.skipif(not REPO_SPECS.exists(), reason="the collection's role is not in this tree")
def test_the_roles_own_specs_refuse_every_no_log_var() -> None:
    options = yaml.safe_load(REPO_SPECS.read_text())["argument_specs"]["main"]["options"]
    catalogue = from_argument_specs(REPO_SPECS)
    for name, spec in options.items():
        if (spec or {}).get("no_log"):
            assert name in catalogue.secret
            assert name not in catalogue.allowed
    assert not set(catalogue.allowed) & DECIDED
