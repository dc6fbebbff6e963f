"""How the dot product and the entity's history combine: fusion variants on one trained model.

Trains the demo's configuration once (``--nearby N`` nearby negatives), then scores the
validation pairs and their fixed-seed negatives (``ipinsights.train.ValidationSet``) and the
test logins and attack sets of a generated data folder, and prints, for each way of combining
the features of ``ipinsights.history`` (the dot product, fixed fusions, logistic models on
feature subsets or with the negative kinds weighed differently), its validation AUCs (random,
other users, nearby: what a choice may be based on) and its attack-set AUCs (random_range,
random_ipv4, other_users, nearby_ranges: the check).

    .venv/bin/python benchmarks/detection_fusions.py --data DIR --nearby 0
    # DIR from: .venv/bin/ipinsights generate --users 3000 --seed 0 --attacks 20000 --out DIR

The logistic models here weigh the samples instead of the classes, so "lr all" is close to,
not identical with, ``HistoryScore.fit``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import PolynomialFeatures

KINDS = ("random", "other_users", "nearby")
ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--nearby", type=int, default=0)
    parser.add_argument("--users", type=int, default=3000)
    args = parser.parse_args(argv)

    from ipinsights import IPInsights
    from ipinsights.data import read_pairs
    from ipinsights.history import FEATURES
    from ipinsights.lab import DemoSettings
    from ipinsights.train import ValidationSet, score_pairs

    # The 13 features this script was written for (the default score before the back-off pair and
    # the /24 distance joined it).
    DEFAULT_FEATURES = FEATURES[:13]
    hp = {**DemoSettings(num_users=args.users).hyperparameters(), "nearby_negative_sampling_rate": args.nearby}
    model = IPInsights(**hp).fit(f"{args.data}/train.csv", validation=f"{args.data}/validation.csv", log=None,
                                 progress=False)
    assert model.history is not None
    train, val = read_pairs(f"{args.data}/train.csv"), read_pairs(f"{args.data}/validation.csv")
    sets = ValidationSet.build(model._tensors(val), model._tensors(train))
    V = {}
    for kind in ("pairs", *KINDS):
        p = getattr(sets, kind)
        dot = score_pairs(model.net, p).cpu().numpy()
        V[kind] = model.history.features(val.entity_hash, p.ip_hi.cpu().numpy(), p.ip_lo.cpu().numpy(), dot)
    T = {}
    for name in ("test", *(f"attack_{a}" for a in ATTACKS)):
        p = read_pairs(f"{args.data}/{name}.csv")
        s = model.score_hashed(p.entity_hash, p.ip_hi, p.ip_lo)
        T[name] = model.history.features(p.entity_hash, p.ip_hi, p.ip_lo, s.dot_product)
    F = {n: i for i, n in enumerate(FEATURES)}

    def report(name, f) -> None:
        v = [_auc(f(V["pairs"]), f(V[k])) for k in KINDS]
        t = [_auc(f(T["test"]), f(T[f"attack_{a}"])) for a in ATTACKS]
        print(f"| {name} | {np.mean(v):.4f} | " + " | ".join(f"{x:.4f}" for x in v) + " | "
              + " | ".join(f"{x:.4f}" for x in t) + " |", flush=True)

    def lr(cols, weights=(1, 1, 1), expand=None):
        idx = [F[c] for c in cols]
        grow = expand or (lambda X: X)
        pos, negs = grow(V["pairs"][:, idx]), [grow(V[k][:, idx]) for k in KINDS]
        x = np.concatenate([pos, *negs])
        y = np.r_[np.ones(len(pos)), np.zeros(sum(len(n) for n in negs))]
        share = len(pos) / sum(len(n) for n in negs) * 3 / sum(weights)
        w = np.concatenate([np.ones(len(pos))] + [np.full(len(n), wi * share) for n, wi in zip(negs, weights, strict=True)])
        mu, sd = x.mean(0), x.std(0)
        sd[sd == 0] = 1
        fitted = LogisticRegression(max_iter=2000).fit((x - mu) / sd, y, sample_weight=w)
        return lambda X: ((grow(X[:, idx]) - mu) / sd) @ fitted.coef_[0]

    def dot(X):
        return X[:, F["dot_in_known_16"]] + X[:, F["dot_in_known_8_only"]] + X[:, F["dot_outside_known_8"]]

    print(f"validation metrics of the dot product: {model.metrics_}")
    print("| fusion | val mean | val random | val other users | val nearby | " + " | ".join(ATTACKS) + " |")
    print("|---" * 10 + "|")
    report("dot product (the reference's score)", dot)
    report("log(1 + c16) alone", lambda X: X[:, F["log1p_count_16"]])
    for k in (1, 8):
        report(f"dot + {k} [c16 > 0] + log(1 + c24)", lambda X, k=k: dot(X) + k * X[:, F["in_known_16"]] + X[:, F["log1p_count_24"]])
    report("logistic, all features (≈ the shipped HistoryScore)", lr(DEFAULT_FEATURES))
    report("logistic, without the /8 features", lr([f for f in DEFAULT_FEATURES if "8" not in f] + ["dot_outside_known_8"]))
    report("logistic, dot + entity counts only", lr(["dot_in_known_16", "dot_in_known_8_only", "dot_outside_known_8",
                                                     "in_known_16", "log1p_count_ip", "log1p_count_24", "log1p_count_16"]))
    report("logistic, without how busy networks are", lr([f for f in DEFAULT_FEATURES if "busy" not in f]))
    report("logistic, random negatives x2", lr(DEFAULT_FEATURES, (2, 1, 1)))
    report("logistic, nearby negatives x2", lr(DEFAULT_FEATURES, (1, 1, 2)))
    square = PolynomialFeatures(2, include_bias=False)
    report("logistic on all products of two features (degree 2)", lr(DEFAULT_FEATURES, expand=square.fit_transform))
    return 0


if __name__ == "__main__":
    sys.exit(main())
