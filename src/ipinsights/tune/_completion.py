"""``TuningJobCompletionCriteria``: when a job may end before its budget is spent.

- ``TargetObjectiveMetricValue``: a completed training job's final objective reaches the target
  (``>=`` when maximising, ``<=`` when minimising).
- ``BestObjectiveNotImproving{MaxNumberOfTrainingJobsNotImproving: N}``: the last ``N`` finished
  training jobs (completed or stopped early, in the order they finished) did not improve the best
  objective by at least 1 % (relative: ``|new - best| >= 0.01 * |best|`` in the right direction).
- ``ConvergenceDetected{CompleteOnConvergence: Enabled}``: the reference leaves its rule open;
  ours: at least :data:`CONVERGENCE_MIN_JOBS` finished training jobs, and the best objective
  improved by less than :data:`CONVERGENCE_TOLERANCE` (relative) over the last
  ``max(5, ceil(n / 4))`` of them; a plateau that outlasts a quarter of the search.

Values are the final objectives of finished training jobs in finishing order; a job stopped early
counts as finished but, as in the reference, only completed jobs can be the best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ipinsights.tune._types import CompletionCriteria

__all__ = [
    "CONVERGENCE_MIN_JOBS",
    "CONVERGENCE_TOLERANCE",
    "IMPROVEMENT",
    "Completion",
    "FinishedJob",
    "check_completion",
    "converged",
    "jobs_not_improving",
]

#: The relative improvement that counts for ``BestObjectiveNotImproving``.
IMPROVEMENT = 0.01
CONVERGENCE_MIN_JOBS = 10
CONVERGENCE_TOLERANCE = 0.001


@dataclass(frozen=True)
class FinishedJob:
    """One finished training job: its final objective and whether it completed (not stopped)."""

    value: float
    completed: bool = True


@dataclass(frozen=True)
class Completion:
    """Why a job completes early (``reason`` is None while it goes on)."""

    reason: str | None
    jobs_not_improving: int
    converged: bool = False


def _better(new: float, old: float, maximize: bool, relative: float) -> bool:
    gain = (new - old) if maximize else (old - new)
    if old == 0:
        return gain > 0
    return gain >= relative * abs(old) and gain > 0


def jobs_not_improving(jobs: Sequence[FinishedJob], *, maximize: bool) -> int:
    """How many finished jobs, counted back from the last, did not improve the best by >= 1 %."""
    best: float | None = None
    count = 0
    for job in jobs:
        if job.completed and (best is None or _better(job.value, best, maximize, IMPROVEMENT)):
            best = job.value
            count = 0
        else:
            count += 1
            if job.completed and best is not None:
                best = max(best, job.value) if maximize else min(best, job.value)
    return count


def converged(jobs: Sequence[FinishedJob], *, maximize: bool) -> bool:
    """Our ``ConvergenceDetected`` rule (see the module docstring)."""
    n = len(jobs)
    if n < CONVERGENCE_MIN_JOBS:
        return False
    window = max(5, math.ceil(n / 4))
    before = [j.value for j in jobs[: n - window] if j.completed]
    after = [j.value for j in jobs if j.completed]
    if not before or not after:
        return False
    pick = max if maximize else min
    return not _better(pick(after), pick(before), maximize, CONVERGENCE_TOLERANCE)


def check_completion(
    criteria: CompletionCriteria, jobs: Sequence[FinishedJob], *, maximize: bool
) -> Completion:
    """Whether the criteria end the job, given its finished training jobs in finishing order.

    Example:
        >>> from ipinsights.tune._types import CompletionCriteria
        >>> jobs = [FinishedJob(0.90), FinishedJob(0.95), FinishedJob(0.96)]
        >>> check_completion(CompletionCriteria(target_objective_metric_value=0.95), jobs, maximize=True).reason
        'TargetObjectiveMetricValue 0.95 reached'
    """
    stale = jobs_not_improving(jobs, maximize=maximize)
    target = criteria.target_objective_metric_value
    if target is not None:
        for job in jobs:
            if job.completed and (job.value >= target if maximize else job.value <= target):
                return Completion(f"TargetObjectiveMetricValue {target:g} reached", stale)
    limit = criteria.max_number_of_training_jobs_not_improving
    if limit is not None and stale >= limit:
        return Completion(
            f"BestObjectiveNotImproving: {stale} training jobs without a 1 % improvement", stale
        )
    if criteria.complete_on_convergence and converged(jobs, maximize=maximize):
        return Completion("ConvergenceDetected", stale, converged=True)
    return Completion(None, stale)
