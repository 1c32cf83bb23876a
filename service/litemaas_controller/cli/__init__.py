"""The ``litemaas-controller`` command: ``serve`` and the client commands; exit codes.

Exit codes: 0 success, 1 the order did not succeed, 2 bad usage or settings, 3 the service
refused the request or could not be reached.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from litemaas_controller import __version__
from litemaas_controller.cli.client import Client
from litemaas_controller.cli.commands import add_client_commands
from litemaas_controller.cli.serve_cmd import add_serve_command
from litemaas_controller.errors import BadInputError, ConfigError, ControllerError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litemaas-controller",
        description="Deploy and operate LiteMaaS from signed catalog orders.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--url",
        default=os.environ.get("LITEMAAS_URL")
        or f"http://{os.environ.get('LITEMAAS_LISTEN', '127.0.0.1:8080')}",
        help="the service's base URL for client commands (LITEMAAS_URL; default from "
        "LITEMAAS_LISTEN). Credentials come from LITEMAAS_API_TOKEN / LITEMAAS_WEBHOOK_SECRET.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_command(sub)
    add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            code: int = args.func(args)
            return code
        client = Client(
            url=args.url,
            token=os.environ.get("LITEMAAS_API_TOKEN"),
            secret=os.environ.get("LITEMAAS_WEBHOOK_SECRET"),
        )
        code = args.func(client, args, sys.stdout)
        return code
    except (ConfigError, BadInputError) as exc:
        print(f"litemaas-controller: {exc.message}", file=sys.stderr)
        return 2
    except ControllerError as exc:
        print(f"litemaas-controller: {exc.message}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
