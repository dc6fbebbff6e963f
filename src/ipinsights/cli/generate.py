"""``ipinsights generate``: write realistic synthetic logins, split by time, and attack sets."""

from __future__ import annotations

import argparse

from ipinsights.cli._common import HelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights generate``."""
    from ipinsights.lab.datasets import add_generate_arguments, run_generate

    p = subparsers.add_parser(
        "generate",
        help="write realistic synthetic logins (entity,ip CSV split by time, attack sets)",
        description="Simulate web logins with the public IP Insights example's model over real IPv4 ranges. "
        "IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), CC BY 4.0, "
        "via ip-location-db.",
        formatter_class=HelpFormatter,
    )
    add_generate_arguments(p)
    p.set_defaults(run=run_generate)
