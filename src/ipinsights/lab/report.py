"""The evaluation's result: per attack set and scorer, ROC AUC and operating points; verdicts, plots.

For each attack set, every scorer (the model, anomaly score ``-dot_product``, and each baseline)
gets

* **ROC AUC**: the probability that a random attack scores as more anomalous than a random
  normal login (ties count one half);
* **TPR at 1 % and 10 % FPR**: the share of attacks flagged when at most 1 % (10 %) of normal
  logins are flagged, with the rule "flag when score > threshold" (:func:`operating_point`);
* the **threshold** of each operating point in the scorer's own units (for the model also as
  ``dot_product < -threshold``).

A scorer with ties (the new-IP rule has two values) cannot always spend its whole false-alarm
budget: its threshold is then the lowest one that stays within it, and the report gives the
FPR it really reaches.

:class:`Report` prints as a table, writes ``report.json`` and one PNG per attack set (the
example's picture: histograms of ``-dot_product`` for normal vs attack, next to the ROC curves
of the model and the baselines). :meth:`Report.verdicts` says per attack set whether the model
beats the best baseline, :meth:`Report.thresholds` gives the rules to flag with.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from ipinsights.errors import ConfigError

__all__ = [
    "MODEL",
    "REPORT_FORMAT",
    "AttackResult",
    "OperatingPoint",
    "Report",
    "ScorerResult",
    "Verdict",
    "operating_point",
]

#: Name of the IP Insights model's rows in the report.
MODEL = "ip_insights"
#: The model's plain ``-dot_product``, reported beside its combined score when it has one.
MODEL_DOT = "ip_insights_dot_product"
REPORT_FORMAT = "ipinsights-evaluation"
REPORT_FORMAT_VERSION = 1
DEFAULT_FPRS = (0.01, 0.10)


@dataclass(frozen=True)
class OperatingPoint:
    """One operating point: flag a pair when its anomaly score is above ``threshold``.

    Attributes:
        target_fpr: The false-alarm budget (share of normal logins that may be flagged).
        threshold: Anomaly threshold, in the scorer's units; flag when ``score > threshold``.
        fpr: Share of normal logins flagged at that threshold (<= ``target_fpr``).
        tpr: Share of attacks flagged at that threshold.
        dot_product_threshold: For the model only: flag when ``dot_product < this`` (``-threshold``).
    """

    target_fpr: float
    threshold: float
    fpr: float
    tpr: float
    dot_product_threshold: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {
            "target_fpr": self.target_fpr,
            "threshold": self.threshold,
            "fpr": self.fpr,
            "tpr": self.tpr,
            "dot_product_threshold": self.dot_product_threshold,
        }


def operating_point(normal_scores: Any, attack_scores: Any, target_fpr: float) -> OperatingPoint:
    """The threshold that flags the most attacks while flagging at most ``target_fpr`` of normals.

    The rule is "flag when score > threshold"; the threshold is the lowest normal score that
    leaves at most ``floor(target_fpr * num_normal)`` normal scores above it. Lowering it
    further would flag one more group of tied normal scores, over the budget.

    Args:
        normal_scores: (num_normal,) anomaly scores of normal logins.
        attack_scores: (num_attack,) anomaly scores of attacks.
        target_fpr: Budget of false alarms, in [0, 1).

    Returns:
        The :class:`OperatingPoint` (without a dot-product threshold).

    Raises:
        ConfigError: ``target_fpr`` outside [0, 1) or no normal scores.

    Example:
        >>> point = operating_point(np.arange(100.0), [50.5, 95.5, 98.5, 99.5, 120.0], 0.01)
        >>> point.threshold, point.fpr, point.tpr
        (98.0, 0.01, 0.6)
    """
    if not 0.0 <= target_fpr < 1.0:
        raise ConfigError(f"target_fpr must be in [0, 1), got {target_fpr}")
    normal = np.sort(np.asarray(normal_scores, dtype=np.float64))
    attack = np.asarray(attack_scores, dtype=np.float64)
    if not len(normal):
        raise ConfigError("an operating point needs at least one normal score")
    candidates = np.unique(normal)
    num_above = len(normal) - np.searchsorted(normal, candidates, side="right")
    allowed = math.floor(target_fpr * len(normal) + 1e-9)
    # num_above falls as the candidate rises, and is 0 at the largest: the first fit exists.
    index = int(np.argmax(num_above <= allowed))
    threshold = float(candidates[index])
    tpr = float((attack > threshold).mean()) if len(attack) else float("nan")
    return OperatingPoint(float(target_fpr), threshold, float(num_above[index] / len(normal)), tpr)


@dataclass(frozen=True)
class ScorerResult:
    """How one scorer did on one attack set."""

    scorer: str
    roc_auc: float
    points: tuple[OperatingPoint, ...]

    def point(self, target_fpr: float) -> OperatingPoint:
        """The operating point for ``target_fpr``."""
        for p in self.points:
            if math.isclose(p.target_fpr, target_fpr):
                return p
        raise KeyError(target_fpr)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "roc_auc": self.roc_auc,
            "operating_points": [p.to_dict() for p in self.points],
        }


@dataclass
class AttackResult:
    """All scorers on one attack set (normal logins vs this set's attacks)."""

    name: str
    source: str
    num_attack: int
    num_unknown_entities: int
    results: list[ScorerResult]

    def result(self, scorer: str) -> ScorerResult:
        for r in self.results:
            if r.scorer == scorer:
                return r
        raise KeyError(scorer)

    @property
    def best_baseline(self) -> ScorerResult | None:
        """The baseline with the highest ROC AUC (``None`` if there are none)."""
        baselines = [r for r in self.results if r.scorer not in (MODEL, MODEL_DOT)]
        return max(baselines, key=lambda r: r.roc_auc) if baselines else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best_baseline
        model = next((r for r in self.results if r.scorer == MODEL), None)
        return {
            "name": self.name,
            "source": self.source,
            "rows": self.num_attack,
            "unknown_entities": self.num_unknown_entities,
            "results": [r.to_dict() for r in self.results],
            "best_baseline": best.scorer if best else None,
            "model_auc_minus_best_baseline": (model.roc_auc - best.roc_auc) if (model and best) else None,
        }


@dataclass(frozen=True)
class Verdict:
    """Plainly: does the model beat the best baseline on one attack set?

    Attributes:
        attack: The attack set.
        model_auc, baseline_auc: The model's ROC AUC and the best baseline's (``baseline``).
        model_tpr, baseline_tpr: Shares of attacks flagged at ``target_fpr`` by the model and by
            the baseline best there (``tpr_baseline``, which may differ from ``baseline``).
    """

    attack: str
    target_fpr: float
    model_auc: float
    baseline: str
    baseline_auc: float
    model_tpr: float
    tpr_baseline: str
    baseline_tpr: float

    # Compared as printed (AUC to 4 decimals, TPR to 0.1 %), so the text never says that 0.0 %
    # beats 0.0 %.
    @property
    def wins_auc(self) -> bool:
        return round(self.model_auc, 4) >= round(self.baseline_auc, 4)

    @property
    def wins_tpr(self) -> bool:
        return round(100 * self.model_tpr, 1) >= round(100 * self.baseline_tpr, 1)

    @property
    def text(self) -> str:
        auc = _compare(round(self.model_auc, 4), round(self.baseline_auc, 4))
        tpr = _compare(round(100 * self.model_tpr, 1), round(100 * self.baseline_tpr, 1))
        if "loses to" not in (auc, tpr):
            head = "the model WINS"  # a tie on one count and a win or a tie on the other
        elif "beats" not in (auc, tpr):
            head = "the model LOSES"
        else:
            head = "MIXED"
        return (
            f"{self.attack}: {head}: ROC AUC {self.model_auc:.4f} {auc} {self.baseline} {self.baseline_auc:.4f}; "
            f"at {100 * self.target_fpr:g} % false positives it flags {100 * self.model_tpr:.1f} % of attacks, "
            f"{tpr} {self.tpr_baseline} {100 * self.baseline_tpr:.1f} %"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "target_fpr": self.target_fpr,
            "model_auc": self.model_auc,
            "best_baseline": self.baseline,
            "best_baseline_auc": self.baseline_auc,
            "model_tpr": self.model_tpr,
            "best_baseline_at_target_fpr": self.tpr_baseline,
            "best_baseline_tpr": self.baseline_tpr,
            "model_wins_auc": self.wins_auc,
            "model_wins_tpr": self.wins_tpr,
            "text": self.text,
        }


def _compare(mine: float, theirs: float) -> str:
    return "beats" if mine > theirs else "matches" if mine == theirs else "loses to"


@dataclass
class Report:
    """The evaluation of a model and the baselines on several attack sets.

    Attributes:
        attacks: One :class:`AttackResult` per attack set, in the order given.
        scorers: ``{name: description}`` of every scorer, the model first.
        target_fprs: The false-alarm budgets of the operating points.
        meta: Provenance: normal data, training data, model, timings, versions.
    """

    attacks: list[AttackResult]
    scorers: dict[str, str]
    target_fprs: tuple[float, ...]
    meta: dict[str, Any]
    normal_scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    attack_scores: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)
    plots: dict[str, str] = field(default_factory=dict)

    def attack(self, name: str) -> AttackResult:
        """The result of the attack set ``name``."""
        for a in self.attacks:
            if a.name == name:
                return a
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (see ``docs/evaluation.md`` for the schema)."""
        return {
            "format": REPORT_FORMAT,
            "format_version": REPORT_FORMAT_VERSION,
            **self.meta,
            "target_fprs": list(self.target_fprs),
            "scorers": [{"name": n, "description": d} for n, d in self.scorers.items()],
            "attacks": [a.to_dict() for a in self.attacks],
            "verdicts": [v.to_dict() for v in self.verdicts()],
            "thresholds": self.thresholds(),
            "plots": dict(self.plots),
        }

    def verdicts(self, target_fpr: float | None = None) -> list[Verdict]:
        """One :class:`Verdict` per attack set (at the first target FPR unless given); none without a model."""
        fpr = self.target_fprs[0] if target_fpr is None else target_fpr
        out = []
        for a in self.attacks:
            baselines = [r for r in a.results if r.scorer not in (MODEL, MODEL_DOT)]
            best_auc = a.best_baseline
            try:
                model = a.result(MODEL)
            except KeyError:
                return []
            if best_auc is None:
                return []
            best_tpr = max(baselines, key=lambda r: (r.point(fpr).tpr, r.roc_auc))
            out.append(
                Verdict(
                    a.name,
                    fpr,
                    model.roc_auc,
                    best_auc.scorer,
                    best_auc.roc_auc,
                    model.point(fpr).tpr,
                    best_tpr.scorer,
                    best_tpr.point(fpr).tpr,
                )
            )
        return out

    def thresholds(self) -> list[dict[str, Any]]:
        """The model's operating points as rules on its prediction field, one per target FPR.

        A threshold depends on the normal logins only, so it is the same for every attack set.
        Each entry: ``{target_fpr, field, flag_below, fpr, rule}``, the rule being e.g.
        ``flag when score < -1.25`` (``score`` for a model with the combined score, else
        ``dot_product``; both are fields of ``ipinsights predict``'s output). The cut lies midway
        between the normal login at the threshold and the next more suspicious one: it flags the
        same normal logins, and a score rounded in a prediction file (or scored in another batch,
        float32 sums differing in the last bit) cannot cross it.
        """
        if not self.attacks or MODEL not in self.scorers:
            return []
        name = "score" if MODEL_DOT in self.scorers else "dot_product"
        normal = self.normal_scores.get(MODEL, np.zeros(0))
        out = []
        for p in self.attacks[0].result(MODEL).points:
            above = normal[normal > p.threshold]
            cut = (p.threshold + float(above.min())) / 2 if len(above) else p.threshold
            below = -cut + 0.0
            out.append(
                {
                    "target_fpr": p.target_fpr,
                    "field": name,
                    "flag_below": below,
                    "fpr": p.fpr,
                    "rule": f"flag when {name} < {below:.6g}",
                }
            )
        return out

    def summary(self) -> str:
        """The verdicts and the thresholds to use, as plain lines."""
        lines = [f"- {v.text}" for v in self.verdicts()]
        for t in self.thresholds():
            lines.append(
                f"- to flag at most {100 * t['target_fpr']:g} % of normal logins ({100 * t['fpr']:.2f} % here): "
                f"{t['rule']}"
            )
        return "\n".join(lines)

    # -- output --------------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, str, str, list[str], list[str], bool]]:
        """(attack, scorer, auc, tprs, thresholds, best) cells for the tables."""
        rows = []
        for a in self.attacks:
            best_auc = max(r.roc_auc for r in a.results)
            for r in a.results:
                tprs = [f"{100 * r.point(f).tpr:.1f} %" for f in self.target_fprs]
                thresholds = []
                for f in self.target_fprs:
                    p = r.point(f)
                    text = f"{p.threshold + 0.0:.4g}"  # + 0.0 prints -0.0 as 0
                    if p.dot_product_threshold is not None:
                        text += f" (dot < {p.dot_product_threshold + 0.0:.4g})"
                    if p.fpr < 0.5 * f:
                        text += f" [FPR {100 * p.fpr:.1f} %]"
                    thresholds.append(text)
                rows.append((a.name, r.scorer, f"{r.roc_auc:.4f}", tprs, thresholds, r.roc_auc == best_auc))
        return rows

    def _headers(self) -> list[str]:
        fprs = [f"{100 * f:g} %" for f in self.target_fprs]
        return (
            ["attack set", "scorer", "ROC AUC"]
            + [f"TPR @ {f} FPR" for f in fprs]
            + [f"threshold @ {f} FPR" for f in fprs]
        )

    def table(self) -> Any:
        """A :class:`rich.table.Table` of every attack set and scorer (best AUC in bold)."""
        from rich.table import Table

        normal = self.meta.get("normal", {})
        table = Table(
            title="IP Insights vs baselines (anomaly score: higher = more suspicious)",
            caption=f"{normal.get('rows', '?')} normal logins; flag when score > threshold; "
            f"the model's score is {self.scorers.get(MODEL, 'IP Insights: -dot_product').removeprefix('IP Insights: ')}",
        )
        for i, header in enumerate(self._headers()):
            table.add_column(header, justify="left" if i < 2 else "right", no_wrap=i < 3)
        previous = None
        for attack, scorer, auc, tprs, thresholds, best in self._rows():
            if previous is not None and attack != previous:
                table.add_section()
            shown = attack if attack != previous else ""
            table.add_row(shown, scorer, f"[bold]{auc}[/bold]" if best else auc, *tprs, *thresholds)
            previous = attack
        return table

    def markdown_table(self) -> str:
        """The same table as GitHub Markdown (best AUC per attack set in bold)."""
        headers = self._headers()
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join(["---"] * 2 + ["---:"] * (len(headers) - 2)) + "|",
        ]
        for attack, scorer, auc, tprs, thresholds, best in self._rows():
            cells = [attack, f"`{scorer}`", f"**{auc}**" if best else auc, *tprs, *thresholds]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def print(self, console: Any = None) -> None:
        """Print the table (to a rich console; a wide one when stdout is not a terminal)."""
        from rich.console import Console

        if console is None:
            console = Console()
            if not console.is_terminal:
                console = Console(width=160)
        console.print(self.table())
        summary = self.summary()
        if summary:
            console.print(summary, markup=False, highlight=False, soft_wrap=True)

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON (NaN written as ``null``). Returns the path."""
        path = Path(path)
        path.write_text(json.dumps(_finite(self.to_dict()), indent=2) + "\n")
        return path

    def plot(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write one PNG per attack set; returns ``{attack: path}``.

        Left: histograms of the model's anomaly score (``-dot_product``) for normal logins and
        attacks, with the 1 % and 10 % FPR thresholds. Right: ROC curves of the model and every
        baseline, false-positive rate on a log scale (the low-FPR end is where alerts are paid for).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for a in self.attacks:
            path = out / f"evaluation_{_file_name(a.name)}.png"
            _plot_attack(self, a, path)
            paths[a.name] = path
            self.plots[a.name] = path.name
        return paths

    def write(self, out_dir: str | os.PathLike[str], *, plots: bool = True) -> dict[str, Path]:
        """Write the PNGs (unless ``plots=False``) and ``report.json`` into ``out_dir``.

        Returns:
            ``{"report.json": path, <attack>: png path, ...}``.
        """
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"output directory {out} cannot be created: {exc.strerror or exc}") from None
        written: dict[str, Path] = dict(self.plot(out)) if plots else {}
        written["report.json"] = self.write_json(out / "report.json")
        return written


def _finite(value: Any) -> Any:
    """JSON cannot hold NaN or infinities: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "attack"


def _plot_attack(report: Report, attack: AttackResult, path: Path) -> None:
    from matplotlib.figure import Figure  # the Agg canvas, without pyplot's global state

    fig = Figure(figsize=(13, 5), dpi=100, layout="constrained")
    hist_ax, roc_ax = fig.subplots(1, 2, width_ratios=[1.15, 1])
    fig.suptitle(f"attack set: {attack.name} ({attack.num_attack} attacks)")

    if MODEL in report.normal_scores:
        normal = report.normal_scores[MODEL]
        attacked = report.attack_scores[(attack.name, MODEL)]
        both = np.concatenate([normal, attacked])
        low, high = np.percentile(both, [0.1, 99.9]) if len(both) else (0.0, 1.0)
        bins = np.linspace(low, high if high > low else low + 1.0, 80)
        hist_ax.hist(
            np.clip(normal, low, high),
            bins=bins,
            density=True,
            alpha=0.55,
            label=f"normal ({len(normal)})",
            color="tab:blue",
        )
        hist_ax.hist(
            np.clip(attacked, low, high),
            bins=bins,
            density=True,
            alpha=0.55,
            label=f"attack ({len(attacked)})",
            color="tab:red",
        )
        model = attack.result(MODEL)
        name = "-score" if MODEL_DOT in report.scorers else "-dot_product"
        for p, style in zip(model.points, ("--", ":"), strict=False):
            hist_ax.axvline(
                p.threshold,
                color="black",
                linestyle=style,
                linewidth=1,
                label=f"{100 * p.target_fpr:g} % FPR: {name} > {p.threshold:.3g} (TPR {100 * p.tpr:.1f} %)",
            )
        hist_ax.set_xlabel(f"anomaly score = {name} (higher = more suspicious; outliers at the edges)")
        hist_ax.set_ylabel("density")
        hist_ax.set_title(f"IP Insights, ROC AUC {model.roc_auc:.4f}")
        hist_ax.legend(loc="upper right", fontsize=8)
    else:
        hist_ax.set_axis_off()

    # A step curve: at each false-alarm budget, the most attacks a threshold flags within it.
    # (Straight segments between ROC points would assume random tie-breaking, which no rule does.)
    grid = np.logspace(-5, 0, 500)
    for name in report.scorers:
        if (attack.name, name) not in report.attack_scores:
            continue
        normal, attacked = report.normal_scores[name], report.attack_scores[(attack.name, name)]
        labels = np.concatenate([np.zeros(len(normal)), np.ones(len(attacked))])
        fpr, tpr, _ = roc_curve(labels, np.concatenate([normal, attacked]), drop_intermediate=False)
        reachable = tpr[np.maximum(np.searchsorted(fpr, grid, side="right") - 1, 0)]
        width = 2.2 if name == MODEL else 1.2
        auc = attack.result(name).roc_auc
        roc_ax.plot(grid, reachable, drawstyle="steps-post", linewidth=width, label=f"{name} (AUC {auc:.4f})")
    for f in report.target_fprs:
        roc_ax.axvline(f, color="grey", linestyle=":", linewidth=0.8)
    roc_ax.set_xscale("log")
    roc_ax.set_xlim(1e-4, 1.0)
    roc_ax.set_ylim(0.0, 1.01)
    roc_ax.set_xlabel("false-positive rate: normal logins flagged (log scale)")
    roc_ax.set_ylabel("true-positive rate: attacks flagged")
    roc_ax.set_title("ROC curves")
    roc_ax.grid(True, alpha=0.3)
    roc_ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, format="png")
