"""``ipinsights generate``: write realistic synthetic logins, split by time, and attack sets.

What it writes, and the checks of these options, are :func:`ipinsights.lab.datasets.run_generate`'s.
"""

from __future__ import annotations

import argparse

from ipinsights.cli._common import HelpFormatter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights generate``."""
    from ipinsights.lab.attacks import ATTACKS
    from ipinsights.lab.datasets import run_generate

    p = subparsers.add_parser(
        "generate",
        help="write realistic synthetic logins (entity,ip CSV split by time, attack sets)",
        description="Simulate web logins with the public IP Insights example's model over real IPv4 ranges. "
        "IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), CC BY 4.0, "
        "via ip-location-db.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--users", type=int, default=10_000, metavar="N", help="number of simulated users")
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed; the same seed writes the same bytes"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory, created if needed")
    p.add_argument(
        "--ranges",
        default="builtin",
        metavar="FILE",
        help="IPv4 range table: 'builtin' (ip-location-db, CC BY 4.0) or an iptoasn TSV, "
        "ip-location-db CSV or .npz file, optionally gzipped",
    )
    p.add_argument(
        "--days",
        type=int,
        default=None,
        metavar="D",
        help="length of the simulated window; must equal the sum of the three periods (default: that sum)",
    )
    p.add_argument("--train-days", type=int, default=7, metavar="D", help="days in train.csv")
    p.add_argument("--validation-days", type=int, default=1, metavar="D", help="days in validation.csv")
    p.add_argument(
        "--test-days", type=int, default=2, metavar="D", help="days in test.csv, logins of users seen in training only"
    )
    p.add_argument(
        "--ipv6-share", type=float, default=0.0, metavar="X", help="share of users on IPv6 home/work networks, 0..1"
    )
    p.add_argument("--apache-log", action="store_true", help="also write access.log in Apache combined format")
    p.add_argument(
        "--attacks",
        type=int,
        default=0,
        metavar="N",
        help=f"also write N rows of each attack set to attack_<name>.csv: {', '.join(ATTACKS)}",
    )
    p.set_defaults(run=run_generate)
