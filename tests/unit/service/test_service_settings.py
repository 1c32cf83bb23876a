"""Settings: sources in order, validation messages that name the setting, secrets kept quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from litemaas_controller.cli.serve_cmd import settings_table
from litemaas_controller.config import load_settings
from litemaas_controller.config.settings import setting_fields
from litemaas_controller.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    for name in ("deploy_litemaas.yml", "remove_litemaas.yml"):
        (tmp_path / name).touch()
    return tmp_path


def env(playbooks: Path, **extra: str) -> dict[str, str]:
    return {"LITEMAAS_PLAYBOOK_DIR": str(playbooks), "LITEMAAS_API_TOKEN": "t" * 20, **extra}


def test_defaults_and_environment(playbooks: Path) -> None:
    s = load_settings(
        environ=env(
            playbooks,
            LITEMAAS_MAX_CONCURRENT_RUNS="3",
            KUBECONFIG="/k",
            LITEMAAS_RUN_ENV_PASSTHROUGH="A, B",
            LITEMAAS_SERVICE_ACCOUNT="litemaas-controller/litemaas-controller",
            LITEMAAS_REPLICA="litemaas-controller-7d9f-x2x4q",
        )
    )
    assert s.replica == "litemaas-controller-7d9f-x2x4q"
    assert s.listen == "127.0.0.1:8080" and s.host_port == ("127.0.0.1", 8080)
    assert s.max_concurrent_runs == 3 and s.kubeconfig == "/k"
    assert s.run_env_passthrough == ("A", "B")
    assert s.service_account == "litemaas-controller/litemaas-controller"


def test_flags_beat_environment_beats_file(playbooks: Path, tmp_path: Path) -> None:
    config = tmp_path / "settings.yml"
    config.write_text("run_timeout: 10\ndrain_grace: 7\nlisten: 0.0.0.0:9000\n")
    s = load_settings(
        overrides={"listen": "127.0.0.1:1"},
        environ=env(playbooks, LITEMAAS_RUN_TIMEOUT="20"),
        config_file=config,
    )
    assert (s.listen, s.run_timeout, s.drain_grace) == ("127.0.0.1:1", 20.0, 7.0)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"LITEMAAS_LISTEN": "nowhere"}, "LITEMAAS_LISTEN"),
        ({"LITEMAAS_MAX_CONCURRENT_RUNS": "0"}, "LITEMAAS_MAX_CONCURRENT_RUNS"),
        ({"LITEMAAS_RUN_TIMEOUT": "soon"}, "LITEMAAS_RUN_TIMEOUT"),
        ({"LITEMAAS_API_TOKEN": "short"}, "at least 16"),
        ({"LITEMAAS_LOG_LEVEL": "LOUD"}, "LITEMAAS_LOG_LEVEL"),
        ({"LITEMAAS_PLAYBOOK_DIR": "/nonexistent"}, "deploy_litemaas.yml"),
        ({"LITEMAAS_SERVICE_ACCOUNT": "litemaas-controller"}, "LITEMAAS_SERVICE_ACCOUNT"),
        ({"LITEMAAS_SERVICE_ACCOUNT": "ns/sa/extra"}, "LITEMAAS_SERVICE_ACCOUNT"),
        ({"LITEMAAS_REPLICA": "Replica_1"}, "LITEMAAS_REPLICA"),
        ({"LITEMAAS_REPLICA": "r1\nX-Injected: 1"}, "LITEMAAS_REPLICA"),
        ({"LITEMAAS_REPLICA": "r" * 254}, "LITEMAAS_REPLICA"),
        # a lease that never runs out would leave a dead replica's runs unclaimed for good
        ({"LITEMAAS_RUN_LEASE": "inf"}, "LITEMAAS_RUN_LEASE"),
        ({"LITEMAAS_RUN_LEASE": "1e400"}, "LITEMAAS_RUN_LEASE"),
        ({"LITEMAAS_RUN_LEASE": "nan"}, "LITEMAAS_RUN_LEASE"),
        ({"LITEMAAS_RUN_HEARTBEAT": "-inf"}, "LITEMAAS_RUN_HEARTBEAT"),
        ({"LITEMAAS_RUN_HEARTBEAT": "10; rm -rf /"}, "LITEMAAS_RUN_HEARTBEAT"),
        ({"LITEMAAS_RUN_HEARTBEAT": "-5"}, "LITEMAAS_RUN_HEARTBEAT"),
        ({"LITEMAAS_LEADER_LEASE_DURATION": "inf"}, "LITEMAAS_LEADER_LEASE_DURATION"),
        ({"LITEMAAS_RUN_TIMEOUT": "Infinity"}, "LITEMAAS_RUN_TIMEOUT"),
    ],
)
def test_invalid_settings_name_the_setting(
    playbooks: Path, extra: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(environ=env(playbooks, **extra))


def test_some_credential_is_required(playbooks: Path) -> None:
    with pytest.raises(ConfigError, match="LITEMAAS_WEBHOOK_SECRET or LITEMAAS_API_TOKEN"):
        load_settings(environ={"LITEMAAS_PLAYBOOK_DIR": str(playbooks)})


def test_unknown_file_settings_are_refused(playbooks: Path, tmp_path: Path) -> None:
    config = tmp_path / "s.yml"
    config.write_text("listne: 1.2.3.4:5\n")
    with pytest.raises(ConfigError, match="listne"):
        load_settings(environ=env(playbooks), config_file=config)


def test_secrets_stay_out_of_repr_and_errors(playbooks: Path) -> None:
    s = load_settings(environ=env(playbooks, LITEMAAS_WEBHOOK_SECRET="w" * 30))
    assert "w" * 30 not in repr(s) and "t" * 20 not in repr(s)
    assert set(s.secret_values) == {"w" * 30, "t" * 20}


def test_every_setting_is_documented_in_the_help_table() -> None:
    table = settings_table()
    for f in setting_fields():
        assert f.metadata["help"]
        assert (f.metadata["env"] or f"LITEMAAS_{f.name.upper()}") in table


def test_the_configuration_page_documents_every_setting() -> None:
    section = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    for f in setting_fields():
        assert f"`{f.metadata['env'] or f'LITEMAAS_{f.name.upper()}'}`" in section


def test_relative_paths_become_absolute(
    playbooks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ=env(playbooks, LITEMAAS_STATE_DIR="state", KUBECONFIG="kc:/abs/kc"))
    assert s.state_dir == tmp_path / "state"
    assert s.kubeconfig == f"{tmp_path / 'kc'}:/abs/kc"


def test_tombstones_must_outlive_every_other_retention(playbooks: Path) -> None:
    s = load_settings(environ=env(playbooks, LITEMAAS_ORDER_RETENTION="60"))
    assert s.order_retention == 60 and s.tombstone_retention > s.stream_retention
    with pytest.raises(ConfigError, match="LITEMAAS_STREAM_RETENTION"):
        load_settings(environ=env(playbooks, LITEMAAS_TOMBSTONE_RETENTION="3600"))
    with pytest.raises(ConfigError, match="LITEMAAS_EVENT_RETENTION must be greater than 0"):
        load_settings(environ=env(playbooks, LITEMAAS_EVENT_RETENTION="0"))


def test_the_ledger_url_is_sqlite_or_postgresql_without_a_password(playbooks: Path) -> None:
    for url in (
        "sqlite:////var/lib/ledger.sqlite3",
        "postgresql://ctl@db:5432/ledger?sslmode=require",
    ):
        assert load_settings(environ=env(playbooks, LITEMAAS_LEDGER_URL=url)).ledger_url == url
    refused = {
        "mysql://ctl@db/ledger": "must start with sqlite:/// or postgresql://",
        "sqlite://ledger.sqlite3": "absolute path",
        "postgresql://ctl:pw-canary-41@db/ledger": "must not hold a password",
        "postgres://ctl@db/ledger?password=pw-canary-41": "must not hold a password",
    }
    for url, why in refused.items():
        with pytest.raises(ConfigError, match=why) as bad:
            load_settings(environ=env(playbooks, LITEMAAS_LEDGER_URL=url))
        assert "pw-canary-41" not in str(bad.value)


def test_leader_timings_are_client_gos_and_keep_their_order(playbooks: Path) -> None:
    s = load_settings(environ=env(playbooks))
    assert (s.leader_lease_duration, s.leader_renew_deadline, s.leader_retry_period) == (15, 10, 2)
    for bad in ({"LITEMAAS_LEADER_RENEW_DEADLINE": "15"}, {"LITEMAAS_LEADER_RETRY_PERIOD": "10"},
                {"LITEMAAS_LEADER_RETRY_PERIOD": "0"}):  # fmt: skip
        with pytest.raises(ConfigError, match="LITEMAAS_LEADER_RETRY_PERIOD < "):
            load_settings(environ=env(playbooks, **bad))


def test_a_runs_lease_outlasts_two_heartbeats(playbooks: Path) -> None:
    s = load_settings(environ=env(playbooks))
    assert (s.run_heartbeat, s.run_lease) == (10, 60)
    tight = {"LITEMAAS_RUN_HEARTBEAT": "30", "LITEMAAS_RUN_LEASE": "60"}
    assert load_settings(environ=env(playbooks, LITEMAAS_RUN_HEARTBEAT="29")).run_heartbeat == 29
    for bad in (tight, {"LITEMAAS_RUN_HEARTBEAT": "0"}):
        with pytest.raises(ConfigError, match="LITEMAAS_RUN_LEASE more than twice"):
            load_settings(environ=env(playbooks, **bad))


def test_a_postgresql_ledger_watching_a_cluster_needs_the_namespace_of_its_lease(
    playbooks: Path,
) -> None:
    shared = {"LITEMAAS_LEDGER_URL": "postgresql://litemaas@db:5432/ledger", "KUBECONFIG": "/k"}
    with pytest.raises(ConfigError, match="set LITEMAAS_NAMESPACE"):
        load_settings(environ=env(playbooks, **shared))
    assert load_settings(environ=env(playbooks, **shared, LITEMAAS_NAMESPACE="ctl")).shared_ledger
    # no watch, or one replica: no Lease
    load_settings(environ=env(playbooks, **shared, LITEMAAS_HEALING="off"))
    assert not load_settings(environ=env(playbooks, KUBECONFIG="/k")).shared_ledger
