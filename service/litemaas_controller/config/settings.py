"""The service's settings: one dataclass, every field documented, validated at start-up.

Sources, later ones winning: the defaults below, a YAML file (``--config`` / ``LITEMAAS_CONFIG``),
the environment (``LITEMAAS_<FIELD>``, ``KUBECONFIG``), then command-line flags.  The ``help`` text
of each field is the documentation shown by ``serve --help`` and in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litemaas_controller.config.paths import default_playbook_dir, default_state_dir

DAY = 86400.0


def _doc(help_: str, *, env: str | None = None, secret: bool = False) -> dict[str, Any]:
    return {"help": help_, "env": env, "secret": secret}


@dataclass(frozen=True)
class Settings:
    """Everything ``litemaas-controller serve`` can be told."""

    listen: str = field(
        default="127.0.0.1:8080",
        metadata=_doc("host:port the HTTP API listens on (port 0 picks a free port)."),
    )
    webhook_secret: str | None = field(
        default=None,
        repr=False,
        metadata=_doc(
            "Shared secret for HMAC-SHA256 signed orders (X-Litemaas-Signature). Never logged.",
            secret=True,
        ),
    )
    api_token: str | None = field(
        default=None,
        repr=False,
        metadata=_doc(
            "Bearer token for every /api/v1 endpoint (and an alternative to signing orders).",
            secret=True,
        ),
    )
    state_dir: Path = field(
        default_factory=default_state_dir,
        metadata=_doc(
            "Directory for the ledger (ledger.sqlite3) and the per-run private dirs; created "
            "owner-only (0700), the ledger file 0600."
        ),
    )
    # --- the ledger's store (docs/ledger.md) ------------------------------------------------------
    ledger_url: str | None = field(
        default=None,
        metadata=_doc(
            "Where the ledger is: unset or sqlite:// and an absolute path (SQLite; unset: "
            "ledger.sqlite3 in the state dir), or postgresql://user@host:port/database "
            "(PostgreSQL, its schema migrated at start). Never with a password in it: see "
            "LITEMAAS_LEDGER_PASSWORD_FILE."
        ),
    )
    ledger_password_file: Path | None = field(
        default=None,
        metadata=_doc(
            "File holding the PostgreSQL ledger's password (unset: libpq's own PGPASSWORD or "
            "PGPASSFILE). Never logged."
        ),
    )
    playbook_dir: Path = field(
        default_factory=default_playbook_dir,
        metadata=_doc(
            "Directory holding deploy_litemaas.yml and remove_litemaas.yml "
            "(default: the collection's playbooks/)."
        ),
    )
    argument_specs: Path | None = field(
        default=None,
        metadata=_doc(
            "The role's meta/argument_specs.yml that lists the variables an order may set "
            "(default: ../roles/ocp4_workload_litemaas/meta/argument_specs.yml beside the "
            "playbooks; the built-in 0.1.2 list when absent)."
        ),
    )
    kubeconfig: str | None = field(
        default=None,
        metadata=_doc(
            "Kubeconfig for the service and its runs; unset: in-cluster configuration.",
            env="KUBECONFIG",
        ),
    )
    namespace: str | None = field(
        default=None,
        metadata=_doc(
            "The controller's own namespace. In a pod: set from the downward API "
            "(fieldRef metadata.namespace), else its service account's namespace file; "
            "outside a cluster: this setting only."
        ),
    )
    service_account: str | None = field(
        default=None,
        metadata=_doc(
            "<namespace>/<name> of the ServiceAccount the controller runs as in a cluster (the "
            "install sets it): every deploy binds it to the ClusterRole "
            "litemaas-controller-instance in the instance's namespace. Unset: no binding."
        ),
    )
    replica: str = field(
        default_factory=lambda: socket.gethostname().lower(),
        metadata=_doc(
            "This replica's name among the controllers sharing a ledger (default: the host name, "
            "in a pod its name): it names the replica in its runs' process markers and holds the "
            "leader Lease. Unique per replica; a DNS subdomain."
        ),
    )
    max_concurrent_runs: int = field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        metadata=_doc("Global cap on playbook runs in flight (default: the CPU count)."),
    )
    run_timeout: float = field(
        default=3600.0,
        metadata=_doc("Seconds a run may take before its whole process tree is ended (timeout)."),
    )
    kill_grace: float = field(
        default=5.0,
        metadata=_doc(
            "Seconds between SIGTERM and SIGKILL when a run is cancelled or times out, and after "
            "SIGKILL before a process still there is reported as one that could not be ended."
        ),
    )
    drain_grace: float = field(
        default=30.0,
        metadata=_doc(
            "On SIGTERM: seconds to let runs in flight finish before they are cancelled "
            "(their orders are queued again on the next start)."
        ),
    )
    max_body_bytes: int = field(
        default=65536,
        metadata=_doc("Largest order body accepted, in bytes (413 above it)."),
    )
    signature_window: float = field(
        default=300.0,
        metadata=_doc("Seconds a signed request's X-Litemaas-Timestamp stays valid (either way)."),
    )
    run_env_passthrough: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Extra environment variable names passed to runs, comma-separated (proxy, CA, "
            "KUBECONFIG, PATH, HOME, LANG and ANSIBLE_* always are)."
        ),
    )
    redis_url: str | None = field(
        default=None,
        repr=False,
        metadata=_doc(
            "Redis for model-change messages (redis://[:password@]host:port/db); unset: no "
            "message intake. The controller's own Redis, never LiteMaaS's (it flushes its "
            "Redis); run it with appendonly yes and appendfsync always. Never logged.",
            secret=True,
        ),
    )
    redis_stream: str = field(
        default="litemaas:changes",
        metadata=_doc("Stream of model-change messages."),
    )
    redis_dead_letter_stream: str = field(
        default="litemaas:changes:dead",
        metadata=_doc("Stream that receives invalid messages and those that keep failing."),
    )
    redis_group: str = field(
        default="litemaas-controller",
        metadata=_doc("Consumer group of the controller on the message stream."),
    )
    redis_consumer: str = field(
        default_factory=socket.gethostname,
        metadata=_doc("This process's consumer name in the group (default: the host name)."),
    )
    redis_max_deliveries: int = field(
        default=5,
        metadata=_doc(
            "Deliveries of a message whose run fails transiently, or whose admission raises, "
            "before it goes to the dead-letter stream (a permanent failure goes at once)."
        ),
    )
    redis_claim_idle: float = field(
        default=60.0,
        metadata=_doc(
            "Seconds a message may stay unacknowledged without its consumer renewing it before "
            "it is delivered again (claimed from a dead consumer, or retried after a failed run)."
        ),
    )
    upstream_allow: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Where a model.upsert's api_base may point, comma-separated: host names, domains "
            "(*.example.com or .example.com: any name under it), IP addresses or CIDR networks "
            "(names are not resolved). A message outside it is dead-lettered and the module "
            "refuses it too. Unset: any host."
        ),
    )
    # --- health: the cluster watch (docs/health.md) ---------------------------------------------
    resync_period: float = field(
        default=600.0,
        metadata=_doc(
            "Seconds between two full relists of every watched kind, which catch what a missed "
            "watch event would hide."
        ),
    )
    health_grace: float = field(
        default=60.0,
        metadata=_doc(
            "Seconds a fault must last before the instance counts as failed (a pod starting or "
            "a probe failing once is not a failure)."
        ),
    )
    # --- healing: the repair policy (docs/repair-policy.md) --------------------------------------
    healing: str = field(
        default="repair",
        metadata=_doc(
            "repair: watch the instances and repair failed ones within the budget; observe: "
            "watch and keep their health only (no repair unless a person asks); off: no watch."
        ),
    )
    repair_budget: str = field(
        default="3/30m",
        metadata=_doc(
            "Repairs the controller orders for one instance at most, per window: attempts/window "
            "with a unit s, m or h (3/30m: 3 per 30 minutes). Spent: the instance is degraded."
        ),
    )
    repair_backoff: float = field(
        default=30.0,
        metadata=_doc(
            "Seconds before the second repair of a failure; each further one waits twice as "
            "long (up to LITEMAAS_REPAIR_BACKOFF_MAX), less a random part of up to a half."
        ),
    )
    repair_backoff_max: float = field(
        default=600.0,
        metadata=_doc("Longest wait in seconds between two repairs of one instance."),
    )
    repair_wait_timeout: int = field(
        default=300,
        metadata=_doc(
            "Seconds a repair run waits for the instance to be ready again before it fails "
            "(ocp4_workload_litemaas_repair_wait_timeout; shorter than a deploy's wait)."
        ),
    )
    # --- leader election among replicas on a PostgreSQL ledger (docs/replicas.md) ---------------
    leader_lease_duration: float = field(
        default=15.0,
        metadata=_doc(
            "Seconds the leader Lease lasts past its last renewal: how long the other replicas "
            "wait before they take over from a leader that went away without releasing it."
        ),
    )
    leader_renew_deadline: float = field(
        default=10.0,
        metadata=_doc(
            "Seconds the leader keeps trying to renew the Lease before it stops leading (the "
            "watch and automatic repairs); shorter than LITEMAAS_LEADER_LEASE_DURATION."
        ),
    )
    leader_retry_period: float = field(
        default=2.0,
        metadata=_doc(
            "Seconds between two tries to take or renew the Lease; shorter than "
            "LITEMAAS_LEADER_RENEW_DEADLINE."
        ),
    )
    # --- run ownership among replicas sharing a ledger (docs/replicas.md) -------------------------
    run_heartbeat: float = field(
        default=10.0,
        metadata=_doc(
            "Seconds between two renewals of the lease of each run this replica runs, and between "
            "two sweeps for runs whose lease ran out (their replica died)."
        ),
    )
    run_lease: float = field(
        default=60.0,
        metadata=_doc(
            "Seconds a run's lease lasts past its last renewal (on the ledger's clock): how long "
            "the other replicas wait before they queue again the order of a replica that died; "
            "more than twice LITEMAAS_RUN_HEARTBEAT."
        ),
    )
    # --- retention: nothing grows without bound -------------------------------------------------
    event_retention: float = field(
        default=30 * DAY,
        metadata=_doc("Seconds the events of a finished run are kept (default 30 days)."),
    )
    audit_retention: float = field(
        default=180 * DAY,
        metadata=_doc("Seconds audit entries are kept (default 180 days)."),
    )
    order_retention: float = field(
        default=30 * DAY,
        metadata=_doc(
            "Seconds a finished order keeps its payload (vars, body, results, and its runs' "
            "vars and results); its id, body hash and status stay as a tombstone (default 30 "
            "days)."
        ),
    )
    dead_letter_retention: float = field(
        default=30 * DAY,
        metadata=_doc("Seconds entries stay on the dead-letter stream (default 30 days)."),
    )
    stream_retention: float = field(
        default=7 * DAY,
        metadata=_doc(
            "Seconds acknowledged entries stay on the message stream; pending and unread ones "
            "are never trimmed (default 7 days)."
        ),
    )
    tombstone_retention: float = field(
        default=400 * DAY,
        metadata=_doc(
            "Seconds order ids, message ids and dead-letter marks are remembered, so a retry of "
            "an old id is still a duplicate; longer than every other retention (default 400 "
            "days). Destroyed instances are forgotten after it too."
        ),
    )
    prune_interval: float = field(
        default=3600.0,
        metadata=_doc("Seconds between two prunings of the ledger and the streams."),
    )
    # --- the status page (docs/status-page.md) ---------------------------------------------------
    ui_scheme: str = field(
        default="https",
        metadata=_doc(
            "How people reach the status page (/ui/): https (its session cookie is Secure) or "
            "http (plain HTTP, as in the sandbox: the cookie is not Secure)."
        ),
    )
    ui_session_ttl: float = field(
        default=8 * 3600.0,
        metadata=_doc(
            "Seconds a status page login lasts before the page asks for the token again."
        ),
    )
    log_level: str = field(default="INFO", metadata=_doc("Python log level."))

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    @property
    def retentions(self) -> dict[str, float]:
        """Every retention but the tombstones', by setting name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name.endswith("_retention") and f.name != "tombstone_retention"
        }

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    @property
    def shared_ledger(self) -> bool:
        """A PostgreSQL ledger, which several replicas may share (they elect a leader)."""
        return (self.ledger_url or "").startswith(("postgresql:", "postgres:"))

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Values that must never appear in the ledger, a log line or a response."""
        return tuple(
            v
            for f in dataclasses.fields(self)
            if f.metadata["secret"] and (v := getattr(self, f.name))
        )


def env_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata["env"] or f"LITEMAAS_{f.name.upper()}")


def setting_fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)
