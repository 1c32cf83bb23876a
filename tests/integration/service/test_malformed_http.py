"""Malformed input over HTTP: 400 or 401 with a reason, never 500; what is kept can be read back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3

import pytest

from .credentials import BEARER
from .servicekit import Service, problem

pytestmark = pytest.mark.integration

ORDER = '{"id": "bad-1", "action": "provision", "instance": "demo", "vars": {%s}}'
VERSION = '"ocp4_workload_litemaas_version": '
DEEP = "[" * 490 + "]" * 490  # accepted and run before; then GET /instances answered 500

#: (case, body): each answered 500, or was accepted, before the strict decoder
BODIES: list[tuple[str, bytes]] = [
    ("a 5,000-digit integer", (ORDER % (VERSION + "9" * 5000)).encode()),
    ("2,000 nested arrays", (ORDER % (VERSION + "[" * 2000 + "]" * 2000)).encode()),
    ("a 490-deep list var", (ORDER % f'"ocp4_workload_litemaas_admin_emails": {DEEP}').encode()),
    ("NaN", (ORDER % (VERSION + "NaN")).encode()),
    ("-Infinity", (ORDER % (VERSION + "-Infinity")).encode()),
    ("a duplicate key", b'{"id": "bad-1", "action": "provision", "action": "destroy", '
                        b'"instance": "demo"}'),
    ("a lone surrogate", (ORDER % (VERSION + '"\\ud800"')).encode()),
    ("a byte-order mark", b"\xef\xbb\xbf" + (ORDER % (VERSION + '"0.2.0"')).encode()),
    ("UTF-16", (ORDER % (VERSION + '"0.2.0"')).encode("utf-16")),
]  # fmt: skip


async def test_every_unacceptable_json_body_gets_400_and_changes_nothing(service: Service) -> None:
    before = service.ledger()
    for case, body in BODIES:
        refused = await problem(await service.post_order(body), 400)
        assert refused["type"] == "urn:litemaas:problem:malformed", case
    assert service.ledger() == before


#: (path, query): ``run`` stands for a run's events; each answered 500 or 200 before
QUERIES = [
    ("/api/v1/orders", "limit=9" + "9" * 5000),
    ("/api/v1/orders", "limit=%C2%B2"),  # "²": a digit to str.isdigit, not to int
    ("/api/v1/orders", "limit=0"),
    ("/api/v1/orders", "limit=-1"),
    ("run", "after=9" + "9" * 5000),
    ("run", "after=99999999999999999999"),  # past SQLite's integers
    ("run", "after=%D9%A1"),  # U+0661 ARABIC-INDIC DIGIT ONE
]


async def test_query_numbers_that_are_not_small_integers_get_400(service: Service) -> None:
    with contextlib.closing(sqlite3.connect(service.settings.ledger_path)) as db, db:
        db.execute(  # a finished run to ask for events of, without running a playbook
            "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status, attempt,"
            " created_at) VALUES ('r-1', 'o-1', 'demo', 'provision', 'x.yml', '{}', 'failed', 1, 0)"
        )
    assert (await service.get("/api/v1/runs/r-1/events?after=0"))["items"] == []
    for path, query in QUERIES:
        where = "/api/v1/runs/r-1/events" if path == "run" else path
        await problem(await service.client.get(f"{where}?{query}", headers=BEARER), 400)


#: raw header lines: aiohttp's client sends only text it can encode, so these go by socket
AUTH_LINES = [
    b"Authorization: Bearer tok-\xe9",  # Latin-1 on the wire: not UTF-8
    "Authorization: Bearer \u00e9\u00e9".encode(),  # UTF-8, not ASCII
    b"X-Litemaas-Timestamp: 1\r\nX-Litemaas-Signature: sha256=\xff",
    "X-Litemaas-Timestamp: \u0661\u0662".encode(),  # digits to int(), not a timestamp
]


async def raw_request(service: Service, method: str, path: str, header: bytes) -> int:
    """Send one request with ``header`` as given, byte for byte; the response's status."""
    server = service.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = (ORDER % (VERSION + '"0.2.0"')).encode()
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode()
        + header
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    rest = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert b"application/problem+json" in rest
    return int(status_line.split()[1])


@pytest.mark.parametrize("header", AUTH_LINES)
async def test_auth_headers_with_non_ascii_bytes_get_401(service: Service, header: bytes) -> None:
    before = service.ledger()
    assert await raw_request(service, "POST", "/api/v1/orders", header) == 401
    if header.startswith(b"Authorization"):
        assert await raw_request(service, "GET", "/api/v1/orders", header) == 401
    assert service.ledger() == before


async def test_instances_read_back_whatever_the_ledger_holds(service: Service) -> None:
    deep = json.loads(DEEP)  # planted below the intake, which now refuses it
    with contextlib.closing(sqlite3.connect(service.settings.ledger_path)) as db, db:
        db.execute(
            "INSERT INTO instances VALUES ('demo', 'litemaas-demo', 'ready', ?, NULL, NULL, 0)",
            (json.dumps({"list": deep}),),
        )
    [instance] = (await service.get("/api/v1/instances"))["items"]
    assert instance["vars"] == {"list": deep}
    assert (await service.get("/api/v1/instances/demo"))["vars"] == {"list": deep}
