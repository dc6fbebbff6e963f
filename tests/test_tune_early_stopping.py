"""The reference's median stopping rule and the completion criteria, on hand-made curves."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from ipinsights.tune._completion import (
    CONVERGENCE_MIN_JOBS,
    FinishedJob,
    check_completion,
    converged,
    jobs_not_improving,
)
from ipinsights.tune._early_stopping import MedianRulePruner, median_rule_stops
from ipinsights.tune._types import CompletionCriteria

# Three earlier jobs; running averages after epoch 2: 0.65, 0.75, 0.85 (median 0.75);
# their values *at* epoch 2 are 0.70, 0.80, 0.90 (median 0.80).
EARLIER = [{1: 0.6, 2: 0.7, 3: 0.8}, {1: 0.7, 2: 0.8, 3: 0.9}, {1: 0.8, 2: 0.9, 3: 0.95}]


def test_a_job_worse_than_the_median_of_running_averages_is_stopped():
    assert median_rule_stops(0.74, 2, EARLIER, maximize=True)


def test_a_job_better_than_the_median_of_running_averages_goes_on():
    assert not median_rule_stops(0.76, 2, EARLIER, maximize=True)


def test_the_rule_uses_running_averages_not_the_values_at_that_epoch():
    # 0.78 is below the median value at epoch 2 (0.80, Optuna's MedianPruner would stop it)
    # but above the median running average (0.75): the reference's rule lets it go on.
    assert not median_rule_stops(0.78, 2, EARLIER, maximize=True)


def test_equal_to_the_median_is_not_worse():
    assert not median_rule_stops(0.75, 2, EARLIER, maximize=True)


def test_when_minimising_higher_is_worse():
    losses = [{1: 0.6, 2: 0.4}, {1: 0.5, 2: 0.3}, {1: 0.7, 2: 0.5}]  # averages 0.5, 0.4, 0.6
    assert median_rule_stops(0.51, 2, losses, maximize=False)
    assert not median_rule_stops(0.49, 2, losses, maximize=False)


def test_earlier_jobs_that_have_not_reached_the_epoch_are_left_out():
    # Only two earlier jobs reached epoch 3: too few for the rule.
    short = [EARLIER[0], EARLIER[1], {1: 0.99}]
    assert not median_rule_stops(0.1, 3, short, maximize=True)
    assert median_rule_stops(0.1, 3, [*short, EARLIER[2]], maximize=True)


def test_the_rule_needs_three_earlier_jobs_at_the_epoch():
    assert not median_rule_stops(0.0, 1, EARLIER[:2], maximize=True)
    assert median_rule_stops(0.0, 1, EARLIER, maximize=True)
    assert median_rule_stops(0.0, 1, EARLIER[:1], maximize=True, min_earlier=1)


def test_the_pruner_compares_with_earlier_trials_only():
    study = optuna.create_study(direction="maximize", pruner=MedianRulePruner())
    dist = {"x": FloatDistribution(0, 1)}
    for curve in EARLIER:
        study.add_trial(
            create_trial(params={"x": 0.5}, distributions=dist, value=curve[3], intermediate_values=curve)
        )
    late = create_trial(
        params={"x": 0.5}, distributions=dist, state=TrialState.RUNNING, intermediate_values={1: 0.5, 2: 0.74}
    )
    study.add_trial(late)
    trial = study.get_trials()[-1]
    assert study.pruner.prune(study, trial)
    # A running trial is judged only against trials numbered before it, not later ones.
    first = study.get_trials()[0]
    assert not study.pruner.prune(study, first)


# -- completion criteria ------------------------------------------------------------------------


def jobs(*values, stopped=()):
    return [FinishedJob(v, i not in stopped) for i, v in enumerate(values)]


def test_the_target_objective_ends_the_job_once_a_completed_job_reaches_it():
    criteria = CompletionCriteria(target_objective_metric_value=0.95)
    assert check_completion(criteria, jobs(0.9, 0.94), maximize=True).reason is None
    assert (
        check_completion(criteria, jobs(0.9, 0.95), maximize=True).reason
        == "TargetObjectiveMetricValue 0.95 reached"
    )
    # a job stopped early with a value past the target does not count
    assert check_completion(criteria, jobs(0.9, 0.97, stopped={1}), maximize=True).reason is None
    loss = CompletionCriteria(target_objective_metric_value=0.2)
    assert check_completion(loss, jobs(0.3, 0.19), maximize=False).reason is not None


def test_jobs_not_improving_counts_jobs_since_the_last_one_percent_improvement():
    assert jobs_not_improving(jobs(0.80), maximize=True) == 0
    assert jobs_not_improving(jobs(0.80, 0.805, 0.79), maximize=True) == 2  # +0.6 % is not enough
    assert (
        jobs_not_improving(jobs(0.80, 0.805, 0.79, 0.815), maximize=True) == 0
    )  # +1.2 % over the best, 0.805
    assert (
        jobs_not_improving(jobs(0.80, 0.805, 0.79, 0.81), maximize=True) == 3
    )  # +1.25 % over 0.80 but +0.6 % over 0.805
    assert jobs_not_improving(jobs(0.80, 0.90, stopped={1}), maximize=True) == 1  # stopped jobs never improve
    assert jobs_not_improving(jobs(0.50, 0.45, 0.49), maximize=False) == 1


def test_best_objective_not_improving_ends_the_job_after_that_many_jobs():
    criteria = CompletionCriteria(max_number_of_training_jobs_not_improving=3)
    assert check_completion(criteria, jobs(0.8, 0.8, 0.8), maximize=True).reason is None
    done = check_completion(criteria, jobs(0.8, 0.8, 0.8, 0.801), maximize=True)
    assert done.reason == "BestObjectiveNotImproving: 3 training jobs without a 1 % improvement"
    assert done.jobs_not_improving == 3


def test_convergence_needs_ten_jobs_and_a_plateau_over_the_last_quarter():
    rising = [0.5 + 0.03 * i for i in range(12)]
    assert not converged(jobs(*rising), maximize=True)
    plateau = [0.5, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert converged(jobs(*plateau), maximize=True)
    assert not converged(jobs(*plateau[: CONVERGENCE_MIN_JOBS - 1]), maximize=True)
    on = CompletionCriteria(complete_on_convergence=True)
    result = check_completion(on, jobs(*plateau), maximize=True)
    assert result.reason == "ConvergenceDetected" and result.converged
    assert check_completion(CompletionCriteria(), jobs(*plateau), maximize=True).reason is None


@pytest.mark.parametrize("maximize", [True, False])
def test_no_criteria_never_end_the_job(maximize):
    assert check_completion(CompletionCriteria(), jobs(*[0.5] * 50), maximize=maximize).reason is None
