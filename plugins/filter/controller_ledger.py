# Copyright: litemaas-controller developers
# MIT License
"""The controller's ledger and its replica count, checked: role litemaas_controller.

Every value comes from the role's variables; a refusal names the variable and never repeats a
value that might carry a secret (the ledger URL)."""

import re
from urllib.parse import parse_qsl, urlsplit

from ansible.errors import AnsibleFilterError

#: the beside-PostgreSQL's names (deploy/controller/optional/postgresql.yaml)
BESIDE_NAME = "litemaas-controller-postgresql"
BESIDE_USER = "litemaas"
BESIDE_DATABASE = "litemaas_controller"
BESIDE_KEY = "password"

_KINDS = ("sqlite", "postgresql", "postgresql_beside")
_REPLICAS = re.compile(r"[0-9]{1,3}")
# a DNS-1123 subdomain (a Secret's name), and a Secret's data key
_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# registry[:port]/path[:tag][@digest], as the distribution reference grammar has it (lowercase path)
_IMAGE = re.compile(
    r"([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:[0-9]{1,5})?/)?"
    r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?"
)
#: the image's repository (its last path part) -> how its files and variables are laid out
_LAYOUTS = (
    (re.compile(r"postgres"), "postgres"),
    (re.compile(r"postgresql-[0-9]+(-[a-z0-9]+)*"), "sclorg"),
)
#: settings the ledger variables decide (in litemaas_controller_settings they dodge the checks)
_DECIDED = ("LITEMAAS_LEDGER_URL", "LITEMAAS_LEDGER_PASSWORD_FILE")


def _refuse(message):
    raise AnsibleFilterError(f"controller_ledger: {message}")


def _replicas(value):
    text = str(value)
    if isinstance(value, bool) or not _REPLICAS.fullmatch(text) or int(text) < 1:
        _refuse("litemaas_controller_replicas must be a whole number from 1 to 999")
    return int(text)


def _url(url):
    """The URL of an existing PostgreSQL, which must carry no password (it comes from a Secret)."""
    try:
        parts = urlsplit(url or "")
        has_password = parts.password is not None
        host = parts.hostname
    except ValueError:
        _refuse("litemaas_controller_ledger_url is not a URL")
    if parts.scheme not in ("postgresql", "postgres"):
        _refuse("litemaas_controller_ledger_url must be postgresql://user@host:port/database")
    query = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if has_password or "password" in query:
        _refuse(
            "litemaas_controller_ledger_url must not carry a password: put it in a Secret and "
            "name it in litemaas_controller_ledger_password_secret"
        )
    if not host or not parts.username or re.search(r"[\s\x00-\x1f\x7f]", url):
        _refuse("litemaas_controller_ledger_url must be postgresql://user@host:port/database")
    return url


def _secret(name, key):
    if not _SECRET_NAME.fullmatch(name or "") or len(name) > 253:
        _refuse(
            "litemaas_controller_ledger_password_secret must name a Secret in the controller's "
            "namespace (lowercase letters, digits, '-' and '.')"
        )
    if not _SECRET_KEY.fullmatch(key or "") or len(key) > 253 or key in (".", ".."):
        _refuse(
            "litemaas_controller_ledger_password_key must be a Secret key "
            "(letters, digits, '-', '_', '.')"
        )
    return name, key


def _layout(image):
    """``postgres`` (the postgres:* images) or ``sclorg`` (rhel9/postgresql-16 and the like)."""
    repository = re.sub(r"[:@].*", "", image.rsplit("/", 1)[-1])
    if _IMAGE.fullmatch(image) and len(image) <= 512:
        for pattern, layout in _LAYOUTS:
            if pattern.fullmatch(repository):
                return layout
    _refuse(
        "litemaas_controller_postgresql_image must be a postgres image (postgres:16) or a sclorg "
        "PostgreSQL image (rhel9/postgresql-16, sclorg/postgresql-16-c9s)"
    )


def _sqlite(replicas):
    if replicas > 1:
        _refuse(
            f"litemaas_controller_replicas is {replicas}, but the SQLite ledger serves one "
            "replica: "
            "set litemaas_controller_ledger to postgresql (with litemaas_controller_ledger_url) or "
            "postgresql_beside, or litemaas_controller_replicas to 1"
        )
    return {"kind": "sqlite", "replicas": replicas}


def controller_ledger(options):
    """The ledger the controller's pods use, from ``options`` (the role's variables): ``kind``
    (sqlite, postgresql, postgresql_beside), ``replicas``, ``url`` and ``password_secret``,
    ``password_key`` (postgresql), ``image`` (postgresql_beside), ``namespace`` and ``settings``.
    Returns ``kind``, ``replicas`` and, for PostgreSQL, ``url``, ``password_secret``,
    ``password_key`` (and ``image`` and its ``layout``, postgres or sclorg, beside)."""
    replicas = _replicas(options.get("replicas", 1))
    kind = options.get("kind", "sqlite")
    if kind not in _KINDS:
        _refuse(f"litemaas_controller_ledger must be one of {', '.join(_KINDS)}")
    if any(name in (options.get("settings") or {}) for name in _DECIDED):
        _refuse(
            "litemaas_controller_settings must not set LITEMAAS_LEDGER_URL or "
            "LITEMAAS_LEDGER_PASSWORD_FILE: use litemaas_controller_ledger and its variables"
        )
    if kind == "sqlite":
        return _sqlite(replicas)
    if kind == "postgresql":
        url = _url(options.get("url"))
        secret, key = _secret(options.get("password_secret"), options.get("password_key"))
        return {
            "kind": kind,
            "replicas": replicas,
            "url": url,
            "password_secret": secret,
            "password_key": key,
        }
    image = options.get("image") or ""
    layout = _layout(image)
    host = f"{BESIDE_NAME}.{options['namespace']}.svc"
    return {
        "kind": kind,
        "replicas": replicas,
        "url": f"postgresql://{BESIDE_USER}@{host}:5432/{BESIDE_DATABASE}",
        "password_secret": BESIDE_NAME,
        "password_key": BESIDE_KEY,
        "image": image,
        "layout": layout,
    }


class FilterModule:
    def filters(self):
        return {"controller_ledger": controller_ledger}
