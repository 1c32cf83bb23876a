"""The image without an engine: the Containerfile's instructions carried out into a directory.

No engine builds images here, so this module reads the Containerfile with ``dockerfile-parse`` and
does what each instruction says, stage by stage, in a directory per stage that stands for the
image's filesystem.  Only what is listed in ``SUBSTITUTIONS`` is done otherwise; any other
instruction that cannot be carried out raises ``NotCarriedOut``.

The filesystem of a stage: the substituted base provides the system trees (``SYSTEM_TREES``, this
machine's own); every other absolute path of the image lives under the stage's root directory.
Values of ``ENV``/``ARG`` and the paths of ``WORKDIR``/``COPY`` are re-rooted so; a ``RUN`` line
reaches image paths only through such variables (a literal image path in it cannot be re-rooted
faithfully, and is refused).

``build()`` carries out the repository's Containerfile once per set of inputs and caches the final
stage under ``$LITEMAAS_CACHE/image-<hash>`` (``Image.root``); ``Image.host_env()`` and
``Image.command()`` run it as the image's entrypoint would.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec
from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter, extract_key_values

REPO = Path(__file__).resolve().parent.parent
CONTAINERFILE = REPO / "Containerfile"
IGNOREFILE = ".containerignore"
CACHE = Path(os.environ.get("LITEMAAS_CACHE") or Path.home() / ".cache" / "litemaas-controller")
#: seconds after which an image no build() asked for is removed from the cache
UNUSED = 86400
KUBERNETES_CORE = CACHE / "collections" / "ansible_collections" / "kubernetes" / "core"

BASE_IMAGE = "registry.access.redhat.com/ubi9/python-311"
#: what the base image provides that this machine's own system provides instead
SYSTEM_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/dev", "/proc")
#: the environment and user the ubi9/python-311 image sets (its published image configuration)
BASE_CONFIG = {
    "env": {
        "APP_ROOT": "/opt/app-root",
        "HOME": "/opt/app-root/src",
        "PATH": "/opt/app-root/src/.local/bin:/opt/app-root/src/bin:/opt/app-root/bin:"
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHON_VERSION": "3.11",
        "PYTHONUNBUFFERED": "1",
        "PLATFORM": "el9",
    },
    "user": "1001",
    "workdir": "/opt/app-root/src",
    "venv": "/opt/app-root",
}
#: Red Hat packages the base's package manager may install -> the Debian packages that provide
#: the same here (they must be installed already: the test never installs system packages)
DEBIAN_PACKAGES = {
    "git": "git",
    "openssl": "openssl",
    "postgresql": "postgresql-client-15",
    "rsync": "rsync",
}
PACKAGE_MANAGER = re.compile(r"^\s*(?:micro)?dnf\s+(?:-\S+\s+)*install\s+(?P<args>[^&;|]*)")
GALAXY_DOWNLOAD = re.compile(
    r'^\s*ansible-galaxy\s+collection\s+install\s+-p\s+"\$(?P<path>\w+)"\s+'
    r'"?kubernetes\.core:==(?P<version>[0-9.]+)"?\s*$'
)

#: every instruction done otherwise than it says, and by what (the test prints this table)
SUBSTITUTIONS = {
    f"FROM {BASE_IMAGE}:<tag>": "a venv of this machine's Python 3.11 at the base's "
    "/opt/app-root, with the base's environment, user and working directory (BASE_CONFIG); "
    "the base's system trees are this machine's",
    "RUN (micro)dnf install <packages>": "each package's Debian counterpart (DEBIAN_PACKAGES), "
    "checked installed; the dnf line's other commands are not run",
    "RUN ansible-galaxy collection install kubernetes.core:==<version>": "a copy of the cached "
    "kubernetes.core of that version (hack/setup.sh takes it from the Python index)",
}


class NotCarriedOut(RuntimeError):
    """An instruction that can neither be carried out here nor is a listed substitution."""


@dataclass
class Stage:
    name: str | None
    root: Path
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_CONFIG["env"]))  # type: ignore[arg-type]
    args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    user: str = str(BASE_CONFIG["user"])
    workdir: str = str(BASE_CONFIG["workdir"])
    exposed: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    substituted: list[str] = field(default_factory=list)

    def path(self, image_path: str) -> Path:
        return host_path(self.root, image_path)

    def host_env(self) -> dict[str, str]:
        values = {**self.args, **self.env}
        return {k: reroot_value(self.root, v) for k, v in values.items()}


@dataclass(frozen=True)
class Image:
    """The final stage, as a directory this machine can run."""

    root: Path
    env: dict[str, str]
    labels: dict[str, str]
    user: str
    workdir: str
    exposed: list[str]
    entrypoint: list[str]
    cmd: list[str]
    substituted: list[str]

    def host_path(self, image_path: str) -> Path:
        return host_path(self.root, image_path)

    def host_env(self) -> dict[str, str]:
        """The image's environment with its paths re-rooted at ``root``."""
        return {k: reroot_value(self.root, v) for k, v in self.env.items()}

    def program(self, name: str) -> str:
        """``name`` as the image's PATH finds it."""
        found = shutil.which(name, path=self.host_env()["PATH"])
        if found is None:
            raise NotCarriedOut(f"{name} is not on the image's PATH")
        return found

    def command(self, *args: str) -> list[str]:
        """What the container runs: the entrypoint with ``args`` (default: CMD)."""
        program, *rest = self.entrypoint
        return [self.program(program), *rest, *(args or self.cmd)]


def host_path(root: Path, image_path: str) -> Path:
    if not image_path.startswith("/"):
        raise NotCarriedOut(f"{image_path!r} is not an absolute image path")
    if _system(image_path):
        return Path(image_path)
    return root / image_path.lstrip("/")


def _system(image_path: str) -> bool:
    return any(image_path == t or image_path.startswith(t + "/") for t in SYSTEM_TREES)


def reroot_value(root: Path, value: str) -> str:
    """An ENV/ARG value with each absolute path in it (``:``-separated lists too) re-rooted."""
    return ":".join(
        str(host_path(root, part)) if part.startswith("/") else part for part in value.split(":")
    )


# -- instructions -----------------------------------------------------------------------------


def instructions(text: str) -> list[dict[str, Any]]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def check(text: str) -> list[dict[str, Any]]:
    """The instructions of ``text``; ``NotCarriedOut`` for the first one that could not be carried
    out (before anything is done: a build never stops half-way on such a line)."""
    steps = instructions(text)
    for index, step in enumerate(steps):
        kind, value = step["instruction"], step["value"]
        where = f"line {step['startline'] + 1}: {kind} {value!r}"
        if kind not in HANDLERS and kind != "FROM":
            raise NotCarriedOut(f"{where}: {kind} is not supported")
        if index == 0 and kind != "FROM":
            raise NotCarriedOut(f"{where}: the first instruction must be FROM")
        checker = CHECKS.get(kind)
        if checker is not None:
            checker(value, where)
    return steps


def carry_out(text: str, context: Path, workspace: Path) -> Image:
    """Carry out every stage of ``text`` (a Containerfile) with build context ``context``; stage
    ``n`` gets ``workspace/stage-n`` as its root; return the last stage."""
    stages: list[Stage] = []
    for step in check(text):
        kind, value = step["instruction"], step["value"]
        if kind == "FROM":
            stages.append(_from(value, workspace / f"stage-{len(stages)}"))
        else:
            HANDLERS[kind](stages[-1], value, stages, context)
    last = stages[-1]
    return Image(
        root=last.root,
        env={**last.env},
        labels=last.labels,
        user=last.user,
        workdir=last.workdir,
        exposed=last.exposed,
        entrypoint=last.entrypoint,
        cmd=last.cmd,
        substituted=[s for stage in stages for s in stage.substituted],
    )


def _check_from(value: str, where: str) -> None:
    words = value.split()
    if len(words) not in (1, 3) or not words[0].startswith(f"{BASE_IMAGE}:"):
        raise NotCarriedOut(f"{where}: only {BASE_IMAGE}:<tag> can be substituted")
    if words[0].endswith(":latest") or (len(words) == 3 and words[1].upper() != "AS"):
        raise NotCarriedOut(f"{where}: a base pinned by a tag, optionally `AS name`, is expected")


def _from(value: str, root: Path) -> Stage:
    words = value.split()
    stage = Stage(name=words[2] if len(words) == 3 else None, root=root)
    venv = stage.path(str(BASE_CONFIG["venv"]))
    _sh([_python311(), "-m", "venv", str(venv)])
    _sh([str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip"])
    stage.path(stage.workdir).mkdir(parents=True, exist_ok=True)
    stage.substituted.append(f"FROM {value}")
    return stage


def _python311() -> str:
    python = Path(sys.base_prefix) / "bin" / "python3.11"
    if not python.exists():
        raise NotCarriedOut(f"no Python 3.11 at {python} to stand in for the base image")
    return str(python)


def _key_values(stage: Stage, value: str) -> list[tuple[str, str]]:
    return list(extract_key_values(True, stage.args, stage.env, value))


def _env(stage: Stage, value: str, *_: Any) -> None:
    stage.env.update(_key_values(stage, value))


def _arg(stage: Stage, value: str, *_: Any) -> None:
    name, _, default = value.partition("=")
    stage.args[name.strip()] = default.strip()


def _label(stage: Stage, value: str, *_: Any) -> None:
    stage.labels.update(_key_values(stage, value))


def _words(stage: Stage, value: str) -> list[str]:
    return list(WordSplitter(value, args=stage.args, envs=stage.env).split())


def _workdir(stage: Stage, value: str, *_: Any) -> None:
    (path,) = _words(stage, value)
    stage.workdir = path if path.startswith("/") else f"{stage.workdir.rstrip('/')}/{path}"
    stage.path(stage.workdir).mkdir(parents=True, exist_ok=True)


def _user(stage: Stage, value: str, *_: Any) -> None:
    stage.user = value.strip()


def _expose(stage: Stage, value: str, *_: Any) -> None:
    stage.exposed.extend(value.split())


def _exec_form(value: str) -> list[str]:
    argv = json.loads(value)
    return [str(a) for a in argv]


def _check_exec_form(value: str, where: str) -> None:
    try:
        argv = json.loads(value)
    except json.JSONDecodeError as exc:
        raise NotCarriedOut(f"{where}: only the exec (JSON) form is carried out") from exc
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise NotCarriedOut(f"{where}: the exec form is a JSON list of strings")


def _entrypoint(stage: Stage, value: str, *_: Any) -> None:
    stage.entrypoint, stage.cmd = _exec_form(value), []


def _cmd(stage: Stage, value: str, *_: Any) -> None:
    stage.cmd = _exec_form(value)


def _copy(stage: Stage, value: str, stages: list[Stage], context: Path) -> None:
    words = _words(stage, value)
    flags = [w for w in words if w.startswith("--")]
    *sources, dest = [w for w in words if not w.startswith("--")]
    source_root, ignore = context, _ignore_spec(context)
    for flag in flags:
        source_root = _stage_named(stages, flag.removeprefix("--from=")).root
        ignore = pathspec.PathSpec([])
    target = stage.path(dest if dest.startswith("/") else f"{stage.workdir}/{dest}")
    into_dir = dest.endswith("/") or len(sources) > 1
    for source in sources:
        origin = source_root / source.lstrip("/")
        if not origin.exists():
            raise NotCarriedOut(f"COPY {value!r}: {source} does not exist")
        if origin.is_dir():
            _copy_tree(origin, target, ignore, origin.relative_to(source_root))
        else:
            to = target / origin.name if into_dir else target
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, to)


def _check_copy(value: str, where: str) -> None:
    words = value.split()
    for flag in (w for w in words if w.startswith("--")):
        if not flag.startswith("--from="):
            raise NotCarriedOut(f"{where}: flag {flag} is not supported")
    if len([w for w in words if not w.startswith("--")]) < 2:
        raise NotCarriedOut(f"{where}: COPY needs a source and a destination")


def _copy_tree(origin: Path, target: Path, ignore: pathspec.PathSpec, relative: Path) -> None:
    for path in sorted(origin.rglob("*")):
        if ignore.match_file(str(relative / path.relative_to(origin))):
            continue
        to = target / path.relative_to(origin)
        if path.is_symlink() or path.is_file():
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, to, follow_symlinks=False)
        elif path.is_dir():
            to.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)


def _ignore_spec(context: Path) -> pathspec.PathSpec:
    ignore = context / IGNOREFILE
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    return pathspec.PathSpec.from_lines("gitignore", lines)


def _stage_named(stages: list[Stage], name: str) -> Stage:
    for index, candidate in enumerate(stages[:-1]):
        if name in (candidate.name, str(index)):
            return candidate
    raise NotCarriedOut(f"COPY --from={name}: no earlier stage of that name")


def _check_run(value: str, where: str) -> None:
    if value.startswith("--") or value.lstrip().startswith("["):
        raise NotCarriedOut(f"{where}: only the shell form without flags is carried out")
    if manager := PACKAGE_MANAGER.match(value):
        missing = [p for p in _packages(manager["args"]) if _debian_name(p) is None]
        if missing:
            raise NotCarriedOut(f"{where}: no Debian counterpart listed for {missing}")
        return
    if GALAXY_DOWNLOAD.match(value):
        return
    literal = [p for p in _literal_paths(value) if not _system(p)]
    if literal:
        raise NotCarriedOut(f"{where}: names image paths {literal} literally; use ENV or ARG")


def _run(stage: Stage, value: str, *_: Any) -> None:
    if not _substitute_run(stage, value):
        _sh(["/bin/sh", "-ec", value], cwd=stage.path(stage.workdir), env=stage.host_env())


def _sh(argv: list[str], **kwargs: Any) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{argv[-1]!r} failed (exit {done.returncode}):\n{output}")


def _literal_paths(command: str) -> list[str]:
    """Absolute paths written out in a shell command (in words, ``--opt=`` and ``a:b`` lists)."""
    words = shlex.shlex(command, posix=True, punctuation_chars=True)
    words.whitespace_split = True
    parts = [p for word in words for p in re.split(r"[=:]", word)]
    return [p for p in parts if p.startswith("/")]


def _substitute_run(stage: Stage, value: str) -> bool:
    """Carry out a listed substitution; False when ``value`` is none of them."""
    if manager := PACKAGE_MANAGER.match(value):
        _debian_packages(_packages(manager["args"]))
        stage.substituted.append(f"RUN {value}")
        return True
    if galaxy := GALAXY_DOWNLOAD.match(value):
        _cached_kubernetes_core(stage, galaxy["path"], galaxy["version"])
        stage.substituted.append(f"RUN {value}")
        return True
    return False


def _packages(args: str) -> list[str]:
    return [p for p in args.split() if not p.startswith("-")]


def _debian_name(package: str) -> str | None:
    """The Debian counterpart of an RPM package spec (``name``, ``name-1.2``, ``name>=1``)."""
    return DEBIAN_PACKAGES.get(re.split(r"-\d|[<>=]", package)[0])


def _debian_packages(packages: list[str]) -> None:
    for package in packages:
        debian = _debian_name(package)
        assert debian is not None  # check() refused the others
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", debian],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in status.stdout:
            raise NotCarriedOut(f"package {package}: Debian's {debian} is not installed")


def _cached_kubernetes_core(stage: Stage, variable: str, version: str) -> None:
    manifest = json.loads((KUBERNETES_CORE / "MANIFEST.json").read_text())
    cached = manifest["collection_info"]["version"]
    if cached != version:
        raise NotCarriedOut(f"kubernetes.core {version} asked for, {cached} cached")
    into = Path(stage.host_env()[variable]) / "ansible_collections" / "kubernetes" / "core"
    into.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(KUBERNETES_CORE, into, dirs_exist_ok=True)


CHECKS = {
    "FROM": _check_from,
    "COPY": _check_copy,
    "RUN": _check_run,
    "ENTRYPOINT": _check_exec_form,
    "CMD": _check_exec_form,
}
HANDLERS = {
    "ENV": _env,
    "ARG": _arg,
    "LABEL": _label,
    "WORKDIR": _workdir,
    "USER": _user,
    "EXPOSE": _expose,
    "ENTRYPOINT": _entrypoint,
    "CMD": _cmd,
    "COPY": _copy,
    "RUN": _run,
}


# -- the repository's image, built once per set of inputs -------------------------------------


def inputs_digest(text: str, context: Path) -> str:
    """A hash of what the build reads: the Containerfile, this module, the ignore file, every
    file the context COPYs name, the stand-in Python and the cached kubernetes.core."""
    digest = hashlib.sha256()
    for extra in (text.encode(), Path(__file__).read_bytes(), _python311().encode()):
        digest.update(extra)
    digest.update((KUBERNETES_CORE / "MANIFEST.json").read_bytes())
    ignore = _ignore_spec(context)
    digest.update(str(ignore.patterns).encode())
    for path in _context_files(text, context, ignore):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
    return digest.hexdigest()[:16]


def _context_files(text: str, context: Path, ignore: pathspec.PathSpec) -> Iterator[Path]:
    for step in instructions(text):
        if step["instruction"] != "COPY" or "--from=" in step["value"]:
            continue
        *sources, _ = [w for w in step["value"].split() if not w.startswith("--")]
        for source in sources:
            origin = context / source
            found = sorted(origin.rglob("*")) if origin.is_dir() else [origin]
            for path in found:
                relative = str(path.relative_to(context))
                if (path.is_file() or path.is_symlink()) and not ignore.match_file(relative):
                    yield path


def build(containerfile: Path = CONTAINERFILE, context: Path = REPO) -> Image:
    """The repository's image, carried out once into ``$LITEMAAS_CACHE/image-<hash>`` (under a
    lock: sessions in parallel share it); a directory left by an interrupted build is redone."""
    text = containerfile.read_text()
    directory = CACHE / f"image-{inputs_digest(text, context)}"
    done = directory / "image.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / f"{directory.name}.lock"):
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            image = carry_out(text, context, directory)
            for stage in directory.glob("stage-*"):
                if stage != image.root:
                    shutil.rmtree(stage)
            done.write_text(json.dumps(_as_json(image)))
        done.touch()  # in use: _prune keeps it
    _prune(keep=directory)
    return _from_json(json.loads(done.read_text()))


def _prune(keep: Path) -> None:
    """Remove the images of other inputs nobody has used for a day (each is ~250 MB)."""
    for other in CACHE.glob("image-*"):
        used = other / "image.json"
        stamp = (used if used.exists() else other).stat().st_mtime
        if other.is_dir() and other != keep and time.time() - stamp > UNUSED:
            with _locked(CACHE / f"{other.name}.lock"):
                shutil.rmtree(other, ignore_errors=True)


def _as_json(image: Image) -> dict[str, Any]:
    return {**image.__dict__, "root": str(image.root)}


def _from_json(data: dict[str, Any]) -> Image:
    return Image(**{**data, "root": Path(data["root"])})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
