"""Where a tuning job keeps its state in Optuna's storage: every attribute name, declared once.

The job is an Optuna study. Its own state lives in study user attributes named
``ipinsights:...`` (:class:`JobKey`, read through :class:`JobAttributes`); each worker's heartbeat
is a study system attribute ``ipinsights:worker:<id>`` (:data:`WORKER_KEY_PREFIX`). A trial's
user attributes (:class:`TrialKey`, read through :class:`TrialAttributes`) use the reference's
names where it has one (``TrainingJobName``, ``FailureReason``, ...), so optuna-dashboard shows
them as SageMaker names them. The keys are plain strings (what the storages store); the values
read back are typed here, so no other module spells a key or guesses a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ipinsights.tune._types import FailureKind, JobStatus, StoppedBy

__all__ = ["WORKER_KEY_PREFIX", "JobAttributes", "JobKey", "TrialAttributes", "TrialKey"]


class JobKey:
    """Study user attributes: the job's record."""

    CONFIG: Final = "ipinsights:config"  # TuningJobConfig.to_dict(), what workers run
    DATA: Final = "ipinsights:data"  # the channels' size and content fingerprints (warm start)
    CREATED: Final = "ipinsights:created"  # ISO time
    INITIALIZED: Final = "ipinsights:initialized"  # True once the record and queue are complete
    STATUS: Final = "ipinsights:status"  # a JobStatus
    STATUS_REASON: Final = "ipinsights:status_reason"  # why it ended (describe's FailureReason)
    ENDED: Final = "ipinsights:ended"  # ISO time
    STOP_REQUESTED: Final = "ipinsights:stop_requested"  # ISO time of `tune stop`
    WARM_START_TRIALS: Final = "ipinsights:warm_start_trials"  # parents' training jobs imported
    GRID_SKIPPED: Final = "ipinsights:grid_skipped"  # Grid combinations left out (R + S)
    NOT_IMPROVING: Final = "ipinsights:not_improving"  # training jobs since the best improved
    CONVERGENCE_TIME: Final = "ipinsights:convergence_time"  # ISO time ConvergenceDetected held


#: A worker's heartbeat: study system attribute ``ipinsights:worker:<id>``.
WORKER_KEY_PREFIX: Final = "ipinsights:worker:"


class TrialKey:
    """Trial user attributes: one budget slot, draw or training job."""

    SLOT: Final = "Slot"  # a waiting trial that is a budget slot
    TRAINING_JOB_INDEX: Final = "TrainingJobIndex"  # the slot's 1-based number in the budget
    ATTEMPT: Final = "Attempt"  # 1, then one more per retry of the same configuration
    DRAW: Final = "Draw"  # draws of this slot so far (rejected R + S = 0 draws count)
    RETRY_OF: Final = "RetryOf"  # the training job this one retries
    TRAINING_JOB_NAME: Final = "TrainingJobName"
    HYPERPARAMETERS: Final = "HyperParameters"  # every value the trainer got
    WORKER: Final = "Worker"  # the worker's id
    HOST: Final = "Host"
    PID: Final = "Pid"  # the trial process
    TRAINING_LOG: Final = "TrainingLog"  # path of train.log
    TRAINING_START_TIME: Final = "TrainingStartTime"
    TRAINING_END_TIME: Final = "TrainingEndTime"
    FINAL_METRICS: Final = "FinalMetrics"
    MODEL_ARTIFACTS: Final = "ModelArtifacts"  # the model folder
    FAILURE_KIND: Final = "FailureKind"  # a FailureKind
    FAILURE_REASON: Final = "FailureReason"
    STOPPED_BY: Final = "StoppedBy"  # a StoppedBy
    REJECTED: Final = "Rejected"  # a draw refused before training (why); not a training job
    DISCARDED: Final = "Discarded"  # a surplus slot, never trained (why)
    WARM_START_FROM: Final = "WarmStartFrom"  # PARENT/TRAINING_JOB of an imported result


@dataclass(frozen=True)
class JobAttributes:
    """A study's user attributes, typed (``JobAttributes(study.user_attrs).status``)."""

    raw: Mapping[str, Any]

    @property
    def initialized(self) -> bool:
        return bool(self.raw.get(JobKey.INITIALIZED)) and JobKey.CONFIG in self.raw

    @property
    def config(self) -> Mapping[str, Any]:
        return self.raw[JobKey.CONFIG]

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.raw.get(JobKey.DATA) or {})

    @property
    def status(self) -> JobStatus:
        """The stored status; ``Stopping`` while a stop is requested and the job has not ended."""
        status = JobStatus(self.raw.get(JobKey.STATUS, JobStatus.IN_PROGRESS))
        if status is JobStatus.IN_PROGRESS and self.raw.get(JobKey.STOP_REQUESTED):
            return JobStatus.STOPPING
        return status

    @property
    def stored_status(self) -> JobStatus | None:
        value = self.raw.get(JobKey.STATUS)
        return JobStatus(value) if value is not None else None

    @property
    def status_reason(self) -> str | None:
        return self.raw.get(JobKey.STATUS_REASON)

    @property
    def created(self) -> str | None:
        return self.raw.get(JobKey.CREATED)

    @property
    def ended(self) -> str | None:
        return self.raw.get(JobKey.ENDED)

    @property
    def warm_start_trials(self) -> int:
        return int(self.raw.get(JobKey.WARM_START_TRIALS, 0))

    @property
    def not_improving(self) -> int:
        return int(self.raw.get(JobKey.NOT_IMPROVING, 0))

    @property
    def convergence_time(self) -> str | None:
        return self.raw.get(JobKey.CONVERGENCE_TIME)


@dataclass(frozen=True)
class TrialAttributes:
    """A trial's user attributes, typed (``TrialAttributes(trial.user_attrs).attempt``)."""

    raw: Mapping[str, Any]

    @property
    def slot(self) -> bool:
        return bool(self.raw.get(TrialKey.SLOT))

    @property
    def index(self) -> int | None:
        value = self.raw.get(TrialKey.TRAINING_JOB_INDEX)
        return int(value) if value is not None else None

    @property
    def attempt(self) -> int:
        return int(self.raw.get(TrialKey.ATTEMPT, 1))

    @property
    def draw(self) -> int:
        return int(self.raw.get(TrialKey.DRAW, 1))

    @property
    def name(self) -> str | None:
        return self.raw.get(TrialKey.TRAINING_JOB_NAME)

    @property
    def worker(self) -> str | None:
        return self.raw.get(TrialKey.WORKER)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return dict(self.raw.get(TrialKey.HYPERPARAMETERS) or {})

    @property
    def failure_kind(self) -> FailureKind | None:
        value = self.raw.get(TrialKey.FAILURE_KIND)
        return FailureKind(value) if value is not None else None

    @property
    def failure_reason(self) -> str | None:
        return self.raw.get(TrialKey.FAILURE_REASON)

    @property
    def stopped_by(self) -> str | None:
        """A :class:`StoppedBy`, or the completion criterion that stopped the job's trials."""
        value = self.raw.get(TrialKey.STOPPED_BY)
        return StoppedBy(value) if isinstance(value, str) and value in StoppedBy.__members__.values() else value

    @property
    def rejected(self) -> bool:
        return TrialKey.REJECTED in self.raw

    @property
    def is_training_job(self) -> bool:
        """Named as a training job, and not a rejected draw, a discarded slot or an import."""
        return TrialKey.TRAINING_JOB_NAME in self.raw and not any(
            k in self.raw for k in (TrialKey.REJECTED, TrialKey.DISCARDED, TrialKey.WARM_START_FROM)
        )
