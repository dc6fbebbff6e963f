"""The tuning job configuration: SageMaker's ``CreateHyperParameterTuningJob`` request, validated.

A job file (JSON or YAML) has the reference's top-level fields and names::

    HyperParameterTuningJobName: login-model
    HyperParameterTuningJobConfig:
      Strategy: Bayesian                  # Bayesian | Random | Hyperband | Grid
      HyperParameterTuningJobObjective: {Type: Maximize, MetricName: validation:discriminator_auc}
      ResourceLimits: {MaxNumberOfTrainingJobs: 20, MaxParallelTrainingJobs: 2}
      ParameterRanges:
        IntegerParameterRanges: [{Name: vector_dim, MinValue: 8, MaxValue: 256, ScalingType: Auto}]
        ContinuousParameterRanges: [{Name: learning_rate, MinValue: 1e-4, MaxValue: 0.1}]
        CategoricalParameterRanges: [{Name: mini_batch_size, Values: ["500", "1000"]}]
      TrainingJobEarlyStoppingType: Auto  # Off | Auto
      RandomSeed: 7
    TrainingJobDefinition:
      StaticHyperParameters: {num_entity_vectors: "20000", epochs: "5"}
      InputDataConfig: {train: data/train.csv, validation: data/validation.csv}

Every rule is checked here, before any trial starts; each error names the field (as a path such
as ``HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0] (vector_dim)``), the
rule, the value and the fix. Unknown keys are rejected with the closest member of the same shape,
all of a file's unknown keys in one message.

A request that botocore's ``CreateHyperParameterTuningJob`` input shape accepts is accepted
verbatim: the members that ask SageMaker's infrastructure for something (``RoleArn``,
``AlgorithmSpecification``, ``OutputDataConfig``, ``ResourceConfig``, ``Tags``, a channel's
``ContentType``, ... :data:`SAGEMAKER_ONLY`) and the hyperparameters SageMaker's SDK adds
(:func:`ipinsights.config.platform_keys`) are not used locally: they are listed in
:attr:`TuningJobConfig.not_used` and kept verbatim in :attr:`TuningJobConfig.sagemaker_fields`, so
that ``describe`` returns them. An ``s3://`` channel must be replaced by a local path
(``--train``/``--validation``) before anything reads it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import enum
import json
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipinsights.config import HyperParameters, platform_keys
from ipinsights.errors import ConfigError

__all__ = [
    "METRIC_DIRECTIONS",
    "SAGEMAKER_ONLY",
    "CategoricalRange",
    "CompletionCriteria",
    "ContinuousRange",
    "EarlyStoppingType",
    "IntegerRange",
    "Objective",
    "ObjectiveType",
    "ParameterRange",
    "ResourceLimits",
    "ScalingType",
    "Strategy",
    "TuningJobConfig",
    "WarmStart",
    "WarmStartType",
    "load_job_config",
    "parse_job_config",
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


#: The metrics the trainer reports after every epoch, with their natural direction.
#: ``validation:detection_auc`` (the mean of the random, other-users and nearby-network AUCs,
#: ``ipinsights.train.ValidationSet``) is the default objective: the reference's
#: ``validation:discriminator_auc`` alone is near 0.99 for nearly every configuration and blind
#: to attackers next to the victim's networks (docs/tuning.md).
DEFAULT_OBJECTIVE = "validation:detection_auc"
METRIC_DIRECTIONS = {
    "validation:detection_auc": ObjectiveType.MAXIMIZE,
    "validation:discriminator_auc": ObjectiveType.MAXIMIZE,
    "validation:other_users_auc": ObjectiveType.MAXIMIZE,
    "validation:nearby_auc": ObjectiveType.MAXIMIZE,
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
#: Bounds on a job file: levels of nesting, and values once YAML aliases are expanded.
MAX_CONFIG_DEPTH = 64
MAX_CONFIG_VALUES = 100_000
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
_CHANNELS = ("train", "validation")

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


@dataclass
class _Findings:
    """What one parse noticed besides errors: unknown keys (reported together) and unused members."""

    unknown: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


_FINDINGS: contextvars.ContextVar[_Findings | None] = contextvars.ContextVar("_FINDINGS", default=None)


@dataclass(frozen=True)
class IntegerRange:
    name: str
    min_value: int
    max_value: int
    scaling: ScalingType = ScalingType.AUTO


@dataclass(frozen=True)
class ContinuousRange:
    name: str
    min_value: float
    max_value: float
    scaling: ScalingType = ScalingType.AUTO


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]


ParameterRange = IntegerRange | ContinuousRange | CategoricalRange


@dataclass(frozen=True)
class Objective:
    type: ObjectiveType
    metric_name: str

    @property
    def maximize(self) -> bool:
        return self.type is ObjectiveType.MAXIMIZE


@dataclass(frozen=True)
class ResourceLimits:
    max_number_of_training_jobs: int
    max_parallel_training_jobs: int
    max_runtime_in_seconds: int | None = None


@dataclass(frozen=True)
class CompletionCriteria:
    target_objective_metric_value: float | None = None
    max_number_of_training_jobs_not_improving: int | None = None
    complete_on_convergence: bool = False


@dataclass(frozen=True)
class WarmStart:
    parents: tuple[str, ...]
    type: WarmStartType


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
    default_ranges: bool = False
    random_seed_given: bool = field(default=True, compare=False)
    sagemaker_fields: Mapping[str, Any] = field(default_factory=dict)
    not_used: tuple[str, ...] = field(default=(), compare=False)

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


# -- reading ----------------------------------------------------------------------------------


def load_job_config(
    path: str | Path,
    *,
    name: str | None = None,
    train: str | None = None,
    validation: str | None = None,
    seed_if_missing: int | None = None,
) -> TuningJobConfig:
    """Read and validate a job file (``.json``, ``.yaml`` or ``.yml``).

    Relative data paths are taken relative to the file's folder. ``name``, ``train`` and
    ``validation`` override the file (the command line's ``--name``, ``--train``,
    ``--validation``); without a name in either, the file's stem is the job name.

    Raises:
        ConfigError: The file cannot be read or parsed, or breaks a rule.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"--config {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a job file is JSON or YAML in UTF-8"
        ) from None
    too_deep = (
        f"--config {path}: nested too deeply (a job file has at most {MAX_CONFIG_DEPTH} levels of "
        "mappings and lists)"
    )
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            document = _load_yaml(text, path)
        else:
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--config {path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(too_deep) from None
    if _depth(document) > MAX_CONFIG_DEPTH:
        raise ConfigError(too_deep)
    if not isinstance(document, dict):
        raise ConfigError(
            f"--config {path}: expected a mapping with HyperParameterTuningJobConfig at the top"
        )
    document = dict(document)
    if name is not None:
        document["HyperParameterTuningJobName"] = name
    document.setdefault("HyperParameterTuningJobName", path.stem)
    overrides = {
        channel: str(Path(value).resolve())
        for channel, value in (("train", train), ("validation", validation))
        if value is not None
    }
    return parse_job_config(
        document, seed_if_missing=seed_if_missing, channel_paths=overrides, base_dir=path.parent
    )


def _load_yaml(text: str, path: Path) -> Any:
    """``yaml.safe_load``, refusing documents whose aliases expand past ``MAX_CONFIG_VALUES``.

    An alias is shared when loaded, so a 734-byte "billion laughs" file loads at once; its
    size shows when anything walks it (an error message's repr once printed 254 MB). The
    expanded size is counted on the node graph, memoised by node, so counting is cheap too.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"--config {path}: more than {MAX_CONFIG_VALUES} values once its YAML aliases (*name) "
                "are expanded; a job file needs far fewer: write the values out"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--config {path}: not valid YAML ({_bounded(' '.join(str(exc).split()), 300)})"
        ) from None
    finally:
        loader.dispose()


def _expanded_size(root: Any) -> int:
    """Values in a YAML node graph with every alias expanded (iterative: no recursion limit)."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            return MAX_CONFIG_VALUES + 1  # an alias inside its own anchor: infinite
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        if children_done or not children:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 0) for c in children), MAX_CONFIG_VALUES + 1)
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _depth(document: Any) -> int:
    """Levels of mappings and lists in a loaded document (iterative)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_CONFIG_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _bounded(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()  # keyword arguments need Python 3.12
    short.maxlevel, short.maxlist, short.maxdict = 3, 8, 8
    short.maxstring = short.maxother = 80
    return short


_REPR = _short_repr()


def _show(value: Any) -> str:
    """A user's value in an error message: its repr, at most 80 characters whatever its size."""
    return _bounded(_REPR.repr(value))


def parse_job_config(
    document: Mapping[str, Any],
    *,
    seed_if_missing: int | None = None,
    channel_paths: Mapping[str, str] | None = None,
    base_dir: str | Path | None = None,
) -> TuningJobConfig:
    """Validate a job document (the parsed JSON or YAML) and return the job.

    Args:
        document: The request, with the reference's field names; any request that botocore's
            ``CreateHyperParameterTuningJob`` input shape accepts.
        seed_if_missing: ``RandomSeed`` to use when the document has none (default: drawn).
        channel_paths: Local paths that replace the document's channels (``--train``,
            ``--validation``), applied before any channel is checked, so an ``s3://`` channel
            with a replacement is fine.
        base_dir: Folder that relative channel paths are taken relative to.

    Raises:
        ConfigError: Naming the field, the rule, the value and the fix; every unknown key of the
            document in one message.
    """
    findings = _Findings()
    token = _FINDINGS.set(findings)
    try:
        config = _parse(document, seed_if_missing, dict(channel_paths or {}), base_dir)
    except ConfigError as exc:
        if findings.unknown and str(exc) not in findings.unknown:
            raise ConfigError(_problems([*findings.unknown, str(exc)])) from None
        raise
    finally:
        _FINDINGS.reset(token)
    if findings.unknown:
        raise ConfigError(_problems(findings.unknown))
    return config.replace(not_used=tuple(dict.fromkeys(findings.unused)))


def _problems(messages: list[str]) -> str:
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} problems in the job file:\n" + "\n".join(f"  {m}" for m in messages)


def _parse(
    document: Mapping[str, Any],
    seed_if_missing: int | None,
    channel_paths: dict[str, str],
    base_dir: str | Path | None,
) -> TuningJobConfig:
    _keys(
        document,
        "the job file",
        (
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobConfig",
            "TrainingJobDefinition",
            "TrainingJobDefinitions",
            "WarmStartConfig",
            SAGEMAKER_FIELDS_KEY,
        ),
        SAGEMAKER_ONLY["the job file"],
    )
    name = document.get("HyperParameterTuningJobName")
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise ConfigError(
            "HyperParameterTuningJobName must be 1 to 32 letters, digits or hyphens, starting with a letter "
            f"or digit and not ending with a hyphen, got {_show(name)}"
        )
    if "HyperParameterTuningJobConfig" not in document:
        raise ConfigError(
            "HyperParameterTuningJobConfig is required (it holds Strategy, ResourceLimits, ...)"
        )
    where = "HyperParameterTuningJobConfig"
    job = _mapping(document["HyperParameterTuningJobConfig"], where)
    _keys(
        job,
        where,
        (
            "Strategy",
            "StrategyConfig",
            "HyperParameterTuningJobObjective",
            "ResourceLimits",
            "ParameterRanges",
            "TrainingJobEarlyStoppingType",
            "TuningJobCompletionCriteria",
            "RandomSeed",
        ),
    )
    strategy = _enum(job.get("Strategy", "Bayesian"), Strategy, f"{where}.Strategy")
    early_stopping = _early_stopping(job.get("TrainingJobEarlyStoppingType", "Off"), where)
    objective = _objective(
        job.get("HyperParameterTuningJobObjective"), f"{where}.HyperParameterTuningJobObjective"
    )

    definition, def_where = _definition(document)
    _keys(
        definition,
        def_where,
        (
            "StaticHyperParameters",
            "InputDataConfig",
            "RetryStrategy",
            "TuningObjective",
            "HyperParameterRanges",
            "Seed",
            "Device",
            "MaxBadFraction",
        ),
        SAGEMAKER_ONLY["TrainingJobDefinition"],
    )
    kept: dict[str, Any] = dict(_mapping(document.get(SAGEMAKER_FIELDS_KEY) or {}, SAGEMAKER_FIELDS_KEY))
    kept.update({k: document[k] for k in SAGEMAKER_ONLY["the job file"] if k in document})
    kept_definition = dict(kept.get("TrainingJobDefinition") or {})
    kept_definition.update(
        {k: definition[k] for k in SAGEMAKER_ONLY["TrainingJobDefinition"] if k in definition}
    )
    if "TuningObjective" in definition:
        if "HyperParameterTuningJobObjective" in job:
            raise ConfigError(
                f"{def_where}.TuningObjective and {where}.HyperParameterTuningJobObjective are both given; "
                "keep one"
            )
        objective = _objective(definition["TuningObjective"], f"{def_where}.TuningObjective")
    static = dict(
        _mapping(definition.get("StaticHyperParameters") or {}, f"{def_where}.StaticHyperParameters")
    )
    added = platform_keys(static)
    if added:
        kept_definition["StaticHyperParameters"] = {
            **kept_definition.get("StaticHyperParameters", {}),
            **{k: static.pop(k) for k in added},
        }
        _note_unused(f"{def_where}.StaticHyperParameters", added)
    _check_static(static, f"{def_where}.StaticHyperParameters")
    raw_channels = definition.get("InputDataConfig") or {}
    if isinstance(raw_channels, list):
        kept_definition["InputDataConfig"] = raw_channels
    channels, labels = _channels(raw_channels, f"{def_where}.InputDataConfig")
    for channel, value in list(channels.items()):
        if channel in channel_paths:
            channels[channel] = channel_paths[channel]
        elif value.startswith("s3://"):
            raise ConfigError(
                f"{labels[channel]}: {_show(value)} is in S3, which ipinsights does not read; pass "
                f"--{channel} PATH (a local copy of it) or give a local path in the file"
            )
        elif base_dir is not None and not Path(value).is_absolute():
            channels[channel] = str((Path(base_dir) / value).resolve())
    channels.update({k: v for k, v in channel_paths.items() if k not in channels})
    if kept_definition:
        kept["TrainingJobDefinition"] = kept_definition
    if "train" not in channels:
        raise ConfigError(
            "TrainingJobDefinition.InputDataConfig needs a train channel (a CSV file or folder); "
            "add it to the file or pass --train PATH"
        )
    if objective.metric_name.startswith("validation:") and "validation" not in channels:
        raise ConfigError(
            f"the objective {objective.metric_name} needs a validation channel; add "
            "TrainingJobDefinition.InputDataConfig validation: PATH (or pass --validation PATH), "
            "or choose MetricName train:binary_classification_cross_entropy:epoch"
        )
    retry = _mapping(definition.get("RetryStrategy") or {}, f"{def_where}.RetryStrategy")
    _keys(retry, f"{def_where}.RetryStrategy", ("MaximumRetryAttempts",))
    max_retry = _integer(
        retry.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
        f"{def_where}.RetryStrategy.MaximumRetryAttempts",
        0,
        MAX_RETRY_ATTEMPTS,
    )
    seed = _integer(definition.get("Seed", 0), f"{def_where}.Seed", 0, 2**32 - 1)
    device = str(definition.get("Device", "auto"))
    if device not in ("auto", "cpu") and not re.match(r"^cuda(:\d+)?$", device):
        raise ConfigError(f"{def_where}.Device must be auto, cpu or cuda[:N], got {_show(device)}")
    bad = _number(definition.get("MaxBadFraction", 0.01), f"{def_where}.MaxBadFraction")
    if not 0.0 <= bad <= 1.0:
        raise ConfigError(f"{def_where}.MaxBadFraction must be in [0, 1], got {_show(bad)}")

    hyperband = _hyperband(job.get("StrategyConfig"), strategy, early_stopping, static, where)
    ranges_where, ranges_value = f"{where}.ParameterRanges", job.get("ParameterRanges")
    if "HyperParameterRanges" in definition:
        if ranges_value is not None:
            raise ConfigError(
                f"{def_where}.HyperParameterRanges and {where}.ParameterRanges are both given; keep one"
            )
        ranges_where, ranges_value = f"{def_where}.HyperParameterRanges", definition["HyperParameterRanges"]
    if ranges_value is not None and _only_auto_parameters(ranges_value):
        _keys(ranges_value, ranges_where, (), SAGEMAKER_ONLY["ParameterRanges"])
        ranges_value = None  # Autotune's hints: the recommended ranges stand in for them
    if ranges_value is not None:
        ranges = _ranges(ranges_value, ranges_where)
        default_ranges = False
    else:
        from ipinsights.tune._space import default_ranges as recommended

        ranges = tuple(r for r in recommended() if r.name not in static)
        if strategy is Strategy.HYPERBAND:
            ranges = tuple(r for r in ranges if r.name != "epochs")
        if strategy is Strategy.GRID:
            raise ConfigError(
                f"{where}.ParameterRanges: Strategy Grid needs CategoricalParameterRanges (the recommended "
                "ranges are integer and continuous); list the values to try"
            )
        default_ranges = True
    _check_ranges_against_job(ranges, static, strategy, where)

    seed_value = job.get("RandomSeed")
    if seed_value is None:
        if seed_if_missing is None:
            import secrets

            seed_if_missing = secrets.randbelow(2**31)
        random_seed = seed_if_missing
    else:
        random_seed = _integer(seed_value, f"{where}.RandomSeed", 0, 2**32 - 1)

    completion = _completion(job.get("TuningJobCompletionCriteria"), f"{where}.TuningJobCompletionCriteria")
    limits = _limits(job.get("ResourceLimits"), f"{where}.ResourceLimits", strategy, ranges, static)
    warm_start = _warm_start(document.get("WarmStartConfig"), name)

    return TuningJobConfig(
        name=name,
        strategy=strategy,
        objective=objective,
        ranges=ranges,
        resource_limits=limits,
        early_stopping=early_stopping,
        completion=completion,
        random_seed=random_seed,
        hyperband=hyperband,
        static_hyperparameters=static,
        channels=channels,
        warm_start=warm_start,
        max_retry_attempts=max_retry,
        seed=seed,
        device=device,
        max_bad_fraction=bad,
        default_ranges=default_ranges,
        random_seed_given=seed_value is not None,
        sagemaker_fields=kept,
    )


def _definition(document: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """``TrainingJobDefinition``, or the one definition of ``TrainingJobDefinitions``."""
    if "TrainingJobDefinitions" not in document:
        return _mapping(document.get("TrainingJobDefinition") or {}, "TrainingJobDefinition"), (
            "TrainingJobDefinition"
        )
    where = "TrainingJobDefinitions"
    if "TrainingJobDefinition" in document:
        raise ConfigError(f"TrainingJobDefinition and {where} are both given; keep one")
    definitions = document[where]
    if not isinstance(definitions, list) or len(definitions) != 1:
        count = len(definitions) if isinstance(definitions, list) else _show(definitions)
        raise ConfigError(
            f"{where} must list exactly one definition here (one algorithm, IP Insights), got {count}; "
            "run one tuning job per definition"
        )
    return _mapping(definitions[0], f"{where}[0]"), f"{where}[0]"


def _only_auto_parameters(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and "AutoParameters" in value
        and not any(
            value.get(k)
            for k in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
        )
    )


def _note_unused(where: str, keys: Any) -> None:
    findings = _FINDINGS.get()
    if findings is not None:
        findings.unused.extend(f"{where}.{k}" for k in keys)


# -- the parts --------------------------------------------------------------------------------


def _objective(value: Any, where: str) -> Objective:
    if value is None:
        return Objective(ObjectiveType.MAXIMIZE, DEFAULT_OBJECTIVE)
    value = _mapping(value, where)
    _keys(value, where, ("Type", "MetricName"))
    metric = value.get("MetricName", DEFAULT_OBJECTIVE)
    if metric not in METRIC_DIRECTIONS:
        raise ConfigError(
            f"{where}.MetricName must be a metric the trainer emits each epoch, got {metric!r}{_closest(metric, METRIC_DIRECTIONS)}; valid: {', '.join(METRIC_DIRECTIONS)}"
        )
    kind = (
        _enum(value["Type"], ObjectiveType, f"{where}.Type") if "Type" in value else METRIC_DIRECTIONS[metric]
    )
    return Objective(kind, metric)


def _early_stopping(value: Any, where: str) -> EarlyStoppingType:
    if value is False:  # YAML 1.1 reads a bare Off as false
        value = "Off"
    return _enum(value, EarlyStoppingType, f"{where}.TrainingJobEarlyStoppingType")


def _hyperband(
    value: Any, strategy: Strategy, early_stopping: EarlyStoppingType, static: Mapping[str, Any], where: str
) -> tuple[int, int] | None:
    here = f"{where}.StrategyConfig"
    if strategy is not Strategy.HYPERBAND:
        if value is not None:
            raise ConfigError(
                f"{here} (HyperbandStrategyConfig) is only valid with Strategy Hyperband, got Strategy {strategy}"
            )
        return None
    if early_stopping is not EarlyStoppingType.OFF:
        raise ConfigError(
            f"{where}.TrainingJobEarlyStoppingType must be Off with Strategy Hyperband (Hyperband stops "
            f"trials itself), got {early_stopping}"
        )
    config = _mapping(value or {}, here)
    _keys(config, here, ("HyperbandStrategyConfig",))
    band = _mapping(config.get("HyperbandStrategyConfig") or {}, f"{here}.HyperbandStrategyConfig")
    _keys(band, f"{here}.HyperbandStrategyConfig", ("MinResource", "MaxResource"))
    default_max = int(float(static.get("epochs", HyperParameters.__dataclass_fields__["epochs"].default)))
    low = _integer(band.get("MinResource", 1), f"{here}.HyperbandStrategyConfig.MinResource", 1, None)
    high = _integer(
        band.get("MaxResource", default_max), f"{here}.HyperbandStrategyConfig.MaxResource", 1, None
    )
    if low > high:
        raise ConfigError(
            f"{here}.HyperbandStrategyConfig: MinResource ({low}) must not exceed MaxResource ({high}) "
            "(both in epochs)"
        )
    return low, high


def _limits(
    value: Any, where: str, strategy: Strategy, ranges: tuple[ParameterRange, ...], static: Mapping[str, Any]
) -> ResourceLimits:
    if value is None:
        raise ConfigError(f"{where} is required (at least MaxParallelTrainingJobs)")
    value = _mapping(value, where)
    _keys(value, where, ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"))
    if "MaxParallelTrainingJobs" not in value:
        raise ConfigError(
            f"{where}.MaxParallelTrainingJobs is required (how many trials run at once), e.g. 2"
        )
    parallel = _integer(
        value["MaxParallelTrainingJobs"], f"{where}.MaxParallelTrainingJobs", 1, MAX_PARALLEL_TRAINING_JOBS
    )
    cap = MAX_TRAINING_JOBS_RANDOM if strategy is Strategy.RANDOM else MAX_TRAINING_JOBS
    if strategy is Strategy.GRID:
        from ipinsights.tune._space import grid

        combinations, skipped = grid(ranges, static, seed=0)
        if not combinations:
            raise ConfigError(
                f"{where}: every Grid combination is invalid ({skipped} skipped because R + S is outside [1, 500])"
            )
        count = len(combinations)
        if count > cap:
            raise ConfigError(
                f"Strategy Grid: the CategoricalParameterRanges make {count} combinations; at most {cap} are allowed"
            )
        if "MaxNumberOfTrainingJobs" in value:
            given = _integer(value["MaxNumberOfTrainingJobs"], f"{where}.MaxNumberOfTrainingJobs", 1, cap)
            if given < count:
                raise ConfigError(
                    f"{where}.MaxNumberOfTrainingJobs is {given} but Strategy Grid runs every one of the {count} "
                    "combinations; leave MaxNumberOfTrainingJobs out or remove values"
                )
        jobs = count
    else:
        jobs = _integer(value.get("MaxNumberOfTrainingJobs", cap), f"{where}.MaxNumberOfTrainingJobs", 1, cap)
    runtime = None
    if value.get("MaxRuntimeInSeconds") is not None:
        runtime = _integer(
            value["MaxRuntimeInSeconds"],
            f"{where}.MaxRuntimeInSeconds",
            MIN_RUNTIME_SECONDS,
            MAX_RUNTIME_SECONDS,
        )
    return ResourceLimits(jobs, parallel, runtime)


def _completion(value: Any, where: str) -> CompletionCriteria:
    if value is None:
        return CompletionCriteria()
    value = _mapping(value, where)
    _keys(value, where, ("TargetObjectiveMetricValue", "BestObjectiveNotImproving", "ConvergenceDetected"))
    target = None
    if value.get("TargetObjectiveMetricValue") is not None:
        target = _number(value["TargetObjectiveMetricValue"], f"{where}.TargetObjectiveMetricValue")
    not_improving = None
    if value.get("BestObjectiveNotImproving") is not None:
        here = f"{where}.BestObjectiveNotImproving"
        block = _mapping(value["BestObjectiveNotImproving"], here)
        _keys(block, here, ("MaxNumberOfTrainingJobsNotImproving",))
        if "MaxNumberOfTrainingJobsNotImproving" not in block:
            raise ConfigError(
                f"{here}.MaxNumberOfTrainingJobsNotImproving is required (an integer >= {MIN_JOBS_NOT_IMPROVING})"
            )
        not_improving = _integer(
            block["MaxNumberOfTrainingJobsNotImproving"],
            f"{here}.MaxNumberOfTrainingJobsNotImproving",
            MIN_JOBS_NOT_IMPROVING,
            None,
        )
    convergence = False
    if value.get("ConvergenceDetected") is not None:
        here = f"{where}.ConvergenceDetected"
        block = _mapping(value["ConvergenceDetected"], here)
        _keys(block, here, ("CompleteOnConvergence",))
        flag = block.get("CompleteOnConvergence", "Enabled")
        if flag not in ("Enabled", "Disabled"):
            raise ConfigError(f"{here}.CompleteOnConvergence must be Enabled or Disabled, got {_show(flag)}")
        convergence = flag == "Enabled"
    return CompletionCriteria(target, not_improving, convergence)


def _warm_start(value: Any, name: str) -> WarmStart | None:
    if value is None:
        return None
    where = "WarmStartConfig"
    value = _mapping(value, where)
    _keys(value, where, ("ParentHyperParameterTuningJobs", "WarmStartType"))
    if "WarmStartType" not in value:
        raise ConfigError(f"{where}.WarmStartType is required: IdenticalDataAndAlgorithm or TransferLearning")
    kind = _enum(value["WarmStartType"], WarmStartType, f"{where}.WarmStartType")
    parents_raw = value.get("ParentHyperParameterTuningJobs")
    if not isinstance(parents_raw, list) or not 1 <= len(parents_raw) <= MAX_PARENT_JOBS:
        raise ConfigError(
            f"{where}.ParentHyperParameterTuningJobs must list 1 to {MAX_PARENT_JOBS} parent jobs, "
            f"got {len(parents_raw) if isinstance(parents_raw, list) else _show(parents_raw)}"
        )
    parents = []
    for i, item in enumerate(parents_raw):
        here = f"{where}.ParentHyperParameterTuningJobs[{i}]"
        if isinstance(item, str):
            item = {"HyperParameterTuningJobName": item}
        item = _mapping(item, here)
        _keys(item, here, ("HyperParameterTuningJobName",))
        parent = item.get("HyperParameterTuningJobName")
        if not isinstance(parent, str) or not _JOB_NAME.match(parent):
            raise ConfigError(f"{here}.HyperParameterTuningJobName must be a job name, got {_show(parent)}")
        if parent == name:
            raise ConfigError(f"{here}: a job cannot be its own parent ({_show(parent)})")
        if parent in parents:
            raise ConfigError(f"{here}: parent {_show(parent)} is listed twice")
        parents.append(parent)
    return WarmStart(tuple(parents), kind)


def _ranges(value: Any, where: str) -> tuple[ParameterRange, ...]:
    value = _mapping(value, where)
    kinds = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
    _keys(value, where, kinds, SAGEMAKER_ONLY["ParameterRanges"])
    names = HyperParameters.names()
    fields = HyperParameters.__dataclass_fields__
    out: list[ParameterRange] = []
    seen: dict[str, str] = {}
    for kind in kinds:
        items = value.get(kind) or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}.{kind} must be a list of ranges, got {type(items).__name__}")
        for i, item in enumerate(items):
            label = f"{kind}[{i}]"
            item = _mapping(item, f"{where}.{label}")
            allowed = (
                ("Name", "Values")
                if kind.startswith("Categorical")
                else ("Name", "MinValue", "MaxValue", "ScalingType")
            )
            _keys(item, f"{where}.{label}", allowed)
            hp = item.get("Name")
            if hp not in names:
                raise ConfigError(
                    f"{where}.{label}: unknown hyperparameter Name {_show(hp)}{_closest(hp, names)}"
                )
            label = f"{label} ({hp})"
            if hp in seen:
                raise ConfigError(
                    f"{where}.{label}: {hp} is already tuned by {seen[hp]}; give each hyperparameter one range"
                )
            seen[hp] = label
            meta = fields[hp].metadata
            if kind.startswith("Categorical"):
                out.append(_categorical(item, hp, f"{where}.{label}"))
                continue
            is_int = meta["kind"] is int
            if kind.startswith("Integer") and not is_int:
                raise ConfigError(f"{where}.{label}: {hp} is continuous; put it in ContinuousParameterRanges")
            if kind.startswith("Continuous") and is_int:
                raise ConfigError(f"{where}.{label}: {hp} takes integers; put it in IntegerParameterRanges")
            for key in ("MinValue", "MaxValue"):
                if key not in item:
                    raise ConfigError(f"{where}.{label}: {key} is required")
            low: int | float
            high: int | float
            if is_int:
                low = _integer(item["MinValue"], f"{where}.{label}.MinValue", None, None)
                high = _integer(item["MaxValue"], f"{where}.{label}.MaxValue", None, None)
            else:
                low = _number(item["MinValue"], f"{where}.{label}.MinValue")
                high = _number(item["MaxValue"], f"{where}.{label}.MaxValue")
            lo_ok, hi_ok = meta["low"], meta["high"]
            for key, v in (("MinValue", low), ("MaxValue", high)):
                if v < lo_ok or (hi_ok is not None and v > hi_ok):
                    valid = f"[{lo_ok:g}, {hi_ok:g}]" if hi_ok is not None else f">= {lo_ok:g}"
                    raise ConfigError(
                        f"{where}.{label}: {key} {_show(v)} is outside the valid values of {hp} ({valid})"
                    )
            if low > high:
                raise ConfigError(
                    f"{where}.{label}: MinValue ({_show(low)}) must not exceed MaxValue ({_show(high)})"
                )
            scaling = _enum(item.get("ScalingType", "Auto"), ScalingType, f"{where}.{label}.ScalingType")
            if scaling is ScalingType.LOGARITHMIC and low <= 0:
                raise ConfigError(
                    f"{where}.{label}: ScalingType Logarithmic needs MinValue > 0, got MinValue {_show(low)}; "
                    "raise MinValue or use Linear"
                )
            if scaling is ScalingType.REVERSE_LOGARITHMIC:
                if is_int:
                    raise ConfigError(
                        f"{where}.{label}: ScalingType ReverseLogarithmic is only for continuous ranges "
                        "(within 0 <= x < 1); use Linear or Logarithmic"
                    )
                if not (low >= 0 and high < 1):
                    raise ConfigError(
                        f"{where}.{label}: ScalingType ReverseLogarithmic needs 0 <= MinValue and MaxValue < 1, "
                        f"got [{_show(low)}, {_show(high)}]"
                    )
            rng: ParameterRange = (IntegerRange if is_int else ContinuousRange)(hp, low, high, scaling)  # type: ignore[arg-type]
            out.append(rng)
    if not out:
        raise ConfigError(
            f"{where} has no ranges; list at least one, or leave ParameterRanges out to tune the "
            "recommended ranges"
        )
    if len(out) > MAX_TUNABLE_PARAMETERS:
        raise ConfigError(
            f"{where}: at most {MAX_TUNABLE_PARAMETERS} hyperparameters can be tuned, got {len(out)}"
        )
    return tuple(out)


def _categorical(item: Mapping[str, Any], hp: str, where: str) -> CategoricalRange:
    values = item.get("Values")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.Values must be a non-empty list, got {_show(values)}")
    if len(values) > MAX_CATEGORICAL_VALUES:
        raise ConfigError(
            f"{where}.Values: at most {MAX_CATEGORICAL_VALUES} values per categorical range, got {len(values)}"
        )
    texts = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ConfigError(f"{where}.Values: {_show(v)} is not a value of {hp}")
        text = str(v).strip()
        try:
            single_value(hp, text)
        except ConfigError as exc:
            raise ConfigError(f"{where}.Values: {_show(text)} is invalid: {exc}") from None
        if text in texts:
            raise ConfigError(f"{where}.Values: {_show(text)} is listed twice")
        texts.append(text)
    return CategoricalRange(hp, tuple(texts))


def _check_static(static: dict[str, Any], where: str) -> None:
    names = HyperParameters.names()
    for key, value in static.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown hyperparameter {_show(key)}{_closest(key, names)}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}.{key} must be a number or its string form, got {_show(value)}")
    for key, value in static.items():
        try:
            single_value(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _check_ranges_against_job(
    ranges: tuple[ParameterRange, ...], static: Mapping[str, Any], strategy: Strategy, where: str
) -> None:
    from ipinsights.tune._space import negative_rates_feasible

    tuned = {r.name for r in ranges}
    both = [n for n in HyperParameters.names() if n in tuned and n in static]
    if both:
        raise ConfigError(
            f"{both[0]} is both in TrainingJobDefinition.StaticHyperParameters and in {where}.ParameterRanges; "
            "remove it from one"
        )
    for required in ("num_entity_vectors", "vector_dim"):
        if required not in tuned and required not in static:
            raise ConfigError(
                f"{required} is required: give it in TrainingJobDefinition.StaticHyperParameters or tune it in "
                f"{where}.ParameterRanges"
            )
    if strategy is Strategy.GRID:
        bad = [r for r in ranges if not isinstance(r, CategoricalRange)]
        if bad:
            kind = (
                "IntegerParameterRanges" if isinstance(bad[0], IntegerRange) else "ContinuousParameterRanges"
            )
            raise ConfigError(
                f"{where}.{kind} ({bad[0].name}): Strategy Grid takes CategoricalParameterRanges only; "
                "list the values to try, or use Strategy Bayesian or Random"
            )
    if strategy is Strategy.HYPERBAND and "epochs" in tuned:
        raise ConfigError(
            f"{where}: epochs cannot be tuned with Strategy Hyperband (epochs are its resource); remove the "
            "epochs range and set HyperbandStrategyConfig.MaxResource"
        )
    message = negative_rates_feasible(ranges, static)
    if message:
        raise ConfigError(f"{where}: {message}")


def _channels(value: Any, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """``{train: path, validation: path}`` from that mapping or the reference's list of channels.

    Returns the paths as written (``s3://`` ones included: the caller replaces or refuses them)
    and, per channel, the field path to name in an error.
    """
    out: dict[str, str] = {}
    labels: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, given in value.items():
            if key not in _CHANNELS:
                raise ConfigError(
                    f"{where}: unknown channel {_show(key)}{_closest(key, _CHANNELS)}; channels: train, validation"
                )
            if not isinstance(given, str) or not given:
                raise ConfigError(f"{where}.{key} must be a path, got {_show(given)}")
            out[key], labels[key] = given, f"{where}.{key}"
        return out, labels
    if not isinstance(value, list):
        raise ConfigError(f"{where} must map channel names to paths, e.g. {{train: data/train.csv}}")
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        item = _mapping(item, here)
        _keys(item, here, ("ChannelName", "DataSource"), SAGEMAKER_ONLY["channel"], unused_as=f"{where}[*]")
        channel = item.get("ChannelName")
        if channel not in _CHANNELS:
            raise ConfigError(f"{here}.ChannelName must be train or validation, got {_show(channel)}")
        source = _mapping(item.get("DataSource") or {}, f"{here}.DataSource")
        _keys(
            source,
            f"{here}.DataSource",
            ("FileSystemDataSource", "S3DataSource"),
            SAGEMAKER_ONLY["DataSource"],
            unused_as=f"{where}[*].DataSource",
        )
        path: Any = None
        if "FileSystemDataSource" in source:
            label = f"{here}.DataSource.FileSystemDataSource"
            fs = _mapping(source["FileSystemDataSource"], label)
            _keys(
                fs,
                label,
                ("DirectoryPath",),
                SAGEMAKER_ONLY["FileSystemDataSource"],
                unused_as=f"{where}[*].DataSource.FileSystemDataSource",
            )
            path, label = fs.get("DirectoryPath"), f"{label}.DirectoryPath ({channel})"
        elif "S3DataSource" in source:
            label = f"{here}.DataSource.S3DataSource"
            s3 = _mapping(source["S3DataSource"], label)
            _keys(
                s3,
                label,
                ("S3Uri",),
                SAGEMAKER_ONLY["S3DataSource"],
                unused_as=f"{where}[*].DataSource.S3DataSource",
            )
            path, label = s3.get("S3Uri"), f"{label}.S3Uri ({channel})"
            if isinstance(path, str) and path.startswith("file://"):
                path = path[len("file://") :]
        else:
            label = f"{here}.DataSource ({channel})"
        if not isinstance(path, str) or not path:
            raise ConfigError(
                f"{here}.DataSource ({channel}) has no path ipinsights can read; pass --{channel} PATH, or "
                "give S3DataSource.S3Uri or FileSystemDataSource.DirectoryPath as a local file or folder"
            )
        out[channel], labels[channel] = path, label
    return out, labels


# -- small parsers ----------------------------------------------------------------------------


def single_value(name: str, value: Any) -> int | float:
    """One hyperparameter's value, converted and checked against its own range only.

    The R + S rule involves two values and is checked where both are known.

    Raises:
        ConfigError: The hyperparameter's own message (``vector_dim must be an integer in ...``).
    """
    pair = ("random_negative_sampling_rate", "shuffled_negative_sampling_rate")
    probe: dict[str, Any] = {"num_entity_vectors": 1, "vector_dim": 4, name: value}
    if name in pair:
        other = pair[1 - pair.index(name)]
        for filler in (0, 1):
            probe[other] = filler
            try:
                return getattr(HyperParameters.from_mapping(probe), name)
            except ConfigError as exc:
                if "random_negative_sampling_rate + shuffled_negative_sampling_rate" not in str(exc):
                    raise
        return getattr(HyperParameters.from_mapping({**probe, other: 0}), name)  # raises the R + S message
    return getattr(HyperParameters.from_mapping(probe), name)


def _closest(name: Any, valid: Any) -> str:
    if not isinstance(name, str) or len(name) > 100:
        return ""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _keys(
    value: Mapping[str, Any],
    where: str,
    allowed: tuple[str, ...],
    service: tuple[str, ...] = (),
    *,
    unused_as: str | None = None,
) -> None:
    """Check a mapping's keys: ``allowed`` are read here, ``service`` are SageMaker-only members.

    A SageMaker-only member is noted as not used locally (under ``unused_as``, default
    ``where``). An unknown key is an error that suggests only a member of the same shape; inside
    :func:`parse_job_config` every unknown key of the file is collected into one message.
    """
    findings = _FINDINGS.get()
    for key in value:
        if key in allowed:
            continue
        if key in service:
            if findings is not None:
                place = unused_as or where
                findings.unused.append(key if place == "the job file" else f"{place}.{key}")
            continue
        members = (*allowed, *service)
        hint = _closest(key, members) or f"; valid keys: {', '.join(members)}"
        message = f"{where}: unknown key {_show(key)}{hint}"
        if findings is None:
            raise ConfigError(message)
        findings.unknown.append(message)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {type(value).__name__}")
    return value


def _enum(value: Any, kind: type[enum.StrEnum], where: str) -> Any:
    valid = [str(m) for m in kind]  # type: ignore[attr-defined]
    if value not in valid:
        raise ConfigError(
            f"{where} must be one of {' | '.join(valid)}, got {_show(value)}{_closest(value, valid)}"
        )
    return kind(value)


def _integer(value: Any, where: str, low: int | None, high: int | None) -> int:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not math.isfinite(number)
        or int(number) != number
    ):
        raise ConfigError(f"{where} must be an integer, got {_show(value)}")
    number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        rule = (
            f"in [{low}, {high}]"
            if high is not None and low is not None
            else f">= {low}"
            if low is not None
            else f"<= {high}"
        )
        raise ConfigError(f"{where} must be an integer {rule}, got {number}")
    return number


def _number(value: Any, where: str) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ConfigError(f"{where} must be a number, got {_show(value)}")
    return float(number)
