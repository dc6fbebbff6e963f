"""The ``ipinsights`` command line: train, predict, generate, evaluate, demo, serve, tune.

One module per command, each with ``add_parser(subparsers)`` registering its subparser and the
function ``main`` runs as ``args.run(args)``; :data:`COMMANDS` lists them, in ``--help``'s order.
Every option's help follows one convention (:class:`~ipinsights.cli._common.HelpFormatter`).
The command modules import only what their options need at the top; the work is imported where
it is run, so that ``ipinsights --help`` does not load PyTorch.

Errors a user can cause are printed as one line, ``ipinsights: error: ...``, with exit status 2;
a traceback means a bug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ipinsights.cli import demo, evaluate, generate, predict, serve, train, tune
from ipinsights.cli._common import HelpFormatter
from ipinsights.errors import IPInsightsError

__all__ = ["COMMANDS", "build_parser", "main"]

#: The command modules, in the order ``ipinsights --help`` lists them.
COMMANDS = (train, predict, generate, evaluate, demo, serve, tune)


def build_parser() -> argparse.ArgumentParser:
    """The ``ipinsights`` parser with every command of :data:`COMMANDS`."""
    from ipinsights._version import __version__

    parser = argparse.ArgumentParser(
        prog="ipinsights",
        description="Open, self-hosted IP Insights: learn which IP addresses each user or account "
        "normally uses, and score new (entity, IP) pairs.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ipinsights {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 usage or input error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except IPInsightsError as exc:
        print(f"ipinsights: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:
        print(f"ipinsights: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ipinsights: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
