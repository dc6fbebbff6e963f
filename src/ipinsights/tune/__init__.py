"""Automatic model tuning with SageMaker's tuning-job semantics, on Optuna.

A job file with the fields of ``CreateHyperParameterTuningJob`` becomes trials that call the
same public training API as a user would (``IPInsights(...).fit(...)``); no training logic lives
here. The pipeline, one module per concept:

``_types`` (the job's parts, each validating itself; statuses) → ``_space`` (ranges and scaling
types as Optuna distributions) → ``_parse`` (a request document into those types, each error
with the member's path; ``_fields`` reads members, ``_channels`` the data channels) and
``_load`` (a JSON or YAML job file, bounded) → ``_job`` (the job in its storage) → ``_worker``
(the loop that starts, watches and retries trial processes) → ``_trial`` (one trial process)
with ``_early_stopping`` (the median rule) and ``_completion`` (completion criteria) →
``_records`` (trials as training jobs) → ``_report`` (describe, list, analytics, plots,
progress) → ``_cli`` (what ``ipinsights tune``'s actions do; their options are
:mod:`ipinsights.cli.tune`'s). ``_storage`` opens the storage and keeps the journal whole;
``_warm_start`` imports parent jobs.

Example:
    >>> from ipinsights.tune import parse_job_config
    >>> config = parse_job_config({
    ...     "HyperParameterTuningJobName": "demo",
    ...     "HyperParameterTuningJobConfig": {
    ...         "Strategy": "Random",
    ...         "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
    ...         "ParameterRanges": {"IntegerParameterRanges": [
    ...             {"Name": "vector_dim", "MinValue": "8", "MaxValue": "64"}]},
    ...         "RandomSeed": 1},
    ...     "TrainingJobDefinition": {
    ...         "StaticHyperParameters": {"num_entity_vectors": "100"},
    ...         "InputDataConfig": {"train": "train.csv", "validation": "val.csv"}}})
    >>> config.objective.metric_name, config.resource_limits.max_number_of_training_jobs
    ('validation:detection_auc', 4)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.tune._completion import check_completion
    from ipinsights.tune._early_stopping import MedianRulePruner, median_rule_stops
    from ipinsights.tune._job import TuningJob
    from ipinsights.tune._load import load_job_config
    from ipinsights.tune._parse import parse_job_config
    from ipinsights.tune._report import analytics_rows, describe_job, list_training_jobs
    from ipinsights.tune._types import TuningJobConfig
    from ipinsights.tune._worker import Worker, run_job

# Imported on first use (PEP 562), so that ``ipinsights --help`` and the commands that do not
# tune start without the ``tune`` extra (Optuna, PyYAML) installed.
_LAZY = {
    "check_completion": "_completion",
    "TuningJobConfig": "_types",
    "load_job_config": "_load",
    "parse_job_config": "_parse",
    "MedianRulePruner": "_early_stopping",
    "median_rule_stops": "_early_stopping",
    "TuningJob": "_job",
    "Worker": "_worker",
    "run_job": "_worker",
    "analytics_rows": "_report",
    "describe_job": "_report",
    "list_training_jobs": "_report",
}

__all__ = [
    "MedianRulePruner",
    "TuningJob",
    "TuningJobConfig",
    "Worker",
    "analytics_rows",
    "check_completion",
    "describe_job",
    "list_training_jobs",
    "load_job_config",
    "median_rule_stops",
    "parse_job_config",
    "run_job",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ipinsights.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ipinsights.tune.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
