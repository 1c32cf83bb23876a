"""Run markers read back from /proc: only this ledger's and this replica's (or the two-part form
of a controller from before replicas were named) count; anything else in a process's environment
is never matched and never breaks the scan.  The /proc here is a directory of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from litemaas_controller.runner import procs

pytestmark = pytest.mark.unit

LEDGER = "0f3c2a9e8b7d4c6a5e1f2b3c4d5e6f70"
REPLICA = "controller-7d9f8-abcde"

HOSTILE = [
    b"",
    b"/",
    b"//",
    LEDGER.encode(),
    f"{LEDGER}/".encode(),
    f"/{REPLICA}/run-1".encode(),
    f"{LEDGER}//run-1".encode(),
    f"{LEDGER}/{REPLICA}/".encode(),
    f"{LEDGER}/{REPLICA}/run-1/".encode(),
    f"{LEDGER}/{REPLICA}/run-1/more".encode(),
    f"{LEDGER}/{REPLICA}/x/y/z".encode(),
    f"{LEDGER}/{REPLICA} /run-1".encode(),
    f"{LEDGER}/{REPLICA}\n/run-1".encode(),
    f"{LEDGER}/{REPLICA}/run-1\n".encode(),
    f"{LEDGER}/../run-1".encode(),
    f"{LEDGER}/{REPLICA}/{{{{ lookup('env', 'HOME') }}}}".encode(),
    f"{LEDGER}/{REPLICA}\x1b[31m/run-1".encode(),
    f"{LEDGER}/\xe9{REPLICA}/run-1".encode(),
    LEDGER.encode() + b"/\xff\xfe/run-1",
    f"{LEDGER}/{'r' * 300}/run-1".encode(),
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_that_is_not_a_marker_is_none(value: bytes) -> None:
    assert procs.parse_marker(value) is None


@pytest.mark.parametrize(
    ("value", "ours"),
    [
        (f"{LEDGER}/{REPLICA}/run-1", True),
        (f"{LEDGER}/run-1", True),  # the two-part form: a controller from before the upgrade
        (f"{LEDGER}/other-replica/run-1", False),
        (f"{LEDGER}/{REPLICA}.evil/run-1", False),
        (f"{LEDGER}/{REPLICA.upper()}/run-1", False),
        (f"another-ledger/{REPLICA}/run-1", False),
        ("another-ledger/run-1", False),
        (f"{LEDGER}x/{REPLICA}/run-1", False),
    ],
)
def test_a_marker_names_this_ledger_and_replica_or_not(value: str, ours: bool) -> None:
    marker = procs.parse_marker(value.encode())
    assert marker is not None and str(marker) == value
    assert marker.names(LEDGER, REPLICA) is ours


def a_process(proc: Path, pid: int, environ: bytes | None) -> None:
    """A /proc/<pid> with a stat (ppid 1, state S) and, unless None, an environ."""
    (proc / str(pid)).mkdir()
    fields = ["S", "1", *["0"] * 17, str(1000 + pid)]  # field 22 (index 19 after the name): start
    (proc / str(pid) / "stat").write_text(f"{pid} (sleep) {' '.join(fields)}\n")
    if environ is not None:
        (proc / str(pid) / "environ").write_bytes(environ)


def marked(*values: bytes) -> bytes:
    return b"\0".join([b"PATH=/usr/bin", *(b"LITEMAAS_RUN_MARKER=" + v for v in values), b""])


def test_a_scan_keeps_only_this_replicas_markers_and_survives_hostile_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procs, "PROC", tmp_path)
    ours, old = f"{LEDGER}/{REPLICA}/run-1", f"{LEDGER}/run-2"
    theirs = f"{LEDGER}/other-replica/run-3"
    a_process(tmp_path, 101, marked(ours.encode()))
    a_process(tmp_path, 102, marked(old.encode()))
    a_process(tmp_path, 103, marked(theirs.encode()))
    a_process(tmp_path, 104, marked(theirs.encode(), f"{LEDGER}/{REPLICA}/run-4".encode()))
    for pid, value in enumerate(HOSTILE, start=200):
        a_process(tmp_path, pid, marked(value))
    a_process(tmp_path, 300, b"\xff\0LITEMAAS_RUN_MARKER=\xff\0=\0\0")
    a_process(tmp_path, 303, b"\xff\0LITEMAAS_RUN_MARKER\0=\0\0")  # no marker: no value
    a_process(tmp_path, 301, None)  # no environ: gone, or not ours to read
    a_process(tmp_path, 302, b"")

    found = procs.own_markers(LEDGER, REPLICA)

    assert found == {ours, old, f"{LEDGER}/{REPLICA}/run-4"}
    assert not procs.carries_another_marker(101, LEDGER, REPLICA)
    assert not procs.carries_another_marker(102, LEDGER, REPLICA)
    assert procs.carries_another_marker(103, LEDGER, REPLICA)
    assert procs.carries_another_marker(104, LEDGER, REPLICA)  # one of its markers is not ours
    # a value that is no marker is never taken for ours
    assert all(
        procs.carries_another_marker(pid, LEDGER, REPLICA) for pid in range(200, 200 + len(HOSTILE))
    )
    assert procs.carries_another_marker(300, LEDGER, REPLICA)
    assert not procs.carries_another_marker(301, LEDGER, REPLICA)  # no marker at all
    assert not procs.carries_another_marker(302, LEDGER, REPLICA)
    assert not procs.carries_another_marker(303, LEDGER, REPLICA)
