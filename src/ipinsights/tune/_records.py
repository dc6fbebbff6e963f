"""Training jobs as the reference reports them, read from the Optuna trials of a study.

One Optuna trial is one attempt at a training job. The tuner's bookkeeping lives in the
trial's user attributes (visible in optuna-dashboard): ``TrainingJobName``,
``TrainingJobIndex`` (the budget slot, 1-based), ``Attempt``, ``FailureKind``, ``StoppedBy``,
``HyperParameters``, ``ModelArtifacts``, ... Trials that are not training jobs: waiting ones,
warm-start imports (``WarmStartFrom``), rejected draws (``Rejected``: R + S = 0) and surplus ones
(``Discarded``: asked after the budget was spent by another worker).

Status mapping (Optuna → reference ``TrainingJobStatus``): RUNNING → InProgress, COMPLETE →
Completed, PRUNED → Stopped (early stopping, Hyperband or a stop request), FAIL → Failed, as a
``RetryableError`` (its process died; it was run again) or a ``NonRetryableError`` (training
raised an error, or the retries ran out).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from ipinsights.tune._space import decode
from ipinsights.tune._types import TuningJobConfig

__all__ = ["JobSummary", "TrainingJob", "summarize", "training_jobs"]

RETRYABLE = "RetryableError"
NON_RETRYABLE = "NonRetryableError"
_STATUS = {
    TrialState.RUNNING: "InProgress",
    TrialState.COMPLETE: "Completed",
    TrialState.PRUNED: "Stopped",
    TrialState.FAIL: "Failed",
}


@dataclass
class TrainingJob:
    """One training job (an attempt), with the reference's status and times."""

    name: str
    index: int
    attempt: int
    number: int
    trial_id: int
    status: str
    value: float | None
    tuned: dict[str, Any]
    hyperparameters: dict[str, Any]
    creation_time: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    failure_kind: str | None = None
    failure_reason: str | None = None
    stopped_by: str | None = None
    model_dir: str | None = None
    log: str | None = None
    epochs: int = 0
    curve: dict[int, float] = field(default_factory=dict)
    worker: str | None = None

    @property
    def final(self) -> bool:
        """Counted in the budget: completed, stopped, or failed for good."""
        return self.status in ("Completed", "Stopped") or (
            self.status == "Failed" and self.failure_kind != RETRYABLE
        )

    @property
    def objective_status(self) -> str:
        if self.status == "InProgress":
            return "Pending"
        if self.value is not None and self.status in ("Completed", "Stopped"):
            return "Succeeded"
        return "Failed"

    @property
    def elapsed_seconds(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


def is_training_job(trial: FrozenTrial) -> bool:
    attrs = trial.user_attrs
    return (
        trial.state is not TrialState.WAITING
        and "TrainingJobName" in attrs
        and not any(k in attrs for k in ("Rejected", "Discarded", "WarmStartFrom"))
    )


def _time(value: Any, fallback: dt.datetime | None) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return fallback
    return fallback


def training_jobs(config: TuningJobConfig, trials: Sequence[FrozenTrial]) -> list[TrainingJob]:
    """The training jobs among ``trials``, by trial number."""
    out = []
    for t in trials:
        if not is_training_job(t):
            continue
        attrs = t.user_attrs
        status = _STATUS.get(t.state, "InProgress")
        try:
            tuned = decode(config.ranges, t.params)
        except KeyError:
            tuned = dict(t.params)
        kind = attrs.get("FailureKind") if status == "Failed" else None
        if status == "Failed" and kind is None:
            kind = NON_RETRYABLE
        out.append(
            TrainingJob(
                name=attrs["TrainingJobName"],
                index=int(attrs.get("TrainingJobIndex", 0)),
                attempt=int(attrs.get("Attempt", 1)),
                number=t.number,
                trial_id=t._trial_id,
                status=status,
                value=t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
                tuned=tuned,
                hyperparameters=dict(attrs.get("HyperParameters") or {}),
                creation_time=t.datetime_start,
                start_time=_time(attrs.get("TrainingStartTime"), t.datetime_start),
                end_time=_time(attrs.get("TrainingEndTime"), t.datetime_complete),
                failure_kind=kind,
                failure_reason=attrs.get("FailureReason"),
                stopped_by=attrs.get("StoppedBy"),
                model_dir=attrs.get("ModelArtifacts"),
                log=attrs.get("TrainingLog"),
                epochs=len(t.intermediate_values),
                curve=dict(t.intermediate_values),
                worker=attrs.get("Worker"),
            )
        )
    return out


@dataclass
class JobSummary:
    """Counters and the best job, as ``DescribeHyperParameterTuningJob`` reports them."""

    status_counters: dict[str, int]
    objective_counters: dict[str, int]
    counted: int
    best: TrainingJob | None
    epochs: int


def summarize(config: TuningJobConfig, jobs: Sequence[TrainingJob]) -> JobSummary:
    status: Counter[str] = Counter()
    for j in jobs:
        status[(j.failure_kind or NON_RETRYABLE) if j.status == "Failed" else j.status] += 1
    objective = Counter(j.objective_status for j in jobs)
    completed = [j for j in jobs if j.status == "Completed" and j.value is not None]
    best = None
    if completed:
        pick = max if config.objective.maximize else min
        best = pick(
            completed,
            key=lambda j: (j.value, -j.number) if config.objective.maximize else (j.value, j.number),
        )
    return JobSummary(
        status_counters={
            k: status.get(k, 0) for k in ("Completed", "InProgress", RETRYABLE, NON_RETRYABLE, "Stopped")
        },
        objective_counters={k: objective.get(k, 0) for k in ("Succeeded", "Pending", "Failed")},
        counted=len({j.index for j in jobs if j.final}),
        best=best,
        epochs=sum(j.epochs for j in jobs),
    )
