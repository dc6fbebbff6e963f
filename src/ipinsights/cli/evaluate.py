"""``ipinsights evaluate``: a trained model against training-free baselines on attack sets."""

from __future__ import annotations

import argparse

from ipinsights.cli._common import HelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights evaluate``."""
    from ipinsights.lab.evaluation import add_evaluate_parser

    add_evaluate_parser(subparsers).formatter_class = HelpFormatter
