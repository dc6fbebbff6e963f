"""``WarmStartConfig``: earlier jobs' training jobs seed a new search.

At creation the new job copies the parents' finished training jobs (completed or stopped, with
an objective) into its study as finished trials marked ``WarmStartFrom``; the samplers learn from
them, they are not training jobs of the new job and do not count in its budget. Only the
parents' own training jobs are copied, not what they imported themselves (not recursive).

Rules (the reference's): 1 to 5 parents, each finished (not InProgress); the same objective
metric and direction; a hyperparameter tuned in both keeps its kind (integer, continuous,
categorical); at most 10 hyperparameters change between static and tuned. With
``IdenticalDataAndAlgorithm`` the data channels must be the same files (size and content
fingerprint) and hyperparameters static in both must have the same values; with
``TransferLearning`` data and static values may differ, and the parents' learning curves are
not copied (the median rule would compare curves on different data).

A parent training job whose configuration lies outside the new ranges is not used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState, create_trial

from ipinsights.errors import ConfigError
from ipinsights.tune._attributes import TrialKey
from ipinsights.tune._space import distributions, encode
from ipinsights.tune._types import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    JobStatus,
    TrainingJobStatus,
    TuningJobConfig,
    WarmStartType,
)

__all__ = ["fingerprint", "import_parents"]

MAX_STATIC_TUNABLE_CHANGES = 10
_EDGE = 1 << 20


def fingerprint(path: str) -> str:
    """Size and a hash of the first and last MiB of each file under ``path`` (a file or folder)."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for p in files:
        try:
            size = p.stat().st_size
            with open(p, "rb") as f:
                head = f.read(_EDGE)
                f.seek(max(0, size - _EDGE))
                tail = f.read(_EDGE)
        except OSError:
            return ""
        digest.update(f"{p.relative_to(root) if root.is_dir() else p.name}:{size}:".encode())
        digest.update(head)
        digest.update(tail)
    return digest.hexdigest()


def _kind(r: Any) -> str:
    return {IntegerRange: "integer", ContinuousRange: "continuous", CategoricalRange: "categorical"}[type(r)]


def check_parent(
    config: TuningJobConfig,
    parent: TuningJobConfig,
    parent_status: str,
    data: dict[str, str],
    parent_data: dict[str, str],
) -> None:
    """Raise ConfigError when ``parent`` cannot warm-start ``config`` (the rules above)."""
    if config.warm_start is None:
        return
    where = f"WarmStartConfig: parent {parent.name!r}"
    if not JobStatus(parent_status).ended:
        raise ConfigError(
            f"{where} is {parent_status}; warm start needs a finished parent (Completed, Stopped or Failed)"
        )
    if parent.objective != config.objective:
        raise ConfigError(
            f"{where} optimises {parent.objective.type} {parent.objective.metric_name}, this job "
            f"{config.objective.type} {config.objective.metric_name}; the objective must be the same"
        )
    mine = {r.name: r for r in config.ranges}
    theirs = {r.name: r for r in parent.ranges}
    for name in mine.keys() & theirs.keys():
        if _kind(mine[name]) != _kind(theirs[name]):
            raise ConfigError(
                f"{where} tunes {name} as {_kind(theirs[name])}, this job as {_kind(mine[name])}; a hyperparameter's kind must not change"
            )
    changes = len(mine.keys() ^ theirs.keys())
    if changes > MAX_STATIC_TUNABLE_CHANGES:
        raise ConfigError(
            f"{where}: {changes} hyperparameters change between static and tuned; at most {MAX_STATIC_TUNABLE_CHANGES} may"
        )
    if config.warm_start.type is WarmStartType.IDENTICAL_DATA_AND_ALGORITHM:
        for channel, value in data.items():
            if parent_data.get(channel) != value:
                raise ConfigError(
                    f"{where} was trained on other {channel} data; IdenticalDataAndAlgorithm needs the same "
                    "files (use WarmStartType TransferLearning for new data)"
                )
        for name in config.static_hyperparameters.keys() & parent.static_hyperparameters.keys():
            a, b = config.static_hyperparameters[name], parent.static_hyperparameters[name]
            if float(a) != float(b):
                raise ConfigError(
                    f"{where} has static {name}={b}, this job {name}={a}; IdenticalDataAndAlgorithm keeps static "
                    "values (use TransferLearning, or tune it)"
                )


def import_parents(config: TuningJobConfig, study: optuna.Study, parents: list[Any]) -> int:
    """Copy the parents' finished training jobs into ``study``; returns how many were copied.

    Args:
        config: The new job.
        study: Its study (just created).
        parents: Opened parent jobs (:class:`ipinsights.tune._job.TuningJob`), already checked.
    """
    dists = distributions(config.ranges)
    keep_curves = (
        config.warm_start is not None and config.warm_start.type is WarmStartType.IDENTICAL_DATA_AND_ALGORITHM
    )
    copied = 0
    for parent in parents:
        for job in parent.training_jobs():
            if not job.finished_with_value:
                continue
            values = {
                **{k: v for k, v in parent.config.static_hyperparameters.items()},
                **job.hyperparameters,
            }
            params = encode(config.ranges, values)
            if params is None:
                continue
            study.add_trial(
                create_trial(
                    params=params,
                    distributions={k: dists[k] for k in params},
                    value=job.value,
                    intermediate_values=job.curve if keep_curves else None,
                    state=TrialState.COMPLETE if job.status is TrainingJobStatus.COMPLETED else TrialState.PRUNED,
                    user_attrs={TrialKey.WARM_START_FROM: f"{parent.config.name}/{job.name}"},
                )
            )
            copied += 1
    return copied
