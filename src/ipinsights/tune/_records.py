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

from ipinsights.tune._attributes import TrialAttributes, TrialKey
from ipinsights.tune._space import decode
from ipinsights.tune._types import FailureKind, TrainingJobStatus, TuningJobConfig

__all__ = ["JobSummary", "TrainingJob", "summarize", "training_jobs"]

_STATUS = {
    TrialState.RUNNING: TrainingJobStatus.IN_PROGRESS,
    TrialState.COMPLETE: TrainingJobStatus.COMPLETED,
    TrialState.PRUNED: TrainingJobStatus.STOPPED,
    TrialState.FAIL: TrainingJobStatus.FAILED,
}


@dataclass
class TrainingJob:
    """One training job (an attempt), with the reference's status and times."""

    name: str
    index: int
    attempt: int
    number: int
    trial_id: int
    status: TrainingJobStatus
    value: float | None
    tuned: dict[str, Any]
    hyperparameters: dict[str, Any]
    creation_time: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    failure_kind: FailureKind | None = None
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
        return self.status in (TrainingJobStatus.COMPLETED, TrainingJobStatus.STOPPED) or (
            self.status is TrainingJobStatus.FAILED and self.failure_kind is not FailureKind.RETRYABLE
        )

    @property
    def finished_with_value(self) -> bool:
        """Completed or stopped with an objective value (what completion criteria look at)."""
        return self.value is not None and self.status in (TrainingJobStatus.COMPLETED, TrainingJobStatus.STOPPED)

    @property
    def objective_status(self) -> str:
        """``ObjectiveStatus``: Pending, Succeeded or Failed."""
        if self.status is TrainingJobStatus.IN_PROGRESS:
            return "Pending"
        if self.finished_with_value:
            return "Succeeded"
        return "Failed"

    @property
    def elapsed_seconds(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


def is_training_job(trial: FrozenTrial) -> bool:
    return trial.state is not TrialState.WAITING and TrialAttributes(trial.user_attrs).is_training_job


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
        attrs = TrialAttributes(t.user_attrs)
        status = _STATUS.get(t.state, TrainingJobStatus.IN_PROGRESS)
        try:
            tuned = decode(config.ranges, t.params)
        except KeyError:
            tuned = dict(t.params)
        kind = (attrs.failure_kind or FailureKind.NON_RETRYABLE) if status is TrainingJobStatus.FAILED else None
        out.append(
            TrainingJob(
                name=t.user_attrs[TrialKey.TRAINING_JOB_NAME],
                index=attrs.index or 0,
                attempt=attrs.attempt,
                number=t.number,
                trial_id=t._trial_id,
                status=status,
                value=t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
                tuned=tuned,
                hyperparameters=attrs.hyperparameters,
                creation_time=t.datetime_start,
                start_time=_time(attrs.raw.get(TrialKey.TRAINING_START_TIME), t.datetime_start),
                end_time=_time(attrs.raw.get(TrialKey.TRAINING_END_TIME), t.datetime_complete),
                failure_kind=kind,
                failure_reason=attrs.failure_reason,
                stopped_by=attrs.stopped_by,
                model_dir=attrs.raw.get(TrialKey.MODEL_ARTIFACTS),
                log=attrs.raw.get(TrialKey.TRAINING_LOG),
                epochs=len(t.intermediate_values),
                curve=dict(t.intermediate_values),
                worker=attrs.worker,
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
        status[(j.failure_kind or FailureKind.NON_RETRYABLE) if j.status is TrainingJobStatus.FAILED else j.status] += 1
    objective = Counter(j.objective_status for j in jobs)
    completed = [j for j in jobs if j.status is TrainingJobStatus.COMPLETED and j.value is not None]
    best = None
    if completed:
        pick = max if config.objective.maximize else min
        best = pick(
            completed,
            key=lambda j: (j.value, -j.number) if config.objective.maximize else (j.value, j.number),
        )
    return JobSummary(
        status_counters={
            str(k): status.get(k, 0)
            for k in (
                TrainingJobStatus.COMPLETED,
                TrainingJobStatus.IN_PROGRESS,
                FailureKind.RETRYABLE,
                FailureKind.NON_RETRYABLE,
                TrainingJobStatus.STOPPED,
            )
        },
        objective_counters={k: objective.get(k, 0) for k in ("Succeeded", "Pending", "Failed")},
        counted=len({j.index for j in jobs if j.final}),
        best=best,
        epochs=sum(j.epochs for j in jobs),
    )
