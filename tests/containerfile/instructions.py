"""The Containerfile's instructions, checked first, then carried out one by one."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pathspec
from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter, extract_key_values

from containerfile.image import (
    BASE_CONFIG,
    BASE_IMAGE,
    Image,
    NotCarriedOut,
    Stage,
    python311,
    sh,
    system,
)
from containerfile.substitutions import (
    GALAXY_DOWNLOAD,
    PACKAGE_MANAGER,
    debian_name,
    packages,
    substitute_run,
)

IGNOREFILE = ".containerignore"


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
    sh([python311(), "-m", "venv", str(venv)])
    sh([str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip"])
    stage.path(stage.workdir).mkdir(parents=True, exist_ok=True)
    stage.substituted.append(f"FROM {value}")
    return stage


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
    source_root, ignore = context, ignore_spec(context)
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


def ignore_spec(context: Path) -> pathspec.PathSpec:
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
        missing = [p for p in packages(manager["args"]) if debian_name(p) is None]
        if missing:
            raise NotCarriedOut(f"{where}: no Debian counterpart listed for {missing}")
        return
    if GALAXY_DOWNLOAD.match(value):
        return
    literal = [p for p in _literal_paths(value) if not system(p)]
    if literal:
        raise NotCarriedOut(f"{where}: names image paths {literal} literally; use ENV or ARG")


def _run(stage: Stage, value: str, *_: Any) -> None:
    if not substitute_run(stage, value):
        sh(["/bin/sh", "-ec", value], cwd=stage.path(stage.workdir), env=stage.host_env())


def _literal_paths(command: str) -> list[str]:
    """Absolute paths written out in a shell command (in words, ``--opt=`` and ``a:b`` lists)."""
    words = shlex.shlex(command, posix=True, punctuation_chars=True)
    words.whitespace_split = True
    parts = [p for word in words for p in re.split(r"[=:]", word)]
    return [p for p in parts if p.startswith("/")]


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
