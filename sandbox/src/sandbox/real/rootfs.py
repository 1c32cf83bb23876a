"""How a container process starts: namespaces, a private root file system, its user and argv.

The pod's network namespace is entered with nsenter; unshare gives the container its own mount,
UTS and IPC namespaces (SysV memory goes with the last process). Every step execs the next, so the
process the agent started *is* the container's program, and its exit status (or the signal that
killed it) is the container's. No PID namespace: util-linux 2.38's `unshare --fork` reports a
child killed by SIGKILL as exit 1, which would hide crashes. A generated shell script then builds
the root in a tmpfs that only this mount namespace sees: the machine's /usr read-only, /etc as an
overlay (writes land in the tmpfs), fresh /proc, /dev, /tmp and /run, the pod's hosts file, and
the volumes at their container paths; then pivot_root drops every other mount of the machine from
the container's view. Nothing is written outside the state directory, and nothing is left when the
process ends.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path

from .images import ENTRYPOINTS, SANDBOX_DIR, Image
from .volumes import Mount

TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _q(value: str | Path) -> str:
    return shlex.quote(str(value))


def _host_top_level() -> list[str]:
    """/bin, /lib... as the machine has them: symlinks into /usr (merged /usr) or directories."""
    lines = []
    for name in TOP_LEVEL:
        path = Path("/") / name
        if path.is_symlink():
            lines.append(f"ln -s {_q(os.readlink(path))} {name}")
        elif path.is_dir():
            lines.append(f"mkdir {name} && mount -o bind,ro /{name} {name}")
    return lines


def setup_script(
    root: Path,
    hostname: str,
    hosts: Path,
    resolv: Path,
    mounts: Iterable[Mount],
    image: Image,
    workdir: str,
    user: tuple[int, int] | None,
    groups: list[int] | None = None,
) -> str:
    """The script that builds the container's root and execs its program (argv follows as "$@"),
    as ``user`` (uid, gid) with the supplementary ``groups`` (none: no others)."""
    lines = [
        "set -eu",
        f"R={_q(root)}",
        '/usr/bin/mount -t tmpfs -o mode=0755 sandbox-root "$R"',
        'cd "$R"',
        "mkdir usr etc proc sys dev tmp run var root home .etc .etc/upper .etc/work",
        "mkdir var/lib var/tmp var/log var/cache && ln -s ../run var/run && chmod 1777 var/tmp",
        "mount -o bind,ro /usr usr",
        *_host_top_level(),
        "mount -t overlay -o lowerdir=/etc,upperdir=.etc/upper,workdir=.etc/work sandbox-etc etc",
        "mount -t proc proc proc",
        "mount -o bind,ro /sys sys",
        "mount -t tmpfs -o mode=0755 sandbox-dev dev",
        f"for d in {' '.join(DEVICES)}; do touch dev/$d && mount --bind /dev/$d dev/$d; done",
        "mkdir dev/shm && mount -t tmpfs -o mode=1777 sandbox-shm dev/shm",
        # a private devpts, as container runtimes give every container (pseudo-terminals: pexpect)
        "mkdir dev/pts && mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts dev/pts",
        "ln -s pts/ptmx dev/ptmx",
        "ln -s /proc/self/fd dev/fd && ln -s /proc/self/fd/0 dev/stdin",
        "ln -s /proc/self/fd/1 dev/stdout && ln -s /proc/self/fd/2 dev/stderr",
        "mount -t tmpfs -o mode=1777 sandbox-tmp tmp",
        "mount -t tmpfs -o mode=0755 sandbox-run run",
        # /etc/hosts may be a symlink on the machine; replace it in the overlay, then bind the
        # pod's file so later rewrites show through.
        "rm -f etc/hosts etc/resolv.conf etc/hostname && touch etc/hosts",
        f"mount -o bind,ro {_q(hosts)} etc/hosts",
        f"cp {_q(resolv)} etc/resolv.conf",
        f"echo {_q(hostname)} > etc/hostname && hostname {_q(hostname)}",
        f"mkdir .{SANDBOX_DIR} && mount -o bind,ro {_q(ENTRYPOINTS)} .{SANDBOX_DIR}",
    ]
    for path in image.host_paths:
        lines.append(f'mkdir -p "$R"{_q(path)} && mount -o bind,ro {_q(path)} "$R"{_q(path)}')
    for source, target in image.binds:
        at = f'"$R"{_q(target)}'
        make = "mkdir -p" if Path(source).is_dir() else f'mkdir -p "$(dirname {at})" && touch'
        lines.append(f"{make} {at} && mount -o bind,ro {_q(source)} {at}")
    for path, owner, mode in image.dirs:
        at = f'"$R"{_q(path)}'
        lines.append(f"mkdir -p {at} && chown {_q(owner)}: {at} && chmod {mode:o} {at}")
    for m in mounts:
        target = f'"$R"{_q(m.target)}'
        make = "touch" if m.source.is_file() else "mkdir -p"
        if m.source.is_file():
            lines.append(f'mkdir -p "$(dirname {target})"')
        opts = "bind,ro" if m.read_only else "bind"
        lines.append(f"{make} {target} && mount -o {opts} {_q(m.source)} {target}")
    drop = ""
    if user is not None:
        others = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
        drop = f"/usr/bin/setpriv --reuid={user[0]} --regid={user[1]} {others} -- "
    lines += [
        f'mkdir -p "$R"{_q(workdir)} .oldroot',
        # pivot_root, not chroot: the machine's mounts leave this namespace altogether, so the
        # container holds no reference to other pods' namespace pins or to anything else.
        "/usr/sbin/pivot_root . .oldroot",
        "cd / && /usr/bin/umount -l /.oldroot && rmdir /.oldroot",
        f"cd {_q(workdir)}",
        f'exec {drop}"$@"',
    ]
    return "\n".join(lines) + "\n"


def launch_argv(netns: Path, script: Path, program: list[str]) -> list[str]:
    return [
        "nsenter",
        f"--net={netns}",
        "--",
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--propagation",
        "private",
        "/bin/sh",
        str(script),
        *program,
    ]


def exec_argv(pid: int, user: tuple[int, int] | None, command: list[str]) -> list[str]:
    """Run `command` inside a running container, as `kubectl exec` and exec probes do."""
    argv = ["nsenter", "--target", str(pid), "--net", "--mount", "--uts", "--ipc"]
    argv += ["--root", "--wd"]
    if user is not None:
        argv += [f"--setuid={user[0]}", f"--setgid={user[1]}"]
    return [*argv, "--", *command]
