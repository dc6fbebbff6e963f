"""Compare IP encoder designs on the example's data: validation AUC per epoch, attack AUC, speed.

    .venv/bin/python benchmarks/encoder_designs.py [--users 3000] [--seed 7] [--epochs 5] [--designs prefix prefix24 ...]

Trains each design with the example's hyperparameters on the same generated data (the public
example's generator, built-in range table), and reports validation:discriminator_auc after every
epoch, ROC AUC of test logins vs each attack set (anomaly score = -dot_product) and training
throughput. Results go to stdout (a Markdown table) and, with --save, benchmarks/results/encoder_designs.json (the committed results; --out PATH
for elsewhere). By default nothing is written.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ipinsights import IPInsights
from ipinsights.lab import make_attacks, write_dataset
from ipinsights.model import DESIGNS

EXAMPLE = dict(
    num_entity_vectors=20000, vector_dim=128, random_negative_sampling_rate=5, mini_batch_size=1000,
    learning_rate=0.01, batch_metrics_publish_interval=100000,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument(
        "--save", action="store_true", help="write benchmarks/results/encoder_designs.json (the committed results)"
    )
    parser.add_argument("--out", default=None, help="write the JSON results here (default: print only)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ipinsights-designs-"))
    paths = write_dataset(work, num_users=args.users, seed=args.seed)
    train = pd.read_csv(paths["train"], header=None, names=["entity", "ip"])
    test = pd.read_csv(paths["test"], header=None, names=["entity", "ip"])
    attacks = {name: make_attacks(name, train, len(test), seed=args.seed) for name in ("random_range", "nearby_ranges")}
    results = []
    for design in args.designs:
        aucs: list[float] = []
        started = time.perf_counter()
        model = IPInsights(**EXAMPLE, epochs=args.epochs, ip_encoder=design, seed=args.seed)
        model.fit(paths["train"], validation=paths["validation"], log=None, progress=False,
                  callbacks=[lambda epoch, metrics, aucs=aucs: aucs.append(metrics["validation:discriminator_auc"])])
        seconds = time.perf_counter() - started
        normal = -model.score(test.entity.tolist(), test.ip.tolist())
        row = {"design": design, "validation_auc": aucs, "seconds": seconds,
               "throughput": float(np.mean([h["train:throughput"] for h in model.history_]))}
        for name, frame in attacks.items():
            attack = -model.score(frame.entity.tolist(), frame.ip.tolist())
            labels = np.r_[np.zeros(len(normal)), np.ones(len(attack))]
            row[f"auc_{name}"] = float(roc_auc_score(labels, np.r_[normal, attack]))
        results.append(row)
        print(json.dumps(row), flush=True)
    out = args.out or ("benchmarks/results/encoder_designs.json" if args.save else None)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print("\n| design | validation AUC by epoch | test vs random_range AUC | test vs nearby_ranges AUC | pairs/s |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['design']} | {', '.join(f'{a:.4f}' for a in r['validation_auc'])} | {r['auc_random_range']:.4f} "
              f"| {r['auc_nearby_ranges']:.4f} | {r['throughput']:,.0f} |")


if __name__ == "__main__":
    main()
