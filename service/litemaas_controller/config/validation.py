"""Typing and checking of settings values; every failure names the setting and its env var."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litemaas_controller.config.healing import parse_budget, parse_mode
from litemaas_controller.config.settings import Settings, env_name
from litemaas_controller.config.upstream_allow import check_entry
from litemaas_controller.errors import ConfigError


def _type_name(f: dataclasses.Field[Any]) -> str:
    return str(f.type).replace(" ", "")


def _expected(kind: str) -> str:
    return "a finite number" if kind.startswith("float") else f"of type {kind}"


def coerce_value(f: dataclasses.Field[Any], raw: Any) -> Any:
    """Turn a string (env, flag) or YAML value into the field's type; ``ConfigError`` if not."""
    kind = _type_name(f)
    try:
        if raw is None:
            return None
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            if not math.isfinite(number := float(raw)):  # inf, 1e400, nan: no duration
                raise ValueError(raw)
            return number
        if kind.startswith("Path"):
            # absolute: runs execute in their own private dirs, where a relative path breaks
            return Path(str(raw)).expanduser().absolute()
        if f.name == "kubeconfig":
            # a list like KUBECONFIG's; absolute, since runs do not share the service's cwd
            return os.pathsep.join(
                os.path.abspath(os.path.expanduser(p)) for p in str(raw).split(os.pathsep) if p
            )
        if kind.startswith("tuple"):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"setting {f.name} ({env_name(f)}) must be {_expected(kind)}, got {raw!r}"
            if not f.metadata["secret"]
            else f"setting {f.name} ({env_name(f)}) has the wrong type"
        ) from exc


def _check_listen(s: Settings) -> None:
    host, sep, port = s.listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"LITEMAAS_LISTEN must be host:port (for example 127.0.0.1:8080), got {s.listen!r}"
        )


def _check_positive(s: Settings) -> None:
    for name in (
        "max_concurrent_runs",
        "run_timeout",
        "max_body_bytes",
        "signature_window",
        "redis_max_deliveries",
        "redis_claim_idle",
        "prune_interval",
        "resync_period",
        "tombstone_retention",
        "repair_backoff",
        "repair_backoff_max",
        "repair_wait_timeout",
        "ui_session_ttl",
        *s.retentions,
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"LITEMAAS_{name.upper()} must be greater than 0")
    for name in ("kill_grace", "drain_grace", "health_grace"):
        if getattr(s, name) < 0:
            raise ConfigError(f"LITEMAAS_{name.upper()} must not be negative")


def _check_auth(s: Settings) -> None:
    if not s.webhook_secret and not s.api_token:
        raise ConfigError(
            "set LITEMAAS_WEBHOOK_SECRET or LITEMAAS_API_TOKEN (or both): without either, "
            "nobody could send an order"
        )
    for name in ("webhook_secret", "api_token"):
        value = getattr(s, name)
        if value is not None and len(value) < 16:
            raise ConfigError(f"LITEMAAS_{name.upper()} must be at least 16 characters long")


def _check_paths(s: Settings) -> None:
    for name in ("deploy_litemaas.yml", "remove_litemaas.yml"):
        if not (s.playbook_dir / name).is_file():
            raise ConfigError(
                f"LITEMAAS_PLAYBOOK_DIR={s.playbook_dir} has no {name}; point it at the "
                "collection's playbooks/ directory"
            )
    # the message intake runs these two; without it they are not needed
    for name in ("register_model.yml", "rotate_keys.yml") if s.redis_url else ():
        if not (s.playbook_dir / name).is_file():
            raise ConfigError(
                f"LITEMAAS_PLAYBOOK_DIR={s.playbook_dir} has no {name}, which model-change "
                "messages run (LITEMAAS_REDIS_URL is set)"
            )
    if s.argument_specs is not None and not s.argument_specs.is_file():
        raise ConfigError(f"LITEMAAS_ARGUMENT_SPECS={s.argument_specs} does not exist")


def _check_log_level(s: Settings) -> None:
    if not isinstance(logging.getLevelName(s.log_level.upper()), int):
        raise ConfigError(
            f"LITEMAAS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {s.log_level!r}"
        )


def _check_ui_scheme(s: Settings) -> None:
    if s.ui_scheme not in ("https", "http"):
        raise ConfigError(f"LITEMAAS_UI_SCHEME must be https or http, got {s.ui_scheme!r}")


def _check_retention(s: Settings) -> None:
    # a tombstone must outlive what it stands for, or an old id could run a second time
    longer = [n for n, v in s.retentions.items() if v >= s.tombstone_retention]
    if longer:
        raise ConfigError(
            "LITEMAAS_TOMBSTONE_RETENTION must be longer than every other retention; raise it "
            f"above {', '.join(f'LITEMAAS_{n.upper()}' for n in longer)}"
        )


def _check_upstream_allow(s: Settings) -> None:
    for entry in s.upstream_allow:
        try:
            check_entry(entry)
        except ValueError as exc:
            raise ConfigError(f"LITEMAAS_UPSTREAM_ALLOW: {exc}") from exc


def _check_healing(s: Settings) -> None:
    parse_mode(s.healing)
    parse_budget(s.repair_budget)
    if s.repair_backoff_max < s.repair_backoff:
        raise ConfigError("LITEMAAS_REPAIR_BACKOFF_MAX must not be below LITEMAAS_REPAIR_BACKOFF")


#: <namespace>/<name>: two DNS labels (a ServiceAccount name may also hold dots)
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?")


def _check_service_account(s: Settings) -> None:
    if s.service_account is not None and not _SERVICE_ACCOUNT.fullmatch(s.service_account):
        raise ConfigError(
            "LITEMAAS_SERVICE_ACCOUNT must be <namespace>/<serviceaccount> (for example "
            f"litemaas-controller/litemaas-controller), got {s.service_account!r}"
        )


#: a DNS-1123 subdomain, as a pod name (Lease holder identities and process markers carry it)
_REPLICA = re.compile(r"[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?")


def _check_replica(s: Settings) -> None:
    if not _REPLICA.fullmatch(s.replica):
        raise ConfigError(
            "LITEMAAS_REPLICA must be a DNS subdomain (lower-case letters, digits, '-' and '.', "
            "at most 253 characters), such as the pod's name"
        )


def _check_leader(s: Settings) -> None:
    """client-go's order: a leader gives up (renew deadline) before its Lease runs out, and tries
    more than once within the deadline; the Lease lives in the controller's own namespace."""
    if not 0 < s.leader_retry_period < s.leader_renew_deadline < s.leader_lease_duration:
        raise ConfigError(
            "the leader timings must be LITEMAAS_LEADER_RETRY_PERIOD < "
            "LITEMAAS_LEADER_RENEW_DEADLINE < LITEMAAS_LEADER_LEASE_DURATION, all above 0"
        )
    in_cluster = s.kubeconfig or os.environ.get("KUBERNETES_SERVICE_HOST")
    if s.shared_ledger and in_cluster and s.healing != "off" and not s.namespace:
        raise ConfigError(
            "set LITEMAAS_NAMESPACE: with a PostgreSQL ledger the replicas elect the leader of "
            "the cluster watch with a Lease in the controller's own namespace"
        )


def _check_run_lease(s: Settings) -> None:
    """A run's lease survives a missed heartbeat: two beats fit in it."""
    if not 0 < s.run_heartbeat * 2 < s.run_lease:
        raise ConfigError(
            "LITEMAAS_RUN_HEARTBEAT must be above 0, and LITEMAAS_RUN_LEASE more than twice it"
        )


def _check_ledger_url(s: Settings) -> None:
    """sqlite:///path or postgresql://..., never with a password (the URL shows in process
    listings and logs); nothing of a refused URL is echoed."""
    if s.ledger_url is None:
        return
    try:
        url = urlsplit(s.ledger_url)
        password = url.password
    except ValueError:
        raise ConfigError("LITEMAAS_LEDGER_URL is not a URL") from None
    if url.scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError("LITEMAAS_LEDGER_URL must start with sqlite:/// or postgresql://")
    if url.scheme == "sqlite" and (url.netloc or not url.path.startswith("/")):
        raise ConfigError(
            "LITEMAAS_LEDGER_URL must be sqlite:// and the file's absolute path "
            "(sqlite:///var/lib/litemaas/ledger.sqlite3)"
        )
    if password is not None or "password" in parse_qs(url.query):
        raise ConfigError(
            "LITEMAAS_LEDGER_URL must not hold a password: put it in the file named by "
            "LITEMAAS_LEDGER_PASSWORD_FILE (or libpq's PGPASSWORD / PGPASSFILE)"
        )


def validate_settings(s: Settings) -> Settings:
    """Raise ``ConfigError`` naming the first bad setting; return ``s`` when all are good."""
    _check_listen(s)
    _check_positive(s)
    _check_retention(s)
    _check_auth(s)
    _check_paths(s)
    _check_log_level(s)
    _check_upstream_allow(s)
    _check_healing(s)
    _check_ui_scheme(s)
    _check_service_account(s)
    _check_replica(s)
    _check_ledger_url(s)
    _check_leader(s)
    _check_run_lease(s)
    return s
