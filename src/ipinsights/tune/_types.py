"""The tuning job's types: each validates itself, so an object that exists is a valid part of a job.

Frozen dataclasses check their own rules in ``__post_init__`` (a range's bounds against the
hyperparameter's :class:`~ipinsights.config.Constraint`, its scale, the reference's limits) and
raise :class:`ConfigError` with the rule and the value; :mod:`ipinsights.tune._parse` builds them
from a request document and only adds the field's path to the message. Rules that need the whole
job (R + S over the ranges and static values, Grid's combinations) are checked by the parser.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipinsights.config import HyperParameters
from ipinsights.errors import ConfigError

__all__ = [
    "METRIC_DIRECTIONS",
    "SAGEMAKER_ONLY",
    "CategoricalRange",
    "CompletionCriteria",
    "ContinuousRange",
    "EarlyStoppingType",
    "FailureKind",
    "InputFormat",
    "IntegerRange",
    "JobStatus",
    "Objective",
    "ObjectiveType",
    "ParameterRange",
    "ResourceLimits",
    "ScalingType",
    "StoppedBy",
    "Strategy",
    "TrainingJobStatus",
    "TuningJobConfig",
    "WarmStart",
    "WarmStartType",
]


class Strategy(enum.StrEnum):
    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    HYPERBAND = "Hyperband"
    GRID = "Grid"


class ScalingType(enum.StrEnum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


class ObjectiveType(enum.StrEnum):
    MAXIMIZE = "Maximize"
    MINIMIZE = "Minimize"


class EarlyStoppingType(enum.StrEnum):
    OFF = "Off"
    AUTO = "Auto"


class WarmStartType(enum.StrEnum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class JobStatus(enum.StrEnum):
    """``HyperParameterTuningJobStatus``."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def ended(self) -> bool:
        """Completed, Failed or Stopped: the job runs no more trials."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


class TrainingJobStatus(enum.StrEnum):
    """``TrainingJobStatus`` of one training job (trial); the reference's values, in its order.

    A local training job is never ``Stopping`` (its worker stops it at once); the value is kept
    so that ``tune list --status`` takes every value the service's filter takes.
    """

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class FailureKind(enum.StrEnum):
    """Why a training job failed, as the reference's status counters name it."""

    RETRYABLE = "RetryableError"  # its process died (killed, out of memory, a full disk): run it again
    NON_RETRYABLE = "NonRetryableError"  # a training error (bad data, divergence): it would fail again


class StoppedBy(enum.StrEnum):
    """Who stopped a training job (``StoppedBy``)."""

    EARLY_STOPPING = "EarlyStopping"  # the median rule
    HYPERBAND = "Hyperband"
    STOP_REQUEST = "StopHyperParameterTuningJob"


#: The metrics the trainer reports after every epoch, with their natural direction.
#: ``validation:detection_auc`` (the mean of the random, other-users, nearby-network, nearby-/24,
#: populated-network and roaming AUCs, ``ipinsights.train.ValidationSet``) is the default objective: the reference's
#: ``validation:discriminator_auc`` alone is near 0.99 for nearly every configuration and blind
#: to attackers next to the victim's networks (docs/tuning.md).
DEFAULT_OBJECTIVE = "validation:detection_auc"
METRIC_DIRECTIONS = {
    "validation:detection_auc": ObjectiveType.MAXIMIZE,
    "validation:discriminator_auc": ObjectiveType.MAXIMIZE,
    "validation:other_users_auc": ObjectiveType.MAXIMIZE,
    "validation:nearby_auc": ObjectiveType.MAXIMIZE,
    "validation:nearby_24_auc": ObjectiveType.MAXIMIZE,
    "validation:populated_auc": ObjectiveType.MAXIMIZE,
    "validation:roaming_auc": ObjectiveType.MAXIMIZE,
    "train:binary_classification_cross_entropy:epoch": ObjectiveType.MINIMIZE,
    "train:binary_classification_accuracy:epoch": ObjectiveType.MAXIMIZE,
    "train:throughput": ObjectiveType.MAXIMIZE,
}

#: The reference's limits.
MAX_TUNABLE_PARAMETERS = 30
MAX_CATEGORICAL_VALUES = 30
MAX_TRAINING_JOBS = 750
MAX_TRAINING_JOBS_RANDOM = 10_000
MAX_PARALLEL_TRAINING_JOBS = 100
MIN_RUNTIME_SECONDS, MAX_RUNTIME_SECONDS = 120, 15_768_000
MIN_JOBS_NOT_IMPROVING = 3
MAX_PARENT_JOBS = 5
MAX_RETRY_ATTEMPTS = 30
DEFAULT_RETRY_ATTEMPTS = 2
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
CHANNELS = ("train", "validation")

#: Members of botocore's ``CreateHyperParameterTuningJob`` input shapes (service model
#: sagemaker 2017-07-24, botocore 1.44) that configure SageMaker's infrastructure: accepted, kept
#: in the job's record and not used locally. Keyed by the shape's place in the request.
SAGEMAKER_ONLY: dict[str, tuple[str, ...]] = {
    "the job file": ("Tags", "Autotune"),
    "TrainingJobDefinition": (
        "DefinitionName",
        "AlgorithmSpecification",
        "RoleArn",
        "VpcConfig",
        "OutputDataConfig",
        "ResourceConfig",
        "HyperParameterTuningResourceConfig",
        "StoppingCondition",
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "CheckpointConfig",
        "Environment",
    ),
    "channel": ("ContentType", "CompressionType", "RecordWrapperType", "InputMode", "ShuffleConfig"),
    "DataSource": ("DatasetSource",),
    "S3DataSource": (
        "S3DataType",
        "S3DataDistributionType",
        "AttributeNames",
        "InstanceGroupNames",
        "ModelAccessConfig",
        "HubAccessConfig",
    ),
    "FileSystemDataSource": ("FileSystemId", "FileSystemAccessMode", "FileSystemType"),
    "ParameterRanges": ("AutoParameters",),
}
#: The key under which :meth:`TuningJobConfig.to_dict` keeps the request's SageMaker-only members.
SAGEMAKER_FIELDS_KEY = "SageMakerFields"


@dataclass(frozen=True)
class IntegerRange:
    """``IntegerParameterRanges`` item: an integer hyperparameter tuned in ``[min_value, max_value]``.

    Raises:
        ConfigError: The hyperparameter is not an integer one, a bound is outside its valid
            values, ``min_value > max_value``, or the scale does not fit the range.

    Example:
        >>> IntegerRange("vector_dim", 8, 5000)
        Traceback (most recent call last):
        ...
        ipinsights.errors.ConfigError: MaxValue 5000 is outside the valid values of vector_dim ([4, 4096])
    """

    name: str
    min_value: int
    max_value: int
    scaling: ScalingType = ScalingType.AUTO

    def __post_init__(self) -> None:
        _check_numeric_range(self, int)


@dataclass(frozen=True)
class ContinuousRange:
    """``ContinuousParameterRanges`` item: a continuous hyperparameter tuned in ``[min_value, max_value]``.

    Raises:
        ConfigError: As :class:`IntegerRange`; ``ReverseLogarithmic`` also needs ``0 <= min_value``
            and ``max_value < 1``.
    """

    name: str
    min_value: float
    max_value: float
    scaling: ScalingType = ScalingType.AUTO

    def __post_init__(self) -> None:
        _check_numeric_range(self, float)


def _check_numeric_range(r: IntegerRange | ContinuousRange, kind: type) -> None:
    constraint = HyperParameters.constraint(r.name)
    if kind is int and constraint.kind is not int:
        raise ConfigError(f"{r.name} is continuous; put it in ContinuousParameterRanges")
    if kind is float and constraint.kind is int:
        raise ConfigError(f"{r.name} takes integers; put it in IntegerParameterRanges")
    for key, v in (("MinValue", r.min_value), ("MaxValue", r.max_value)):
        if not constraint.contains(v):
            raise ConfigError(f"{key} {show(v)} is outside the valid values of {r.name} ({constraint.interval})")
    if r.min_value > r.max_value:
        raise ConfigError(f"MinValue ({show(r.min_value)}) must not exceed MaxValue ({show(r.max_value)})")
    if r.scaling is ScalingType.LOGARITHMIC and r.min_value <= 0:
        raise ConfigError(
            f"ScalingType Logarithmic needs MinValue > 0, got MinValue {show(r.min_value)}; "
            "raise MinValue or use Linear"
        )
    if r.scaling is ScalingType.REVERSE_LOGARITHMIC:
        if kind is int:
            raise ConfigError(
                "ScalingType ReverseLogarithmic is only for continuous ranges "
                "(within 0 <= x < 1); use Linear or Logarithmic"
            )
        if not (r.min_value >= 0 and r.max_value < 1):
            raise ConfigError(
                "ScalingType ReverseLogarithmic needs 0 <= MinValue and MaxValue < 1, "
                f"got [{show(r.min_value)}, {show(r.max_value)}]"
            )


@dataclass(frozen=True)
class CategoricalRange:
    """``CategoricalParameterRanges`` item: the values to try, as the request's strings.

    Raises:
        ConfigError: No values, more than :data:`MAX_CATEGORICAL_VALUES`, a value that the
            hyperparameter cannot take (its own rule's message), or a value listed twice.
    """

    name: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        constraint = HyperParameters.constraint(self.name)
        if not self.values:
            raise ConfigError(f"Values must be a non-empty list, got {show(list(self.values))}")
        if len(self.values) > MAX_CATEGORICAL_VALUES:
            raise ConfigError(
                f"Values: at most {MAX_CATEGORICAL_VALUES} values per categorical range, got {len(self.values)}"
            )
        seen: set[str] = set()
        for text in self.values:
            try:
                constraint.parse(self.name, text)
            except ConfigError as exc:
                raise ConfigError(f"Values: {show(text)} is invalid: {exc}") from None
            if text in seen:
                raise ConfigError(f"Values: {show(text)} is listed twice")
            seen.add(text)


ParameterRange = IntegerRange | ContinuousRange | CategoricalRange


#: The log formats ``ipinsights train --format`` reads (``ipinsights.readers.LogFormat``), and
#: those whose fields are chosen by name. Kept here as text so that validating a job file does
#: not import the readers.
LOG_FORMATS = ("csv", "sshd", "sshd-all", "combined", "cloudtrail", "jsonl", "csv-header", "parquet")
_NAMED_FIELDS = ("jsonl", "csv-header", "parquet")
_COMBINED_IP_FIELDS = ("remote_addr", "x-forwarded-for")


@dataclass(frozen=True)
class InputFormat:
    """How every channel is read: ``ipinsights train``'s ``--format``, ``--entity-field``, ``--ip-field``.

    Raises:
        ConfigError: An unknown format, or a field name the format does not take (fields are
            chosen by name in jsonl, csv-header and parquet; combined takes ``IpField``
            ``x-forwarded-for``).

    Example:
        >>> InputFormat("jsonl", entity_field="user.name").entity_field
        'user.name'
        >>> InputFormat("sshd", ip_field="addr")
        Traceback (most recent call last):
        ...
        ipinsights.errors.ConfigError: IpField chooses a field of jsonl, csv-header and parquet input (and x-forwarded-for of combined); InputFormat sshd has fixed fields
    """

    format: str = "csv"
    entity_field: str | None = None
    ip_field: str | None = None

    def __post_init__(self) -> None:
        if self.format not in LOG_FORMATS:
            raise ConfigError(
                f"InputFormat must be one of {' | '.join(LOG_FORMATS)}, got {show(self.format)}"
                f"{closest(self.format, LOG_FORMATS)}"
            )
        for key, value in (("EntityField", self.entity_field), ("IpField", self.ip_field)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{key} must be a field name, got {show(value)}")
        if self.format in _NAMED_FIELDS:
            return
        given = [key for key, value in (("EntityField", self.entity_field), ("IpField", self.ip_field)) if value]
        if self.format == "combined" and given == ["IpField"]:
            if self.ip_field in _COMBINED_IP_FIELDS:
                return
            raise ConfigError(
                f"IpField for InputFormat combined is remote_addr (%h, the default) or x-forwarded-for, "
                f"got {show(self.ip_field)}"
            )
        if given:
            raise ConfigError(
                f"{' and '.join(given)} {'choose fields' if len(given) > 1 else 'chooses a field'} of jsonl, "
                f"csv-header and parquet input (and x-forwarded-for of combined); InputFormat {self.format} "
                "has fixed fields"
            )

    def to_dict(self) -> dict[str, str]:
        """The job file's members (``InputFormat``, and ``EntityField`` / ``IpField`` when set)."""
        out = {"InputFormat": self.format}
        if self.entity_field is not None:
            out["EntityField"] = self.entity_field
        if self.ip_field is not None:
            out["IpField"] = self.ip_field
        return out


@dataclass(frozen=True)
class Objective:
    """``HyperParameterTuningJobObjective``: a metric the trainer reports each epoch, and its direction."""

    type: ObjectiveType
    metric_name: str

    def __post_init__(self) -> None:
        if self.metric_name not in METRIC_DIRECTIONS:
            raise ConfigError(
                f"MetricName must be a metric the trainer emits each epoch, got {self.metric_name!r}"
                f"{closest(self.metric_name, METRIC_DIRECTIONS)}; valid: {', '.join(METRIC_DIRECTIONS)}"
            )

    @property
    def maximize(self) -> bool:
        return self.type is ObjectiveType.MAXIMIZE


@dataclass(frozen=True)
class ResourceLimits:
    """``ResourceLimits``, within the reference's bounds (the job count's cap depends on the strategy)."""

    max_number_of_training_jobs: int
    max_parallel_training_jobs: int
    max_runtime_in_seconds: int | None = None

    def __post_init__(self) -> None:
        _check_integer("MaxParallelTrainingJobs", self.max_parallel_training_jobs, 1, MAX_PARALLEL_TRAINING_JOBS)
        _check_integer("MaxNumberOfTrainingJobs", self.max_number_of_training_jobs, 1, None)
        if self.max_runtime_in_seconds is not None:
            _check_integer(
                "MaxRuntimeInSeconds", self.max_runtime_in_seconds, MIN_RUNTIME_SECONDS, MAX_RUNTIME_SECONDS
            )


@dataclass(frozen=True)
class CompletionCriteria:
    """``TuningJobCompletionCriteria`` (each one optional)."""

    target_objective_metric_value: float | None = None
    max_number_of_training_jobs_not_improving: int | None = None
    complete_on_convergence: bool = False

    def __post_init__(self) -> None:
        if self.max_number_of_training_jobs_not_improving is not None:
            _check_integer(
                "MaxNumberOfTrainingJobsNotImproving",
                self.max_number_of_training_jobs_not_improving,
                MIN_JOBS_NOT_IMPROVING,
                None,
            )


@dataclass(frozen=True)
class WarmStart:
    """``WarmStartConfig``: 1 to :data:`MAX_PARENT_JOBS` distinct parent jobs and how to use them."""

    parents: tuple[str, ...]
    type: WarmStartType

    def __post_init__(self) -> None:
        if not 1 <= len(self.parents) <= MAX_PARENT_JOBS:
            raise ConfigError(
                f"ParentHyperParameterTuningJobs must list 1 to {MAX_PARENT_JOBS} parent jobs, got {len(self.parents)}"
            )
        for parent in self.parents:
            if not JOB_NAME.match(parent):
                raise ConfigError(f"HyperParameterTuningJobName must be a job name, got {show(parent)}")
        if len(set(self.parents)) != len(self.parents):
            twice = next(p for p in self.parents if self.parents.count(p) > 1)
            raise ConfigError(f"parent {show(twice)} is listed twice")


@dataclass(frozen=True, kw_only=True)
class TuningJobConfig:
    """A validated tuning job. Build it with :func:`parse_job_config` or :func:`load_job_config`.

    Attributes:
        name: ``HyperParameterTuningJobName``.
        strategy: The search strategy.
        objective: Metric and direction.
        ranges: The tuned hyperparameters (the recommended ranges when the file gives none).
        resource_limits: Budget; ``max_number_of_training_jobs`` is already resolved (for Grid,
            the number of valid combinations).
        early_stopping: ``Auto`` applies the median rule after each epoch.
        completion: ``TuningJobCompletionCriteria``.
        random_seed: ``RandomSeed`` (drawn and recorded when the file gives none).
        hyperband: ``(MinResource, MaxResource)`` in epochs, for Strategy Hyperband.
        static_hyperparameters: Hyperparameters that are not tuned, as given (strings allowed).
        channels: ``train`` and optionally ``validation``: paths to files or directories.
        warm_start: Parent jobs whose results seed this search.
        max_retry_attempts: How often a training job whose process died is run again.
        seed: Training seed of every trial (same for all, so that trials differ only by their
            hyperparameters).
        device: ``auto``, ``cpu`` or ``cuda`` for the trials.
        max_bad_fraction: The trainer's bad-row tolerance.
        input_format: How the channels are read (``train``'s ``--format``; default headerless CSV).
        default_ranges: True when ``ranges`` are the recommended ones.
        random_seed_given: False when ``random_seed`` was drawn because the file had none.
        sagemaker_fields: The request's members that configure SageMaker's infrastructure
            (:data:`SAGEMAKER_ONLY`), the hyperparameters its SDK added, and the channel list as
            written, verbatim and nested as in the request; not used locally, returned by
            ``describe``.
        not_used: Where those members were, for the one line that reports them.
    """

    name: str
    strategy: Strategy
    objective: Objective
    ranges: tuple[ParameterRange, ...]
    resource_limits: ResourceLimits
    early_stopping: EarlyStoppingType = EarlyStoppingType.OFF
    completion: CompletionCriteria = CompletionCriteria()
    random_seed: int = 0
    hyperband: tuple[int, int] | None = None
    static_hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    warm_start: WarmStart | None = None
    max_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    seed: int = 0
    device: str = "auto"
    max_bad_fraction: float = 0.01
    input_format: InputFormat = InputFormat()
    default_ranges: bool = False
    random_seed_given: bool = field(default=True, compare=False)
    sagemaker_fields: Mapping[str, Any] = field(default_factory=dict)
    not_used: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        """The rules of the job's own fields (the parser checks them first, naming the member)."""
        if not JOB_NAME.match(self.name):
            raise ConfigError(f"HyperParameterTuningJobName must be 1 to 32 letters, digits or hyphens, got {show(self.name)}")
        if not self.ranges:
            raise ConfigError("a tuning job tunes at least one hyperparameter")
        if self.hyperband is not None and not 1 <= self.hyperband[0] <= self.hyperband[1]:
            raise ConfigError(f"HyperbandStrategyConfig needs 1 <= MinResource <= MaxResource, got {self.hyperband}")
        _check_integer("MaximumRetryAttempts", self.max_retry_attempts, 0, MAX_RETRY_ATTEMPTS)
        _check_integer("RandomSeed", self.random_seed, 0, 2**32 - 1)
        _check_integer("Seed", self.seed, 0, 2**32 - 1)
        if self.device not in ("auto", "cpu") and not re.match(r"^cuda(:\d+)?$", self.device):
            raise ConfigError(f"Device must be auto, cpu or cuda[:N], got {show(self.device)}")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ConfigError(f"MaxBadFraction must be in [0, 1], got {show(self.max_bad_fraction)}")
        if "train" not in self.channels:
            raise ConfigError("a tuning job needs a train channel")

    @property
    def tuned_names(self) -> list[str]:
        return [r.name for r in self.ranges]

    @property
    def epochs(self) -> int:
        """Epochs of a full trial (``MaxResource`` for Hyperband; otherwise static or default)."""
        if self.hyperband is not None:
            return self.hyperband[1]
        value = self.static_hyperparameters.get("epochs")
        default: int = HyperParameters.__dataclass_fields__["epochs"].default  # type: ignore[assignment]
        return int(float(value)) if value is not None else default

    def to_dict(self) -> dict[str, Any]:
        """The job as a request document with the reference's names (round-trips via parse)."""
        integer = [
            {
                "Name": r.name,
                "MinValue": str(r.min_value),
                "MaxValue": str(r.max_value),
                "ScalingType": str(r.scaling),
            }
            for r in self.ranges
            if isinstance(r, IntegerRange)
        ]
        continuous = [
            {
                "Name": r.name,
                "MinValue": repr(r.min_value),
                "MaxValue": repr(r.max_value),
                "ScalingType": str(r.scaling),
            }
            for r in self.ranges
            if isinstance(r, ContinuousRange)
        ]
        categorical = [
            {"Name": r.name, "Values": list(r.values)} for r in self.ranges if isinstance(r, CategoricalRange)
        ]
        limits: dict[str, Any] = {
            "MaxNumberOfTrainingJobs": self.resource_limits.max_number_of_training_jobs,
            "MaxParallelTrainingJobs": self.resource_limits.max_parallel_training_jobs,
        }
        if self.resource_limits.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.resource_limits.max_runtime_in_seconds
        job: dict[str, Any] = {
            "Strategy": str(self.strategy),
            "HyperParameterTuningJobObjective": {
                "Type": str(self.objective.type),
                "MetricName": self.objective.metric_name,
            },
            "ResourceLimits": limits,
            "ParameterRanges": {
                "IntegerParameterRanges": integer,
                "ContinuousParameterRanges": continuous,
                "CategoricalParameterRanges": categorical,
            },
            "TrainingJobEarlyStoppingType": str(self.early_stopping),
            "RandomSeed": self.random_seed,
        }
        if self.hyperband is not None:
            job["StrategyConfig"] = {
                "HyperbandStrategyConfig": {
                    "MinResource": self.hyperband[0],
                    "MaxResource": self.hyperband[1],
                }
            }
        criteria: dict[str, Any] = {}
        c = self.completion
        if c.target_objective_metric_value is not None:
            criteria["TargetObjectiveMetricValue"] = c.target_objective_metric_value
        if c.max_number_of_training_jobs_not_improving is not None:
            criteria["BestObjectiveNotImproving"] = {
                "MaxNumberOfTrainingJobsNotImproving": c.max_number_of_training_jobs_not_improving
            }
        if c.complete_on_convergence:
            criteria["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
        if criteria:
            job["TuningJobCompletionCriteria"] = criteria
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobConfig": job,
            "TrainingJobDefinition": {
                "StaticHyperParameters": {k: str(v) for k, v in self.static_hyperparameters.items()},
                "InputDataConfig": dict(self.channels),
                "RetryStrategy": {"MaximumRetryAttempts": self.max_retry_attempts},
                "Seed": self.seed,
                "Device": self.device,
                "MaxBadFraction": self.max_bad_fraction,
            },
        }
        if self.input_format != InputFormat():  # left out when CSV, so older job records compare equal
            out["TrainingJobDefinition"].update(self.input_format.to_dict())
        if self.sagemaker_fields:
            out[SAGEMAKER_FIELDS_KEY] = dict(self.sagemaker_fields)
        if self.warm_start is not None:
            out["WarmStartConfig"] = {
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": p} for p in self.warm_start.parents
                ],
                "WarmStartType": str(self.warm_start.type),
            }
        return out

    def replace(self, **changes: Any) -> TuningJobConfig:
        return dataclasses.replace(self, **changes)




# -- for messages -----------------------------------------------------------------------------


def bounded(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (with ``...``)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()  # keyword arguments need Python 3.12
    short.maxlevel, short.maxlist, short.maxdict = 3, 8, 8
    short.maxstring = short.maxother = 80
    return short


_REPR = _short_repr()


def show(value: Any) -> str:
    """A user's value in an error message: its repr, at most 80 characters whatever its size."""
    return bounded(_REPR.repr(value))


def closest(name: Any, valid: Any) -> str:
    """``; did you mean 'x'?`` for the closest of ``valid``, or nothing."""
    if not isinstance(name, str) or len(name) > 100:
        return ""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def integer_rule(low: int | None, high: int | None) -> str:
    """``in [1, 100]``, ``>= 3`` or ``<= 9``: an integer field's bounds, for messages."""
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    return f">= {low}" if low is not None else f"<= {high}"


def _check_integer(name: str, value: int, low: int | None, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {show(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{name} must be an integer {integer_rule(low, high)}, got {value}")
