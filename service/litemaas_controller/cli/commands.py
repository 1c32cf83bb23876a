"""Client commands: order submit/show, runs list/show/cancel/events, instances
list/show/creds/health/repair."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from litemaas_controller.cli.client import Client
from litemaas_controller.errors import BadInputError
from litemaas_controller.runner.events import ENDED, FAILED

SUCCESS_STATUSES = ("succeeded",)


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _vars(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.vars_file:
        loaded = yaml.safe_load(Path(args.vars_file).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise BadInputError(f"{args.vars_file} must hold a mapping of variable: value")
        values.update(loaded)
    for item in args.var or []:
        name, sep, raw = item.partition("=")
        if not sep:
            raise BadInputError(f"--var takes name=value, got {item!r}")
        values[name] = yaml.safe_load(raw) if raw else ""  # true, 10, [a, b] keep their types
    return values


def _progress(kind: str, data: dict[str, Any], out: TextIO) -> None:
    if kind == "run":
        out.write(f"run {data['id']} (attempt {data['attempt']}): {data['status']}\n")
    elif kind == "event" and data.get("status") in ENDED:
        # one line per task and host once it ended: a skipped task never reads like one that ran
        line = f"  TASK {data.get('task')}: {data['status']}"
        if data["status"] in FAILED:
            line += f" on {data.get('host')} {data.get('stdout') or ''}".rstrip()
        out.write(line + "\n")
    elif kind == "order":
        out.write(f"order {data['id']}: {data['status']}\n")
    out.flush()


def order_submit(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    order: dict[str, Any] = {"id": args.id, "action": args.action, "instance": args.instance}
    if args.namespace:
        order["namespace"] = args.namespace
    if variables := _vars(args):
        order["vars"] = variables
    status, record = client.submit(order)
    out.write(
        f"order {record['id']}: {'accepted' if status == 202 else 'already known'} "
        f"({record['status']})\n"
    )
    if not args.follow:
        _print_json(record, out)
        return 0
    return _follow_order(client, record["id"], out)


def _follow_order(client: Client, order_id: str, out: TextIO) -> int:
    final: dict[str, Any] = {}
    for kind, data in client.follow(f"/api/v1/orders/{order_id}/events"):
        if kind == "end":
            final = data
        else:
            _progress(kind, data, out)
    if not final:
        out.write("the stream ended before the order did (service stopping?)\n")
        return 1
    _print_json({k: final.get(k) for k in ("id", "status", "message", "results")}, out)
    return 0 if final.get("status") in SUCCESS_STATUSES else 1


def order_show(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.follow:
        return _follow_order(client, args.id, out)
    _print_json(client.get(f"/api/v1/orders/{args.id}"), out)
    return 0


def runs_list(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    path = "/api/v1/runs" + (f"?order={args.order}" if args.order else "")
    for run in client.items(path, args.chunk_size):
        out.write(
            f"{run['id']}  {run['status']:<10} {run['action']:<9} {run['instance']:<20} "
            f"order={run['order_id']} attempt={run['attempt']}\n"
        )
    return 0


def runs_show(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    _print_json(client.get(f"/api/v1/runs/{args.id}"), out)
    return 0


def runs_cancel(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    _print_json(client.call("POST", f"/api/v1/runs/{args.id}/cancel")[1], out)
    return 0


def runs_events(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    path = f"/api/v1/runs/{args.id}/events"
    if args.follow:
        for kind, data in client.follow(path):
            if kind == "event" and data.get("stdout"):
                out.write(data["stdout"] + "\n")
        return 0
    for event in client.items(path, args.chunk_size):
        if event.get("stdout"):
            out.write(event["stdout"] + "\n")
    return 0


def instances_list(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    for inst in client.items("/api/v1/instances", args.chunk_size):
        url = (inst.get("results") or {}).get("admin_url") or "-"
        out.write(f"{inst['name']:<20} {inst['namespace']:<30} {inst['status']:<12} {url}\n")
    return 0


def instances_show(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    record = client.get(f"/api/v1/instances/{args.name}")
    _print_json(record, out)
    health = record.get("health") or {}
    out.write(f"health: {health.get('status')} {health.get('reason') or ''}".rstrip() + "\n")
    return 0


def _transition(data: dict[str, Any]) -> str:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(data["at"]))
    return f"{at} {data['status']:<11} {data['reason']}\n"


def instances_health(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    path = f"/api/v1/instances/{args.name}/health"
    if args.follow:
        for kind, data in client.follow(path):
            if kind == "health":
                out.write(_transition(data))
                out.flush()
        return 0
    for data in client.items(path, args.chunk_size):
        out.write(_transition(data))
    return 0


def instances_credentials(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    _print_json(client.get(f"/api/v1/instances/{args.name}/credentials"), out)
    return 0


def instances_repair(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    status, record = client.call("POST", f"/api/v1/instances/{args.name}/repair")
    out.write(
        f"repair order {record['id']}: {'accepted' if status == 202 else 'already under way'} "
        f"({record['status']})\n"
    )
    if not args.follow:
        _print_json(record, out)
        return 0
    return _follow_order(client, record["id"], out)


def dead_letters(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """The dead letters, newest first, one a line."""
    for letter in client.items("/api/v1/dead-letters", args.chunk_size):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(letter["at"]))
        out.write(f"{at}  {letter['kind']:<10} {letter['entry']}  {letter['message_id'] or '-'}\n")
    return 0


def _chunked(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="items per request while reading the whole list (default: the service's page)",
    )
    return parser


def add_client_commands(sub: Any) -> None:
    order = sub.add_parser("order", help="submit and inspect orders").add_subparsers(
        dest="verb", required=True
    )
    submit = order.add_parser("submit", help="submit an order (signed when a secret is set)")
    submit.add_argument("--id", required=True, help="the order's idempotency key")
    submit.add_argument("--action", required=True, choices=["provision", "update", "destroy"])
    submit.add_argument("--instance", required=True)
    submit.add_argument("--namespace", help="default: litemaas-<instance>")
    submit.add_argument("--var", action="append", metavar="NAME=VALUE", help="an order var")
    submit.add_argument("--vars-file", help="YAML mapping of order vars")
    submit.add_argument("--follow", action="store_true", help="show live progress to the end")
    submit.set_defaults(func=order_submit)
    show = order.add_parser("show", help="an order with its runs and results")
    show.add_argument("id")
    show.add_argument("--follow", action="store_true")
    show.set_defaults(func=order_show)
    runs = sub.add_parser("runs", help="inspect and cancel runs").add_subparsers(
        dest="verb", required=True
    )
    rlist = _chunked(runs.add_parser("list", help="recent runs"))
    rlist.add_argument("--order")
    rlist.set_defaults(func=runs_list)
    for name, func in (("show", runs_show), ("cancel", runs_cancel), ("events", runs_events)):
        p = runs.add_parser(name, help=f"{name} a run")
        p.add_argument("id")
        if name == "events":
            _chunked(p).add_argument("--follow", action="store_true")
        p.set_defaults(func=func)
    inst = sub.add_parser("instances", help="inspect instances").add_subparsers(
        dest="verb", required=True
    )
    _chunked(inst.add_parser("list", help="all instances")).set_defaults(func=instances_list)
    for name, func in (("show", instances_show), ("credentials", instances_credentials)):
        p = inst.add_parser(name, help=f"{name} of an instance")
        p.add_argument("name")
        p.set_defaults(func=func)
    health = _chunked(inst.add_parser("health", help="an instance's health transitions"))
    health.add_argument("name")
    health.add_argument("--follow", action="store_true", help="show transitions as they happen")
    health.set_defaults(func=instances_health)
    repair = inst.add_parser("repair", help="ask for a repair (the budget starts again)")
    repair.add_argument("name")
    repair.add_argument("--follow", action="store_true", help="show live progress to the end")
    repair.set_defaults(func=instances_repair)
    dead = sub.add_parser("dead-letters", help="the message intake's dead letters, newest first")
    _chunked(dead).set_defaults(func=dead_letters)


def stdout() -> TextIO:
    return sys.stdout
