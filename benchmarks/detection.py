"""Detection on hard attackers: model candidates x attack sets, against the best training-free baseline.

Each candidate is trained on the generator's unlabeled training logins only (validation metrics
from the validation days); the attack sets are used for the final table alone, never to choose.

    .venv/bin/python benchmarks/detection.py --users 3000 --seed 0 \
        --candidate reference:history_score=0 --candidate default: \
        --candidate nearby2:nearby_negative_sampling_rate=2

Each cell: the model's ROC AUC (its ``score`` when it has one), its margin over the best
baseline of that attack set, the ROC AUC of ``dot_product`` alone and the model's TPR at 1 % FPR.

Prints a Markdown table (one row per candidate: validation metrics, ROC AUC per attack set and
its margin over the best baseline, training pairs/s); ``--out FILE.json`` also writes every number
(the committed ones: ``--out benchmarks/results/detection-u<users>-s<seed>.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def _candidate(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition(":")
    changes = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attacks", type=int, default=20000)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME:hp=v,...")
    parser.add_argument("--data", default=None, help="reuse generated data in this folder")
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from ipinsights.estimator import IPInsights
    from ipinsights.lab import ATTACKS, DemoSettings, RangeTable, evaluate, write_dataset

    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="detection-"))
    if not (data / "train.csv").exists():
        write_dataset(data, num_users=args.users, seed=args.seed, attacks=args.attacks)
    paths = {p.stem: p for p in data.glob("*.csv")}
    ranges = RangeTable.builtin()
    base = DemoSettings(num_users=args.users).hyperparameters()  # the demo's, table sized to the users
    rows = []
    for text in args.candidate or ["reference:"]:
        name, changes = _candidate(text)
        hp = {**base, **changes}
        history = hp.pop("history_score", "1") not in ("0", "false", "False")
        started = time.perf_counter()
        model = IPInsights(**hp, seed=args.seed, history_score=history).fit(paths["train"], validation=paths["validation"], log=None,
                                                     progress=False)
        seconds = time.perf_counter() - started
        report = evaluate(model, paths["test"], {a: paths[f"attack_{a}"] for a in ATTACKS}, paths["train"], ranges)
        row = {"candidate": name, "changes": changes, "train_seconds": round(seconds, 1),
               "throughput": model.metrics_["train:throughput"],
               "validation": {k: v for k, v in model.metrics_.items() if k.startswith("validation:")}, "attacks": {}}
        for attack in ATTACKS:
            result = report.attack(attack)
            best = result.best_baseline
            mine = result.result("ip_insights")
            dot = next((r for r in result.results if r.scorer == "ip_insights_dot_product"), mine)
            row["attacks"][attack] = {"auc": mine.roc_auc, "tpr_at_1pct": mine.point(0.01).tpr,
                                      "dot_product_auc": dot.roc_auc,
                                      "best_baseline": best.scorer, "best_baseline_auc": best.roc_auc,
                                      "best_baseline_tpr_at_1pct": best.point(0.01).tpr}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print("best baselines: " + ", ".join(f"{a} {v['best_baseline']} {v['best_baseline_auc']:.4f} (TPR@1% "
                                          f"{v['best_baseline_tpr_at_1pct']:.1%})" for a, v in rows[0]["attacks"].items()))
    header = ("| candidate | val disc. | val other users | val nearby | val detection | "
              + " | ".join(ATTACKS) + " | pairs/s |")
    print(header)
    print("|" + "---|" * (6 + len(ATTACKS)))
    for r in rows:
        v = r["validation"]
        cells = [f"{a['auc']:.4f} ({a['auc'] - a['best_baseline_auc']:+.4f}; dot {a['dot_product_auc']:.4f}; "
                 f"TPR@1% {a['tpr_at_1pct']:.1%})" for a in r["attacks"].values()]
        print(f"| {r['candidate']} | {v['validation:discriminator_auc']:.4f} | {v['validation:other_users_auc']:.4f} | "
              f"{v['validation:nearby_auc']:.4f} | {v['validation:detection_auc']:.4f} | " + " | ".join(cells)
              + f" | {r['throughput']:,.0f} |")
    if args.out:  # the committed results change only when asked (--out benchmarks/results/...)
        Path(args.out).write_text(json.dumps({"users": args.users, "seed": args.seed, "base": base, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
