"""``ipinsights demo``: generate logins, train, compare with baselines and report, in one folder.

The options become :class:`~ipinsights.lab.demo.DemoSettings` for :func:`ipinsights.lab.demo.run_demo`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from typing import Any

from ipinsights.cli._common import HelpFormatter
from ipinsights.threads import THREADS_HELP, choose_threads, use_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights demo``."""
    from ipinsights.lab.demo import FAST, DemoSettings

    default = DemoSettings()
    p = subparsers.add_parser(
        "demo",
        help="the whole story in a few minutes: generate logins, train, compare with baselines, report",
        description="Generate realistic logins with the built-in range table, train IP Insights, "
        "evaluate it against training-free baselines on four attack sets, print the table and write "
        "report.md, report.json, PNGs, the model and the data into one folder.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--out", default="demo-report", metavar="DIR", help="output folder; reused only if a demo wrote it"
    )
    p.add_argument(
        "--users",
        type=int,
        default=None,
        metavar="N",
        help=f"simulated users (default: {default.num_users}; with --fast: {FAST.num_users})",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the data, the attack sets and the training"
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="E",
        help=f"training epochs (default: {default.epochs}; with --fast: {FAST.epochs})",
    )
    p.add_argument(
        "--attacks",
        type=int,
        default=None,
        metavar="N",
        help=f"rows per attack set (default: {default.num_attacks}; with --fast: {FAST.num_attacks})",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", default="auto", metavar="N|auto", help=THREADS_HELP)
    p.add_argument(
        "--fast", action="store_true", help="a tiny run in seconds, for tests and a first look; its numbers mean little"
    )
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ipinsights.lab.demo import FAST, DemoSettings, run_demo

    use_threads(choose_threads(args.threads))
    settings = FAST if args.fast else DemoSettings()
    changes: dict[str, Any] = {"seed": args.seed, "device": args.device}
    if args.users is not None:
        changes["num_users"] = args.users
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.attacks is not None:
        changes["num_attacks"] = args.attacks
    settings = replace(settings, **changes)
    command = (
        "ipinsights " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["demo"]
        else "ipinsights demo"
    )
    run_demo(args.out, settings, command=command)
    return 0
