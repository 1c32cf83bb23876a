"""``python -m bench [name ...]``: run the service benchmarks and print their tables."""

from __future__ import annotations

import importlib
import shutil
import sys

from bench.common import scratch

ALL = ["latency", "throughput", "webhook", "cancel", "memory", "replicas"]


def main(argv: list[str]) -> int:
    names = argv or ALL
    unknown = sorted(set(names) - set(ALL))
    if unknown:
        print(f"unknown benchmarks {unknown}; choose from {ALL}", file=sys.stderr)
        return 2
    for name in names:
        root = scratch()
        try:
            importlib.import_module(f"bench.{name}").run(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
