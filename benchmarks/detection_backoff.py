"""The back-off candidates for the combined score: the back-off baseline's probabilities as features.

Trains the demo's configuration on a generated folder (or loads ``--model``), then fits logistic
scores on the validation days against fixed-seed validation negatives, for several feature sets,
negative kinds and kind weights, and prints for each its margins over the best training-free
baseline (backoff, backoff_lr, same_16_count, same_24_count), first on every validation kind
(what a choice may be based on), then on every attack set (the check):

    .venv/bin/python benchmarks/detection_backoff.py --data DIR --users 3000
    # DIR from: .venv/bin/ipinsights generate --users 3000 --seed 0 --attacks 20000 --out DIR
    # a different range table: benchmarks/modified_ranges.py, then generate --ranges

Validation kinds: the three of ``ipinsights.train.ValidationSet`` (random, other_users, nearby),
and two more drawn here (seed 12345 / 777): ``populated``, a uniformly random address in a /16
that some training login used (uniform over those /16s; a stand-in for routed space without a
range table), and ``nearpop``, a real training address, last octet random, in a populated /16 of
the pair's /8 at most 16 networks away (never one the entity used). Features: the 13 of the
default score, ``log_p_backoff``/``log_g_backoff`` (``bo``), and the back-off chain's four levels
one by one (``lev``: log p and log g of each level).
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")
KINDS = ("random", "other_users", "nearby", "populated", "nearpop")


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def _levels(history, entity_hash, hi, lo) -> np.ndarray:
    """(n, 8) log p and log g of each level of the back-off chain (as ``EntityHistory._backoff``)."""
    import ipinsights.history as h
    from ipinsights.addresses import is_ipv4

    is_v4 = is_ipv4(hi, lo)
    t = history.tables
    mine = {lv: t[f"entity_{lv}"](h.network_keys(entity_hash, hi, lo, lv)) for lv in h._ENTITY_LEVELS}
    mine["root"] = t["entity"](h._mix(np.asarray(entity_hash, dtype=np.uint64)))
    every = {lv: t[f"busy_{lv}"](h._parent_keys(None, hi, lo, lv)) for lv in (*h._ENTITY_LEVELS, "root")}
    columns = []
    for child, parent in h._CHAIN:
        floor = np.exp(np.where(is_v4, *h._LOG_FLOOR[child]))
        spread = t[f"busy_distinct_{parent}"](h._parent_keys(None, hi, lo, parent))
        seen = every[parent] > 0
        g = np.where(seen, (every[child] + spread * floor) / np.where(seen, every[parent] + spread, 1.0), floor)
        novelty = t[f"entity_distinct_{parent}"](h._parent_keys(entity_hash, hi, lo, parent))
        known = mine[parent] > 0
        p = np.where(known, (mine[child] + novelty * g) / np.where(known, mine[parent] + novelty, 1.0), g)
        columns += [np.log(p), np.log(g)]
    return np.stack(columns, axis=1)


def _populated(train, val, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v4 = (train.ip_hi == 0) & ((train.ip_lo >> 32) == 0xFFFF)
    s16 = np.unique((train.ip_lo[v4] & 0xFFFFFFFF) >> 16)
    own = set(zip(train.entity_hash[v4].tolist(), ((train.ip_lo[v4] & 0xFFFFFFFF) >> 16).tolist(), strict=True))
    pick = s16[rng.integers(len(s16), size=len(val))]
    for _ in range(20):
        bad = np.array([(e, s) in own for e, s in zip(val.entity_hash.tolist(), pick.tolist(), strict=True)])
        if not bad.any():
            break
        pick[bad] = s16[rng.integers(len(s16), size=int(bad.sum()))]
    lo = (np.int64(0xFFFF) << 32) | (pick << 16) | rng.integers(0, 1 << 16, size=len(val))
    return val.entity_hash, np.zeros(len(val), np.int64), lo


def _nearpop(train, val, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v4 = (train.ip_hi == 0) & ((train.ip_lo >> 32) == 0xFFFF)
    address = np.sort(train.ip_lo[v4] & 0xFFFFFFFF)
    s16, start, count = np.unique(address >> 16, return_index=True, return_counts=True)
    own = set(zip(train.entity_hash[v4].tolist(), ((train.ip_lo[v4] & 0xFFFFFFFF) >> 16).tolist(), strict=True))
    mine = (val.ip_lo & 0xFFFFFFFF) >> 16
    is_v4 = (val.ip_hi == 0) & ((val.ip_lo >> 32) == 0xFFFF)
    low = np.searchsorted(s16, np.maximum(mine - 16, (mine >> 8) << 8))
    high = np.searchsorted(s16, np.minimum(mine + 16, ((mine >> 8) << 8) + 255), side="right")
    choice = np.full(len(val), -1)
    todo = np.flatnonzero(is_v4 & (high > low))
    for _ in range(30):
        if not len(todo):
            break
        k = low[todo] + (rng.random(len(todo)) * (high[todo] - low[todo])).astype(np.int64)
        ok = np.array([(e, s) not in own for e, s in zip(val.entity_hash[todo].tolist(), s16[k].tolist(), strict=True)])
        ok &= s16[k] != mine[todo]
        choice[todo[ok]] = k[ok]
        todo = todo[~ok]
    k = choice[choice >= 0]
    pick = start[k] + (rng.random(len(k)) * count[k]).astype(np.int64)
    lo = (np.int64(0xFFFF) << 32) | (address[pick] & ~0xFF) | rng.integers(0, 256, size=len(k))
    return val.entity_hash[choice >= 0], np.zeros(len(k), np.int64), lo


def _arguments(parser: argparse.ArgumentParser) -> None:
    """The options every detection script takes: the data, its users, a model to reuse."""
    parser.add_argument("--data", required=True, help="a folder written by ipinsights generate --attacks N")
    parser.add_argument("--users", type=int, default=3000, help="users of the data (for the demo's table size)")
    parser.add_argument("--model", default=None, help="reuse a model trained on --data (default: train one)")


def _setup(args: argparse.Namespace, prefix: str, history_score: bool = True):
    """The data, the model (``--model``, or one trained with the demo's settings), the entity
    history with its back-off tables, and the four counting baselines every detection script
    compares with: ``(train, val, model, history, baselines)``."""
    import torch

    from ipinsights.data import read_pairs
    from ipinsights.estimator import IPInsights
    from ipinsights.history import EntityHistory
    from ipinsights.lab import BackoffBaseline, DemoSettings, PrefixCountBaseline

    torch.set_num_threads(1)
    train, val = read_pairs(f"{args.data}/train.csv"), read_pairs(f"{args.data}/validation.csv")
    if args.model:
        model = IPInsights.load(args.model)
    else:
        model = IPInsights(**DemoSettings(num_users=args.users).hyperparameters(), history_score=history_score)
        model.fit(f"{args.data}/train.csv", validation=f"{args.data}/validation.csv", log=None, progress=False)
        model.save(tempfile.mkdtemp(prefix=prefix))
    history = EntityHistory.build(train.entity_hash, train.ip_hi, train.ip_lo, backoff=True)
    baselines = {
        "backoff": BackoffBaseline().fit(train),
        "backoff_lr": BackoffBaseline(likelihood_ratio=True).fit(train),
        "same_16_count": PrefixCountBaseline(16).fit(train),
        "same_24_count": PrefixCountBaseline(24).fit(train),
    }
    return train, val, model, history, baselines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    args = parser.parse_args(argv)

    from ipinsights.data import Pairs, ReadReport, read_pairs
    from ipinsights.history import FEATURES, expand
    from ipinsights.train import ValidationSet

    train, val, model, history, baselines = _setup(args, "detection-backoff-")

    def rows(entity_hash, hi, lo):
        dot = model.score_hashed(entity_hash, hi, lo).dot_product
        pairs = Pairs(entity_hash, hi, lo, ReadReport("pairs"))
        return {
            "features": np.concatenate([history.features(entity_hash, hi, lo, dot), _levels(history, entity_hash, hi, lo)], 1),
            **{name: -b.score(pairs) for name, b in baselines.items()},
        }

    sets = ValidationSet.build(model._tensors(val), model._tensors(train))
    V = {}
    for kind in ("pairs", "random", "other_users", "nearby"):
        p = getattr(sets, kind)
        V[kind] = rows(val.entity_hash, p.ip_hi.cpu().numpy(), p.ip_lo.cpu().numpy())
    V["populated"] = rows(*_populated(train, val, np.random.default_rng(12345)))
    V["nearpop"] = rows(*_nearpop(train, val, np.random.default_rng(777)))
    T = {}
    for name in ("test", *(f"attack_{a}" for a in ATTACKS)):
        p = read_pairs(f"{args.data}/{name}.csv")
        T[name] = rows(p.entity_hash, p.ip_hi, p.ip_lo)

    best_v = {k: max(_auc(V["pairs"][b], V[k][b]) for b in baselines) for k in KINDS}
    best_t = {a: max(_auc(T["test"][b], T[f"attack_{a}"][b]) for b in baselines) for a in ATTACKS}
    print(f"best baseline, validation: {best_v}\nbest baseline, attack sets: {best_t}")
    print("| candidate | worst validation margin | " + " | ".join(f"val {k}" for k in KINDS) + " | "
          + " | ".join(ATTACKS) + " |")
    print("|---" * (2 + len(KINDS) + len(ATTACKS)) + "|")

    # The feature sets of the last round (before the /24 distance joined FEATURES): the first 13,
    # then the back-off pair.
    thirteen, fifteen = list(FEATURES[:13]), list(FEATURES[:15])
    sets_of = {"13": thirteen, "13+bo": fifteen, "13+bo+lev": fifteen + [f"lev{i}" for i in range(8)]}
    index = {name: i for i, name in enumerate([*FEATURES, *(f"lev{i}" for i in range(8))])}

    def candidate(features: str, weights: tuple[float, ...], degree: int) -> None:
        cols = [index[c] for c in sets_of[features]]
        used = [(k, w) for k, w in zip(KINDS, weights, strict=True) if w > 0]
        pos = V["pairs"]["features"][:, cols]
        negs = [V[k]["features"][:, cols] for k, _ in used]
        x = expand(np.concatenate([pos, *negs]), degree)
        y = np.r_[np.ones(len(pos)), np.zeros(sum(map(len, negs)))]
        total = sum(w for _, w in used)
        sample = np.concatenate([np.full(len(pos), 1 / len(pos))] + [np.full(len(n), w / total / len(n)) for n, (_, w) in zip(negs, used, strict=True)])
        mean, std = x.mean(0), x.std(0)
        std[std == 0] = 1
        fitted = LogisticRegression(C=1.0, max_iter=3000).fit((x - mean) / std, y, sample_weight=sample * len(x))

        def score(r):
            return ((expand(r["features"][:, cols], degree) - mean) / std) @ fitted.coef_[0]

        v = {k: _auc(score(V["pairs"]), score(V[k])) - best_v[k] for k in KINDS}
        t = {a: _auc(score(T["test"]), score(T[f"attack_{a}"])) - best_t[a] for a in ATTACKS}
        name = f"{features}, degree {degree}, weights " + "/".join(f"{w:g}" for w in weights)
        print(f"| {name} | {min(v.values()):+.4f} | " + " | ".join(f"{v[k]:+.4f}" for k in KINDS) + " | "
              + " | ".join(f"{t[a]:+.4f}" for a in ATTACKS) + " |", flush=True)

    candidate("13", (1, 1, 1, 0, 0), 2)  # the default score
    for degree in (1, 2):
        candidate("13+bo", (1, 1, 1, 0, 0), degree)
    for weights in ((1, 1, 1, 0, 0), (2, 1, 1, 0, 0), (1, 1, 1, 1, 0), (2, 1, 1, 2, 0), (2, 1, 1, 2, 1), (2, 1, 0, 2, 1)):
        candidate("13+bo+lev", weights, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
