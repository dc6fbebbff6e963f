"""Roaming logins as a validation kind, and the weight of each kind in the combined score's fit.

A random-range attacker logs in from a uniformly random routed range, as a user does when
travelling, and the score of the last round lost that attack set to the back-off baseline: no
validation kind put a negative where people really log in from when they are away. This script
measures the sixth kind, ``roaming`` (another entity's validation login from a /16 that entity never
used in training, ``ValidationSet.roaming``), and the shares of the kinds in ``HistoryScore.fit``:
per candidate, the margins over the best training-free baseline on every validation kind (what a
choice may be based on) and on every attack set (the check), each with the model's true-positive
rate at 1 % false positives:

    .venv/bin/python benchmarks/detection_roaming.py --data DIR --model MODEL_DIR
    # DIR from: .venv/bin/ipinsights generate --users 3000 --seed 0 --attacks 20000 --out DIR
    # MODEL_DIR: a model trained on DIR with the demo's settings (only its dot product is read;
    # without --model one is trained)

Every candidate fits today's 16 features at degree 2 (``HistoryScore.fit``) on the validation
days; they differ in the kinds of negatives and their shares. ``minimax`` re-weighs the kinds
step by step, each kind's share multiplied by ``exp(-clip(margin, ±0.004) / 0.004)`` after each
fit (margin: the kind's validation AUC minus the best baseline's), and prints every step. The
product's default is the candidate ``shares 4/1/1/1/1/1`` (``history.KIND_WEIGHTS``), chosen by
the rule in docs/design.md ("Roaming logins, and the kinds' shares"): on validation only, the
best sorted AUC margins (worst first) among the shares that keep every validation kind's
true-positive rate at 1 % within 0.05 of the equal shares'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_backoff import _arguments, _auc, _setup

ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")
FIVE = ("discriminator", "other_users", "nearby", "nearby_24", "populated")
SIX = (*FIVE, "roaming")
#: (label, kinds, shares, extra feature): the rows of docs/design.md's table.
CANDIDATES = (
    ("five kinds, equal shares (the last stop's default)", FIVE, None, False),
    ("six kinds, equal shares", SIX, None, False),
    ("six kinds, equal shares, + the entity's novelty rate", SIX, None, True),
    ("six kinds, shares 2/1/1/1/1/1", SIX, (2, 1, 1, 1, 1, 1), False),
    ("six kinds, shares 3/1/1/1/1/1", SIX, (3, 1, 1, 1, 1, 1), False),
    ("six kinds, shares 4/1/1/1/1/1 (today's default)", SIX, (4, 1, 1, 1, 1, 1), False),
    ("six kinds, shares 6/1/1/1/1/1", SIX, (6, 1, 1, 1, 1, 1), False),
    ("six kinds, shares 3/1/1/1/1/2", SIX, (3, 1, 1, 1, 1, 2), False),
    ("six kinds, shares 2/1/1/1/2/2", SIX, (2, 1, 1, 1, 2, 2), False),
    ("six kinds, shares 1.5/.5/.5/.5/1.5/1.5", SIX, (1.5, 0.5, 0.5, 0.5, 1.5, 1.5), False),
)


def _tpr(pos: np.ndarray, neg: np.ndarray) -> float:
    """The share of negatives below the threshold that flags 1 % of the positives."""
    return float((neg < np.quantile(pos, 0.01)).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    parser.add_argument("--only", type=int, nargs="*", default=None, help="run these rows of CANDIDATES only (0-based)")
    parser.add_argument("--minimax", type=int, default=0, metavar="STEPS", help="also run this many re-weighting steps")
    args = parser.parse_args(argv)

    import ipinsights.history as H
    from ipinsights.data import Pairs, ReadReport, read_pairs
    from ipinsights.train import ValidationSet

    train, val, model, history, baselines = _setup(args, "detection-roaming-", history_score=False)

    def novelty(entity: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """log of the entity's distinct /8s over its logins (how often it goes somewhere new)."""
        logins = history.tables["entity"](H._mix(np.asarray(entity, dtype=np.uint64)))
        distinct = history.tables["entity_distinct_root"](H._parent_keys(entity, hi, lo, "root"))
        return np.log((distinct + 0.5) / (logins + distinct + 1.0))[:, None]

    def rows(entity: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> dict[str, np.ndarray]:
        dot = model.score_hashed(entity, hi, lo).dot_product
        features = np.concatenate([history.features(entity, hi, lo, dot), novelty(entity, hi, lo)], 1)
        pairs = Pairs(entity, hi, lo, ReadReport("pairs"))
        return {"features": features, **{name: -b.score(pairs) for name, b in baselines.items()}}

    sets = ValidationSet.build(model._tensors(val), model._tensors(train))
    V = {"pairs": rows(val.entity_hash, val.ip_hi, val.ip_lo)}
    for name, p in sets.negatives().items():
        V[name.removesuffix("_auc")] = rows(val.entity_hash, p.ip_hi.cpu().numpy(), p.ip_lo.cpu().numpy())
    T = {}
    for name in ("test", *(f"attack_{a}" for a in ATTACKS)):
        p = read_pairs(f"{args.data}/{name}.csv")
        T[name] = rows(p.entity_hash, p.ip_hi, p.ip_lo)

    best_v = {k: max(_auc(V["pairs"][b], V[k][b]) for b in baselines) for k in SIX}
    best_t = {a: max(_auc(T["test"][b], T[f"attack_{a}"][b]) for b in baselines) for a in ATTACKS}
    print(f"best baseline, validation: { {k: round(v, 4) for k, v in best_v.items()} }")
    print(f"best baseline, attack sets: { {k: round(v, 4) for k, v in best_t.items()} }")
    print("cells: ROC AUC margin over the best baseline / the model's TPR at 1 % FPR")
    print("| candidate | worst validation margin | " + " | ".join(f"val {k}" for k in SIX) + " | " + " | ".join(ATTACKS) + " |")
    print("|---" * (2 + len(SIX) + len(ATTACKS)) + "|", flush=True)

    def candidate(label: str, kinds: tuple[str, ...], shares: tuple[float, ...] | None, extra: bool) -> dict[str, float]:
        width = len(H.FEATURES) + (1 if extra else 0)
        score = _fit(H, V["pairs"]["features"][:, :width], [V[k]["features"][:, :width] for k in kinds], shares)
        pos_v, pos_t = score(V["pairs"]["features"][:, :width]), score(T["test"]["features"][:, :width])
        neg_v = {k: score(V[k]["features"][:, :width]) for k in SIX}
        neg_t = {a: score(T[f"attack_{a}"]["features"][:, :width]) for a in ATTACKS}
        v = {k: _auc(pos_v, neg_v[k]) - best_v[k] for k in SIX}
        t = {a: _auc(pos_t, neg_t[a]) - best_t[a] for a in ATTACKS}
        print(f"| {label} | {min(v.values()):+.4f} | " + " | ".join(f"{v[k]:+.4f} / {_tpr(pos_v, neg_v[k]):.3f}" for k in SIX) + " | "
              + " | ".join(f"{t[a]:+.4f} / {_tpr(pos_t, neg_t[a]):.3f}" for a in ATTACKS) + " |", flush=True)
        return v

    for i, row in enumerate(CANDIDATES):
        if args.only is None or i in args.only:
            candidate(*row)
    shares = dict.fromkeys(SIX, 1.0)
    for step in range(args.minimax):
        label = "minimax step " + str(step) + ", shares " + "/".join(f"{shares[k]:.2f}" for k in SIX)
        margin = candidate(label, SIX, tuple(shares[k] for k in SIX), False)
        shares = {k: w * float(np.exp(-np.clip(margin[k], -0.004, 0.004) / 0.004)) for k, w in shares.items()}
        shares = {k: w * len(SIX) / sum(shares.values()) for k, w in shares.items()}
    return 0


def _fit(H, positives, negatives, shares):
    """``HistoryScore.fit`` on every column given (the 16 of FEATURES, and an extra one when given)."""
    from sklearn.linear_model import LogisticRegression

    if positives.shape[1] == len(H.FEATURES):
        return H.HistoryScore.fit(positives, negatives, kind_weights=shares)
    # 17 columns: the same fit (HistoryScore's weighing, standardising, solver and clipping) by hand.
    kinds = list(negatives)
    w = np.ones(len(kinds)) if shares is None else np.asarray(shares, dtype=float)
    w = w / w.sum()
    raw = np.concatenate([positives, *kinds])
    low, high = raw.min(0), raw.max(0)
    x = H.expand(raw, 2)
    y = np.r_[np.ones(len(positives)), np.zeros(len(raw) - len(positives))]
    sample = np.concatenate([np.full(len(positives), 0.5 / len(positives))] + [np.full(len(k), 0.5 * s / len(k)) for k, s in zip(kinds, w, strict=True)]) * len(raw)
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1
    model = LogisticRegression(C=1.0, max_iter=2000, solver="newton-cholesky").fit((x - mean) / std, y, sample_weight=sample)
    return lambda f: ((H.expand(np.clip(f, low, high), 2) - mean) / std) @ model.coef_[0]


if __name__ == "__main__":
    sys.exit(main())
