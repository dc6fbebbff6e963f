"""Evaluation: does the model separate normal logins from attacks better than simple rules?

For each attack set, the model (anomaly score ``-dot_product``) and every baseline of
:mod:`ipinsights.lab.baselines` score the *same* pairs: the normal logins and that set's attack
pairs; :func:`evaluate` gathers their ROC AUCs and operating points into a
:class:`~ipinsights.lab.report.Report` (tables, verdicts, thresholds, plots).

On your own logs, :func:`evaluate_logs` (``ipinsights evaluate`` without ``--attack``) makes the
attack sets from the training and normal logins themselves (:mod:`ipinsights.lab.log_attacks`).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ipinsights.data import Pairs
from ipinsights.errors import ConfigError
from ipinsights.lab.baselines import Scorer, default_baselines
from ipinsights.lab.report import (
    DEFAULT_FPRS,
    MODEL,
    MODEL_DOT,
    AttackResult,
    OperatingPoint,
    Report,
    ScorerResult,
    operating_point,
)
from ipinsights.readers import as_pairs
from ipinsights.threads import usable_cores

__all__ = ["evaluate", "evaluate_logs"]


def _load_pairs(source: Any, name: str, **read: Any) -> tuple[Pairs, str]:
    """Pairs and a description of where they came from (a path, a DataFrame or Pairs).

    Files are held to the reader's 1 % bad-row limit; pairs in memory are the caller's, and
    their bad rows are only reported, as the baselines do.
    """
    from_file = isinstance(source, str | os.PathLike)
    pairs = as_pairs(source, name, max_bad_fraction=0.01 if from_file else 1.0, **read)
    return pairs, str(source) if from_file else pairs.report.source


def _load_ranges(ranges: Any) -> Any:
    if ranges is None or hasattr(ranges, "row_of"):
        return ranges
    from ipinsights.lab.ranges import RangeTable

    if str(ranges) == "builtin":
        return RangeTable.builtin()
    return RangeTable.from_file(ranges)


def _auc(normal: np.ndarray, attack: np.ndarray) -> float:
    if not len(normal) or not len(attack):
        return float("nan")
    labels = np.concatenate([np.zeros(len(normal)), np.ones(len(attack))])
    return float(roc_auc_score(labels, np.concatenate([normal, attack])))


def evaluate(
    model: Any,
    normal: Any,
    attacks: Mapping[str, Any],
    train: Any,
    ranges: Any = None,
    *,
    baselines: Sequence[Scorer] | None = None,
    target_fprs: Sequence[float] = DEFAULT_FPRS,
) -> Report:
    """Score normal logins and each attack set with the model and the baselines; compare.

    Args:
        model: A trained :class:`~ipinsights.estimator.IPInsights`, a model directory, or
            ``None`` to evaluate the baselines alone.
        normal: Normal logins: a DataFrame (``entity``, ``ip``), :class:`Pairs`, or a CSV path.
        attacks: ``{name: attack pairs}``, each in one of the same forms.
        train: The training logins (the baselines are fitted on them): same forms.
        ranges: Range table for the ASN back-off baseline: a ``RangeTable``, a file, or
            ``"builtin"``; ``None`` leaves that baseline out.
        baselines: Scorers to use instead of :func:`~ipinsights.lab.baselines.default_baselines`.
        target_fprs: False-alarm budgets of the operating points.

    Returns:
        A :class:`Report`; print it with :meth:`Report.print`, save it with :meth:`Report.write`.

    Raises:
        DataError: An input is empty or unreadable.
        ConfigError: No attack sets, or a target FPR outside [0, 1).

    Example:
        >>> report = evaluate(model, test_frame, {"random_range": attack_frame}, train_frame)  # doctest: +SKIP
        >>> report.attack("random_range").result("ip_insights").roc_auc  # doctest: +SKIP
        0.986
    """
    if not attacks:
        raise ConfigError("evaluate needs at least one attack set, e.g. {'random_range': frame}")
    for f in target_fprs:
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"target_fprs must be in [0, 1), got {f}")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if isinstance(model, str | os.PathLike):
        from ipinsights.estimator import IPInsights

        model = IPInsights.load(model)
    normal_pairs, normal_source = _load_pairs(normal, "normal")
    attack_pairs = {name: _load_pairs(source, f"attack {name}") for name, source in attacks.items()}
    train_pairs, train_source = _load_pairs(train, "train")
    ranges = _load_ranges(ranges)
    timings["read_seconds"] = time.perf_counter() - started

    # Every scorer sees one concatenation of all pairs, so the normal logins are scored once.
    names = list(attack_pairs)
    parts = [normal_pairs] + [attack_pairs[n][0] for n in names]
    bounds = np.cumsum([0] + [len(p) for p in parts])
    everything = Pairs(
        np.concatenate([p.entity_hash for p in parts]),
        np.concatenate([p.ip_hi for p in parts]),
        np.concatenate([p.ip_lo for p in parts]),
        normal_pairs.report,
    )

    scores: dict[str, np.ndarray] = {}
    descriptions: dict[str, str] = {}
    known = np.ones(len(everything), dtype=bool)
    if model is not None:
        clock = time.perf_counter()
        result = model.score_hashed(everything.entity_hash, everything.ip_hi, everything.ip_lo)
        known = result.known_entity
        if result.score is not None:
            scores[MODEL] = -result.score
            descriptions[MODEL] = "IP Insights: -score (dot product and the entity's history, docs/design.md)"
            scores[MODEL_DOT] = -result.dot_product.astype(np.float64)
            descriptions[MODEL_DOT] = "IP Insights: -dot_product alone (the reference's score)"
        else:
            scores[MODEL] = -result.dot_product.astype(np.float64)
            descriptions[MODEL] = "IP Insights: -dot_product"
        timings["model_seconds"] = time.perf_counter() - clock
    scorers = list(baselines) if baselines is not None else default_baselines(ranges)
    for scorer in scorers:
        clock = time.perf_counter()
        scores[scorer.name] = np.asarray(scorer.fit(train_pairs).score(everything), dtype=np.float64)
        descriptions[scorer.name] = scorer.description
        timings[f"{scorer.name}_seconds"] = time.perf_counter() - clock

    normal_scores = {n: s[: bounds[1]] for n, s in scores.items()}
    attack_scores: dict[tuple[str, str], np.ndarray] = {}
    results = []
    for i, attack_name in enumerate(names):
        lo, hi = bounds[i + 1], bounds[i + 2]
        rows = []
        for scorer_name, s in scores.items():
            attack_scores[(attack_name, scorer_name)] = s[lo:hi]
            points = []
            for f in target_fprs:
                p = operating_point(normal_scores[scorer_name], s[lo:hi], f)
                if scorer_name == MODEL_DOT or (scorer_name == MODEL and MODEL_DOT not in scores):
                    p = OperatingPoint(p.target_fpr, p.threshold, p.fpr, p.tpr, -p.threshold)
                points.append(p)
            rows.append(ScorerResult(scorer_name, _auc(normal_scores[scorer_name], s[lo:hi]), tuple(points)))
        results.append(
            AttackResult(
                attack_name, attack_pairs[attack_name][1], int(hi - lo), int((~known[lo:hi]).sum()), rows
            )
        )
    timings["total_seconds"] = time.perf_counter() - started

    from ipinsights._version import __version__

    meta: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "ipinsights_version": __version__,
        "normal": {
            "source": normal_source,
            "rows": len(normal_pairs),
            "unknown_entities": int((~known[: bounds[1]]).sum()),
        },
        "train": {"source": train_source, "rows": len(train_pairs)},
        "ranges": getattr(ranges, "source", None),
        "model": _model_summary(model),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "usable_cpus": usable_cores(),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    return Report(
        results, descriptions, tuple(float(f) for f in target_fprs), meta, normal_scores, attack_scores
    )


def evaluate_logs(
    model: Any,
    normal: Any,
    train: Any,
    *,
    format: str = "csv",
    entity_field: str | None = None,
    ip_field: str | None = None,
    attack_sets: Sequence[str] | None = None,
    num_attack_rows: int | None = None,
    seed: int = 0,
    attacks: Mapping[str, Any] | None = None,
    ranges: Any = None,
    target_fprs: Sequence[float] = DEFAULT_FPRS,
) -> Report:
    """:func:`evaluate` with attack sets made from your own training and normal logins.

    No generator and no range table of yours are needed: the sets of
    :mod:`ipinsights.lab.log_attacks` (other users' addresses, new networks next to the victim's,
    random ranges) are drawn with ``seed`` from the logins themselves, and only scored, never
    fitted on. The report's ``attack_sets_from_logs`` records the seed and what each set holds;
    :meth:`Report.verdicts` says per set whether the model beats the baselines, and
    :meth:`Report.thresholds` gives the rules to flag logins with.

    Args:
        model: A trained model or a model directory (as for :func:`evaluate`).
        normal: Normal logins (the days after training): a path in ``format``, a DataFrame or Pairs.
        train: The training logins, same forms.
        format, entity_field, ip_field: How to read paths (:func:`ipinsights.readers.read_log`).
        attack_sets: Names from :data:`~ipinsights.lab.log_attacks.LOG_ATTACKS` (default all).
        num_attack_rows: Rows per set (default: as many as normal logins, 1,000 to 100,000).
        seed: Seed of the attack sets.
        attacks: More attack sets, ``{name: pairs}``, as for :func:`evaluate`.
        ranges, target_fprs: As for :func:`evaluate`.

    Returns:
        The :class:`Report`.

    Raises:
        ConfigError: An unknown attack set, format or field option.
        DataError: Unreadable logs, or no normal entity appears in training.

    Example:
        >>> report = evaluate_logs("model", "auth.log.1", "auth.log", format="sshd")  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    from ipinsights.lab.log_attacks import LOG_ATTACKS, make_log_attacks

    read = {"format": format, "entity_field": entity_field, "ip_field": ip_field}
    normal_pairs = _load_pairs(normal, "normal", **read)[0]
    train_pairs = _load_pairs(train, "train", **read)[0]
    names = list(LOG_ATTACKS if attack_sets is None else attack_sets)
    rows = num_attack_rows if num_attack_rows is not None else min(max(len(normal_pairs), 1000), 100_000)
    built = make_log_attacks(
        train_pairs, normal_pairs, rows, seed=seed, names=names, source=train_pairs.report.source
    )
    every = {**(attacks or {}), **{name: b.pairs for name, b in built.items()}}
    report = evaluate(model, normal_pairs, every, train_pairs, ranges, target_fprs=target_fprs)
    report.meta["attack_sets_from_logs"] = {
        "seed": seed,
        "rows_requested": rows,
        "train": train_pairs.report.source,
        "normal": normal_pairs.report.source,
        "victims": "entities of normal logins also in the training logins, weighted by their normal logins",
        "sets": [b.to_dict() for b in built.values()],
    }
    return report


def _model_summary(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    meta = getattr(model, "meta_", {}) or {}
    return {
        "hyperparameters": model.hyperparameters.to_dict(),
        "ip_encoder": getattr(model, "ip_encoder", None),
        "seed": meta.get("seed"),
        "epochs_completed": meta.get("epochs_completed"),
        "metrics": meta.get("metrics"),
    }
