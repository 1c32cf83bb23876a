"""Command line: python -m sandbox up|down|status|serve|fault."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import supervisor
from .handle import Sandbox, SandboxError
from .profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandbox", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="state directory")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a sandbox and leave it running")
    up.add_argument("--profile", choices=sorted(PROFILES), default="aws")
    up.add_argument("--real", action="store_true", help="run known images as real processes")
    up.add_argument(
        "--controller-image",
        type=Path,
        help="run litemaas-controller:* images from this directory (with its image.json)",
    )
    sub.add_parser("down", help="stop the sandbox and remove its state")
    sub.add_parser("status", help="say whether it runs, and where")
    serve = sub.add_parser("serve", help="(internal) the supervisor process")
    serve.add_argument("--profile", choices=sorted(PROFILES), default="aws")
    serve.add_argument("--parent", type=int)
    serve.add_argument("--real", action="store_true")
    fault = sub.add_parser("fault", help="set or clear a fault on a pod or workload")
    fault.add_argument("target", help="KIND/NAME, e.g. deployment/litellm")
    fault.add_argument("-n", "--namespace", required=True)
    fault.add_argument("fault", help="crashloop|imagepull|notready|oomkilled|delete|fail|clear")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return supervisor.serve(args.dir, args.profile, args.parent, args.real)
    box = Sandbox(args.dir)
    try:
        if args.command == "up":
            box = Sandbox.start(
                args.dir, args.profile, real=args.real, controller_image=args.controller_image
            )
            mode = "real workloads" if args.real else "simulated workloads"
            print(f"sandbox {box.profile} up: {box.info['server']}  (apps domain {box.domain})")
            print(f"  {mode}; router (HTTP(S) proxy) at {box.info['router']}")
            print(f"  export KUBECONFIG={box.kubeconfig}    # or: source {box.directory}/env")
        elif args.command == "down":
            box.stop()
            print("sandbox down")
        elif args.command == "status":
            if not box.running():
                print("sandbox not running")
                return 1
            print(f"sandbox {box.profile} running at {box.info['server']}")
        elif args.command == "fault":
            kind, name = args.target.split("/", 1)
            box.set_fault(kind, args.namespace, name, None if args.fault == "clear" else args.fault)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
