"""``ipinsights evaluate``: a trained model against training-free baselines on attack sets.

The options are checked here and become a call of :func:`ipinsights.lab.evaluation.evaluate`
(attack sets from files) or :func:`~ipinsights.lab.evaluation.evaluate_logs` (attack sets made
from your own logs); the report is printed and written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ipinsights.cli._common import HelpFormatter, add_format_arguments
from ipinsights.errors import ConfigError, DataError
from ipinsights.threads import THREADS_HELP, choose_threads, use_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights evaluate``."""
    from ipinsights.lab.log_attacks import LOG_ATTACKS

    p = subparsers.add_parser(
        "evaluate",
        help="compare a trained model with training-free baselines on attack sets",
        description="Score normal logins and one or more attack sets with a trained model and with "
        "baselines that need no training (new IP, same /24 and /16 counts, hierarchical back-off); "
        "print ROC AUC, the share of attacks flagged at 1 %% and 10 %% of normal logins flagged and "
        "the thresholds; write report.json and one PNG per attack set. See docs/evaluation.md.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--model-dir", required=True, metavar="DIR", help="a model directory written by ipinsights train")
    p.add_argument(
        "--normal", required=True, metavar="PATH", help="normal logins, headerless entity,ip CSV such as test.csv"
    )
    p.add_argument(
        "--attack",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an attack set as name=CSV file (headerless entity,ip); repeat for several; without any, the "
        "attack sets are made from --train and --normal, see --attack-sets",
    )
    p.add_argument(
        "--attack-sets",
        default=None,
        metavar="NAMES",
        help=f"comma-separated attack sets to make from your own --train and --normal logs: {', '.join(LOG_ATTACKS)}, "
        "see ipinsights.lab.log_attacks (default: all of them when no --attack is given, none otherwise)",
    )
    p.add_argument(
        "--attack-seed", type=int, default=0, metavar="S", help="seed of the attack sets made from the logs"
    )
    p.add_argument(
        "--attack-rows",
        type=int,
        default=None,
        metavar="N",
        help="rows per attack set made from the logs (default: as many as normal logins, 1,000 to 100,000)",
    )
    p.add_argument(
        "--train", required=True, metavar="PATH", help="the training logins, which the baselines count"
    )
    p.add_argument(
        "--ranges",
        default=None,
        metavar="FILE",
        help="IPv4 range table (iptoasn TSV, ip-location-db CSV, .npz, or 'builtin') for the ASN back-off "
        "baseline (default: none, that baseline is left out)",
    )
    p.add_argument("--out", default="evaluation", metavar="DIR", help="where to write report.json and the PNGs")
    p.add_argument(
        "--target-fpr",
        action="append",
        type=float,
        default=None,
        metavar="FRACTION",
        help="a false-alarm budget to give the operating point and threshold of, as a share of normal logins; "
        "repeatable, the first one is the verdicts' (default: 0.01 and 0.1)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda, for scoring with the model")
    p.add_argument("--threads", default="auto", metavar="N|auto", help=THREADS_HELP)
    add_format_arguments(
        p,
        applies_to="--normal and --train (--attack files are entity,ip CSV, as generate and make_attacks write them)",
    )
    p.set_defaults(run=_run_evaluate)


def _parse_attack(item: str) -> tuple[str, str]:
    name, sep, path = item.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise ConfigError(
            f"--attack expects NAME=PATH, got {item!r} (e.g. --attack random_range=attack_random_range.csv)"
        )
    return name.strip(), path.strip()


def _run_evaluate(args: argparse.Namespace) -> int:
    from ipinsights.estimator import IPInsights
    from ipinsights.lab.evaluation import evaluate, evaluate_logs
    from ipinsights.lab.report import DEFAULT_FPRS

    use_threads(choose_threads(args.threads))

    attacks: dict[str, str] = {}
    for item in args.attack:
        name, path = _parse_attack(item)
        if name in attacks:
            raise ConfigError(f"--attack {name} is given twice; give each attack set a different name")
        attacks[name] = path
    for label, path in [
        ("--normal", args.normal),
        ("--train", args.train),
        *((f"--attack {n}", p) for n, p in attacks.items()),
    ]:
        if not Path(path).exists():
            raise DataError(f"{label} {path}: no such file or directory")
    sets = None if args.attack_sets is None else [n.strip() for n in args.attack_sets.split(",") if n.strip()]
    if sets is None and not attacks:
        from ipinsights.lab.log_attacks import LOG_ATTACKS

        sets = list(LOG_ATTACKS)
    clashes = sorted(set(sets or ()) & set(attacks))
    if clashes:
        raise ConfigError(
            f"--attack {clashes[0]} has the name of an attack set made from the logs; rename it"
        )
    fprs = tuple(args.target_fpr) if args.target_fpr else DEFAULT_FPRS
    for f in fprs:
        if not 0.0 < f < 1.0:
            raise ConfigError(
                f"--target-fpr is a share of normal logins in (0, 1), got {f:g} (e.g. --target-fpr 0.01)"
            )
    model = IPInsights.load(args.model_dir, device=args.device)
    fields = {"entity_field": args.entity_field, "ip_field": args.ip_field}
    if sets:
        report = evaluate_logs(
            model,
            args.normal,
            args.train,
            format=args.format,
            **fields,
            attack_sets=sets,
            num_attack_rows=args.attack_rows,
            seed=args.attack_seed,
            attacks=attacks,
            ranges=args.ranges,
            target_fprs=fprs,
        )
        built = report.meta["attack_sets_from_logs"]
        print(
            f"ipinsights evaluate: attack sets made from {args.train} and {args.normal} with --attack-seed "
            f"{args.attack_seed}: " + ", ".join(f"{s['name']} ({s['rows']} rows)" for s in built["sets"]),
            file=sys.stderr,
        )
    else:
        normal, train = args.normal, args.train
        if args.format != "csv" or args.entity_field or args.ip_field:
            from ipinsights.readers import read_log

            normal, train = (read_log(path, args.format, **fields) for path in (args.normal, args.train))
        report = evaluate(model, normal, attacks, train, args.ranges, target_fprs=fprs)
    report.meta["model"]["model_dir"] = str(args.model_dir)
    report.print()
    written = report.write(args.out, plots=not args.no_plots)
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0
