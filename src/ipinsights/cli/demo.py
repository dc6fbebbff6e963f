"""``ipinsights demo``: generate logins, train, compare with baselines and report, in one folder."""

from __future__ import annotations

import argparse

from ipinsights.cli._common import HelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights demo``."""
    from ipinsights.lab.demo import add_demo_parser

    add_demo_parser(subparsers).formatter_class = HelpFormatter
