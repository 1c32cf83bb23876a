"""``litemaas-controller serve``: flags for every setting, the settings table in ``--help``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import faulthandler
import logging
import signal
import textwrap
from pathlib import Path
from typing import Any

from litemaas_controller import ui
from litemaas_controller.api import serve
from litemaas_controller.config import load_settings
from litemaas_controller.config.settings import env_name, setting_fields


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value: Any = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    return "unset" if value is None or value == () else str(value)


def settings_table(width: int = 100) -> str:
    """Every setting with its env variable, default and meaning (``serve --help``; the same
    in docs/configuration.md)."""
    lines = ["settings (flag > environment > --config file > default):", ""]
    for f in setting_fields():
        flag = "(env or file only)" if f.metadata["secret"] else "--" + f.name.replace("_", "-")
        lines.append(f"  {env_name(f)}  {flag}  [default: {_default(f)}]")
        lines += textwrap.wrap(
            f.metadata["help"], width - 6, initial_indent="      ", subsequent_indent="      "
        )
    return "\n".join(lines)


def add_serve_command(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the controller service",
        description="Run the controller: HTTP order intake, ledger, dispatch, ansible-runner.",
        epilog=settings_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="YAML file of settings (LITEMAAS_CONFIG)")
    for f in setting_fields():
        if f.metadata["secret"]:
            continue  # secrets on a command line show in every process listing
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=f.name.upper(),
            help=argparse.SUPPRESS,
        )
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    overrides = {f.name: getattr(args, f.name, None) for f in setting_fields()}
    settings = load_settings(overrides=overrides, config_file=args.config)
    logging.getLogger().setLevel(settings.log_level.upper())
    # `kill -USR1 <pid>`: every thread's stack on stderr, for a service that will not stop
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    asyncio.run(serve(settings, ui.make_app))
    return 0
