"""``TrainingJobEarlyStoppingType: Auto``: the reference's median stopping rule.

After each epoch ``t`` of a training job, take every *earlier* training job (started before it)
that has reported epoch ``t``, compute the running average of its objective over epochs
``1..t``, and take the median of those averages. If the current job's objective at epoch ``t``
is worse than that median (lower when maximising, higher when minimising), stop it.

This is not Optuna's ``MedianPruner``, which compares with the median of the other trials'
values *at* epoch ``t``, not of their running averages, and has warm-up settings of its own.

The reference does not say how many earlier jobs it needs; we apply the rule once at least
:data:`MIN_EARLIER_TRIALS` earlier jobs have reached epoch ``t``, so a median of one or two
curves cannot stop a job, and never after the last epoch (the job has then completed).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["MIN_EARLIER_TRIALS", "MedianRulePruner", "median_rule_stops"]

#: Earlier training jobs needed at an epoch before the rule may stop a job there.
MIN_EARLIER_TRIALS = 3


def median_rule_stops(
    value: float,
    epoch: int,
    earlier_curves: Sequence[Mapping[int, float]],
    *,
    maximize: bool,
    min_earlier: int = MIN_EARLIER_TRIALS,
) -> bool:
    """Whether the median rule stops a job whose objective at ``epoch`` is ``value``.

    Args:
        value: The job's objective after ``epoch`` epochs.
        epoch: 1-based count of completed epochs.
        earlier_curves: The objective per epoch (``{epoch: value}``) of each earlier job.
        maximize: The objective's direction.
        min_earlier: Earlier jobs that must have reached ``epoch`` for the rule to apply.

    Returns:
        True to stop the job now.

    Example:
        >>> earlier = [{1: 0.6, 2: 0.7}, {1: 0.7, 2: 0.8}, {1: 0.8, 2: 0.9}]
        >>> median_rule_stops(0.70, 2, earlier, maximize=True)  # averages 0.65, 0.75, 0.85
        True
        >>> median_rule_stops(0.80, 2, earlier, maximize=True)
        False
    """
    averages = []
    for curve in earlier_curves:
        steps = [curve.get(t) for t in range(1, epoch + 1)]
        if any(v is None for v in steps):
            continue
        averages.append(sum(steps) / epoch)  # type: ignore[arg-type]
    if len(averages) < max(1, min_earlier):
        return False
    median = statistics.median(averages)
    return value < median if maximize else value > median


class MedianRulePruner(optuna.pruners.BasePruner):
    """The median rule as an Optuna pruner (used through ``trial.should_prune()``).

    Earlier jobs are trials with a smaller number, running or finished (completed or stopped),
    including those imported from warm-start parents.
    """

    def __init__(self, *, min_earlier: int = MIN_EARLIER_TRIALS) -> None:
        self.min_earlier = min_earlier

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        earlier = [
            t.intermediate_values
            for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
            )
            if t.number < trial.number and t.intermediate_values
        ]
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        return median_rule_stops(value, step, earlier, maximize=maximize, min_earlier=self.min_earlier)
