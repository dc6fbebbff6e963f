"""This round's candidates for the combined score: a /24 validation kind and a /24 distance feature.

The default score of the last round lost to a per-user /16 count on nearby attackers, on the
pairs where both the victim and the attacker use the same /16: a score fitted on validation
negatives that never fall inside a /16 the entity knows has learnt nothing there. This script
adds ``near24`` negatives (the validation login's /24 moved by 1..16 inside its /16, never a /24
the entity used; IPv6: the /64 inside the /48) and the feature ``d24`` (how many /24s a new /24
of a known /16 lies from the nearest one the entity used), and fits logistic (or, for
comparison, gradient-boosted) scores on the validation days against the kinds given, for the
feature sets given. It prints, per candidate, the margins over the best training-free baseline
on every validation kind (what a choice may be based on) and on every attack set (the check):

    .venv/bin/python benchmarks/detection_candidates.py --data DIR --model MODEL_DIR
    # DIR from: .venv/bin/ipinsights generate --users 3000 --seed 0 --attacks 20000 --out DIR
    # MODEL_DIR: a model trained on DIR with the demo's settings, history_score=0 (only its
    # dot product is read; without --model one is trained)

Kinds: random, other_users and nearby as the last round's ``ValidationSet`` drew them (seed
``VALIDATION_SEED``), ``populated`` and ``nearpop`` from ``detection_backoff.py``, ``near24``
(seed 2424; rows where no unused /24 is found within 50 draws are left out). Feature sets:
``13`` the last round's default, ``15`` with the back-off pair, ``lev`` the back-off chain's
eight levels, ``d24`` the /24 distance. The product's implementation of the chosen candidate
(``ValidationSet.nearby_24`` and ``populated``, ``log1p_distance_24_in_known_16``) is measured end
to end by ``benchmarks/detection.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_backoff import _arguments, _auc, _levels, _nearpop, _populated, _setup

ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")
KINDS = ("random", "other_users", "nearby", "populated", "nearpop", "near24")
#: (feature set, weights of KINDS, degree, model): the rows of docs/design.md's table.
CANDIDATES = (
    ("13", (1, 1, 1, 0, 0, 0), 2, "logistic"),
    ("13", (1, 1, 1, 0, 0, 1), 2, "logistic"),
    ("13+d24", (1, 1, 1, 0, 0, 1), 2, "logistic"),
    ("15", (1, 1, 1, 0, 0, 1), 2, "logistic"),
    ("15+d24", (1, 1, 1, 0, 0, 1), 2, "logistic"),
    ("15+d24", (1, 1, 1, 1, 0, 1), 2, "logistic"),
    ("15+d24", (1, 1, 1, 1, 0, 1), 1, "logistic"),
    ("15+d24", (1, 1, 1, 1, 0, 1), 1, "boosted"),
    ("15+lev+d24", (1, 1, 1, 1, 0, 1), 1, "logistic"),
    ("15+lev+d24", (1, 1, 1, 1, 0, 1), 2, "logistic"),
    ("15+lev+d24", (1, 1, 1, 1, 0, 1), 1, "boosted"),
    ("15+lev+d24", (1, 1, 1, 1, 1, 1), 1, "logistic"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    parser.add_argument("--only", type=int, nargs="*", default=None, help="run these rows of CANDIDATES only (0-based)")
    args = parser.parse_args(argv)

    import ipinsights.history as H
    from ipinsights.addresses import is_ipv4
    from ipinsights.data import Pairs, ReadReport, read_pairs
    from ipinsights.train import ValidationSet

    train, val, model, history, baselines = _setup(args, "detection-candidates-", history_score=False)

    def near24(entity: np.ndarray, hi: np.ndarray, lo: np.ndarray, rng: np.random.Generator):
        out_hi, out_lo, todo = hi.copy(), lo.copy(), np.arange(len(hi))
        for _ in range(50):
            if not len(todo):
                break
            h, low = hi[todo], lo[todo]
            step = rng.integers(1, 17, size=len(todo)) * rng.choice([-1, 1], size=len(todo))
            third = np.mod(((low >> 8) & 0xFF) + step, 256)
            v4_lo = (low & ~np.int64(0xFFFF)) | (third << 8) | rng.integers(0, 256, size=len(todo))
            v6_hi = (h & ~np.int64(0xFFFF)) | np.mod((h & 0xFFFF) + step, 1 << 16)
            v6_lo = rng.integers(-(1 << 62), 1 << 62, size=len(todo), dtype=np.int64)
            v4 = is_ipv4(h, low)
            new_hi, new_lo = np.where(v4, h, v6_hi), np.where(v4, v4_lo, v6_lo)
            used = history.tables["entity_24"](H.network_keys(entity[todo], new_hi, new_lo, "24")) > 0
            out_hi[todo[~used]], out_lo[todo[~used]] = new_hi[~used], new_lo[~used]
            todo = todo[used]
        keep = np.ones(len(hi), dtype=bool)
        keep[todo] = False
        return entity[keep], out_hi[keep], out_lo[keep]

    def rows(entity: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> dict[str, np.ndarray]:
        dot = model.score_hashed(entity, hi, lo).dot_product
        pairs = Pairs(entity, hi, lo, ReadReport("pairs"))
        # history.features: the 16 of FEATURES (d24 last); then the chain's levels.
        features = np.concatenate([history.features(entity, hi, lo, dot), _levels(history, entity, hi, lo)], 1)
        return {"features": features, **{name: -b.score(pairs) for name, b in baselines.items()}}

    # The last round's three kinds, drawn as then (the first three of today's ValidationSet).
    sets = ValidationSet.build(model._tensors(val), model._tensors(train))
    V = {}
    for kind in ("pairs", "random", "other_users", "nearby"):
        p = getattr(sets, kind)
        V[kind] = rows(val.entity_hash, p.ip_hi.cpu().numpy(), p.ip_lo.cpu().numpy())
    V["populated"] = rows(*_populated(train, val, np.random.default_rng(12345)))
    V["nearpop"] = rows(*_nearpop(train, val, np.random.default_rng(777)))
    V["near24"] = rows(*near24(val.entity_hash, val.ip_hi, val.ip_lo, np.random.default_rng(2424)))
    T = {}
    for name in ("test", *(f"attack_{a}" for a in ATTACKS)):
        p = read_pairs(f"{args.data}/{name}.csv")
        T[name] = rows(p.entity_hash, p.ip_hi, p.ip_lo)

    best_v = {k: max(_auc(V["pairs"][b], V[k][b]) for b in baselines) for k in KINDS}
    best_t = {a: max(_auc(T["test"][b], T[f"attack_{a}"][b]) for b in baselines) for a in ATTACKS}
    print(f"best baseline, validation: { {k: round(v, 4) for k, v in best_v.items()} }")
    print(f"best baseline, attack sets: { {k: round(v, 4) for k, v in best_t.items()} }")
    print("| candidate | worst validation margin | " + " | ".join(f"val {k}" for k in KINDS) + " | " + " | ".join(ATTACKS) + " |")
    print("|---" * (2 + len(KINDS) + len(ATTACKS)) + "|")

    levels = [f"lev{i}" for i in range(8)]
    index = {name: i for i, name in enumerate([*H.FEATURES, *levels])}
    d24 = ["log1p_distance_24_in_known_16"]
    sets_of = {
        "13": list(H.FEATURES[:13]),
        "13+d24": list(H.FEATURES[:13]) + d24,
        "15": list(H.FEATURES[:15]),
        "15+d24": list(H.FEATURES[:15]) + d24,
        "15+lev+d24": list(H.FEATURES[:15]) + levels + d24,
    }

    def candidate(features: str, weights: tuple[float, ...], degree: int, kind: str) -> None:
        cols = [index[c] for c in sets_of[features]]
        used = [(k, w) for k, w in zip(KINDS, weights, strict=True) if w > 0]
        pos = V["pairs"]["features"][:, cols]
        negs = [V[k]["features"][:, cols] for k, _ in used]
        raw = np.concatenate([pos, *negs])
        low, high = raw.min(0), raw.max(0)  # scored features are clipped to these, as HistoryScore does
        x = H.expand(raw, degree)
        y = np.r_[np.ones(len(pos)), np.zeros(sum(map(len, negs)))]
        total = sum(w for _, w in used)
        sample = np.concatenate(
            [np.full(len(pos), 1 / len(pos))] + [np.full(len(n), w / total / len(n)) for n, (_, w) in zip(negs, used, strict=True)]
        ) * len(x)
        mean, std = x.mean(0), x.std(0)
        std[std == 0] = 1
        if kind == "boosted":
            from sklearn.ensemble import HistGradientBoostingClassifier

            boosted = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(x, y, sample_weight=sample)

            def score(r: dict[str, np.ndarray]) -> np.ndarray:
                return boosted.decision_function(H.expand(np.clip(r["features"][:, cols], low, high), degree))
        else:
            fitted = LogisticRegression(C=1.0, max_iter=3000).fit((x - mean) / std, y, sample_weight=sample)

            def score(r: dict[str, np.ndarray]) -> np.ndarray:
                return ((H.expand(np.clip(r["features"][:, cols], low, high), degree) - mean) / std) @ fitted.coef_[0]

        v = {k: _auc(score(V["pairs"]), score(V[k])) - best_v[k] for k in KINDS}
        t = {a: _auc(score(T["test"]), score(T[f"attack_{a}"])) - best_t[a] for a in ATTACKS}
        name = f"{features}, degree {degree}, {kind}, weights " + "/".join(f"{w:g}" for w in weights)
        print(f"| {name} | {min(v.values()):+.4f} | " + " | ".join(f"{v[k]:+.4f}" for k in KINDS) + " | "
              + " | ".join(f"{t[a]:+.4f}" for a in ATTACKS) + " |", flush=True)

    for i, row in enumerate(CANDIDATES):
        if args.only is None or i in args.only:
            candidate(*row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
