"""The repository's image, carried out once per set of inputs and kept in the cache."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec

from containerfile.image import Image, python311
from containerfile.instructions import carry_out, ignore_spec, instructions
from containerfile.substitutions import CACHE, KUBERNETES_CORE

REPO = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO / "Containerfile"
#: seconds after which an image no build() asked for is removed from the cache
UNUSED = 86400


def inputs_digest(text: str, context: Path) -> str:
    """A hash of what the build reads: the Containerfile, this package, the ignore file, every
    file the context COPYs name, the stand-in Python and the cached kubernetes.core."""
    digest = hashlib.sha256()
    for extra in (text.encode(), python311().encode()):
        digest.update(extra)
    for module in sorted(Path(__file__).parent.glob("*.py")):  # how the build is carried out
        digest.update(module.read_bytes())
    digest.update((KUBERNETES_CORE / "MANIFEST.json").read_bytes())
    ignore = ignore_spec(context)
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
