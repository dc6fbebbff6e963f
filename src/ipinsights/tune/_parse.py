"""Parsing a tuning job request: SageMaker's ``CreateHyperParameterTuningJob`` document, validated.

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
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipinsights.config import HyperParameters, platform_keys
from ipinsights.errors import ConfigError
from ipinsights.tune._space import default_ranges as recommended_ranges
from ipinsights.tune._space import grid, negative_rates_feasible
from ipinsights.tune._types import (
    CHANNELS,
    DEFAULT_OBJECTIVE,
    DEFAULT_RETRY_ATTEMPTS,
    JOB_NAME,
    MAX_PARENT_JOBS,
    MAX_RETRY_ATTEMPTS,
    MAX_TRAINING_JOBS,
    MAX_TRAINING_JOBS_RANDOM,
    MAX_TUNABLE_PARAMETERS,
    METRIC_DIRECTIONS,
    MIN_JOBS_NOT_IMPROVING,
    SAGEMAKER_FIELDS_KEY,
    SAGEMAKER_ONLY,
    CategoricalRange,
    CompletionCriteria,
    ContinuousRange,
    EarlyStoppingType,
    InputFormat,
    IntegerRange,
    Objective,
    ObjectiveType,
    ParameterRange,
    ResourceLimits,
    ScalingType,
    Strategy,
    TuningJobConfig,
    WarmStart,
    WarmStartType,
    closest,
    integer_rule,
    show,
)

__all__ = ["parse_job_config"]



@dataclass
class _Findings:
    """What one parse noticed besides errors: unknown keys (reported together) and unused members."""

    unknown: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


_FINDINGS: contextvars.ContextVar[_Findings | None] = contextvars.ContextVar("_FINDINGS", default=None)


def parse_job_config(
    document: Mapping[str, Any],
    *,
    seed_if_missing: int | None = None,
    channel_paths: Mapping[str, str] | None = None,
    base_dir: str | Path | None = None,
    input_format: Mapping[str, str] | None = None,
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
        input_format: ``InputFormat``, ``EntityField``, ``IpField`` members that replace the
            document's (``--format``, ``--entity-field``, ``--ip-field``).

    Raises:
        ConfigError: Naming the field, the rule, the value and the fix; every unknown key of the
            document in one message.
    """
    findings = _Findings()
    token = _FINDINGS.set(findings)
    try:
        config = _parse(document, seed_if_missing, dict(channel_paths or {}), base_dir, dict(input_format or {}))
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
    format_override: dict[str, str],
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
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise ConfigError(
            "HyperParameterTuningJobName must be 1 to 32 letters, digits or hyphens, starting with a letter "
            f"or digit and not ending with a hyphen, got {show(name)}"
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
            "InputFormat",
            "EntityField",
            "IpField",
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
                f"{labels[channel]}: {show(value)} is in S3, which ipinsights does not read; pass "
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
        raise ConfigError(f"{def_where}.Device must be auto, cpu or cuda[:N], got {show(device)}")
    bad = _number(definition.get("MaxBadFraction", 0.01), f"{def_where}.MaxBadFraction")
    if not 0.0 <= bad <= 1.0:
        raise ConfigError(f"{def_where}.MaxBadFraction must be in [0, 1], got {show(bad)}")
    input_format = _input_format(definition, def_where, format_override)

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
        ranges = tuple(r for r in recommended_ranges() if r.name not in static)
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
        input_format=input_format,
        default_ranges=default_ranges,
        random_seed_given=seed_value is not None,
        sagemaker_fields=kept,
    )


def _input_format(definition: Mapping[str, Any], where: str, override: dict[str, str]) -> InputFormat:
    """``InputFormat`` with its field names, from the definition; ``override``'s members replace its."""
    members = {k: definition[k] for k in ("InputFormat", "EntityField", "IpField") if k in definition}
    if "InputFormat" in override:  # another format: the file's field names were for its own format
        members = {}
    members.update(override)
    for key, value in members.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string, got {show(value)}")
    try:
        return InputFormat(members.get("InputFormat", "csv"), members.get("EntityField"), members.get("IpField"))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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
        count = len(definitions) if isinstance(definitions, list) else show(definitions)
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
    kind = METRIC_DIRECTIONS.get(metric, ObjectiveType.MAXIMIZE)
    if "Type" in value:
        kind = _enum(value["Type"], ObjectiveType, f"{where}.Type")
    try:
        return Objective(kind, metric)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


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
    parallel = _integer(value["MaxParallelTrainingJobs"], f"{where}.MaxParallelTrainingJobs", None, None)
    cap = MAX_TRAINING_JOBS_RANDOM if strategy is Strategy.RANDOM else MAX_TRAINING_JOBS
    if strategy is Strategy.GRID:
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
        runtime = _integer(value["MaxRuntimeInSeconds"], f"{where}.MaxRuntimeInSeconds", None, None)
    try:
        return ResourceLimits(jobs, parallel, runtime)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


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
            block["MaxNumberOfTrainingJobsNotImproving"], f"{here}.MaxNumberOfTrainingJobsNotImproving", None, None
        )
    convergence = False
    if value.get("ConvergenceDetected") is not None:
        here = f"{where}.ConvergenceDetected"
        block = _mapping(value["ConvergenceDetected"], here)
        _keys(block, here, ("CompleteOnConvergence",))
        flag = block.get("CompleteOnConvergence", "Enabled")
        if flag not in ("Enabled", "Disabled"):
            raise ConfigError(f"{here}.CompleteOnConvergence must be Enabled or Disabled, got {show(flag)}")
        convergence = flag == "Enabled"
    try:
        return CompletionCriteria(target, not_improving, convergence)
    except ConfigError as exc:
        raise ConfigError(f"{where}.BestObjectiveNotImproving.{exc}") from None


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
            f"got {len(parents_raw) if isinstance(parents_raw, list) else show(parents_raw)}"
        )
    parents = []
    for i, item in enumerate(parents_raw):
        here = f"{where}.ParentHyperParameterTuningJobs[{i}]"
        if isinstance(item, str):
            item = {"HyperParameterTuningJobName": item}
        item = _mapping(item, here)
        _keys(item, here, ("HyperParameterTuningJobName",))
        parent = item.get("HyperParameterTuningJobName")
        if not isinstance(parent, str) or not JOB_NAME.match(parent):
            raise ConfigError(f"{here}.HyperParameterTuningJobName must be a job name, got {show(parent)}")
        if parent == name:
            raise ConfigError(f"{here}: a job cannot be its own parent ({show(parent)})")
        if parent in parents:
            raise ConfigError(f"{here}: parent {show(parent)} is listed twice")
        parents.append(parent)
    return WarmStart(tuple(parents), kind)


def _ranges(value: Any, where: str) -> tuple[ParameterRange, ...]:
    value = _mapping(value, where)
    kinds = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
    _keys(value, where, kinds, SAGEMAKER_ONLY["ParameterRanges"])
    names = HyperParameters.names()
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
                    f"{where}.{label}: unknown hyperparameter Name {show(hp)}{closest(hp, names)}"
                )
            label = f"{label} ({hp})"
            if hp in seen:
                raise ConfigError(
                    f"{where}.{label}: {hp} is already tuned by {seen[hp]}; give each hyperparameter one range"
                )
            seen[hp] = label
            if kind.startswith("Categorical"):
                out.append(_categorical(item, hp, f"{where}.{label}"))
                continue
            is_int = kind.startswith("Integer")
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
            scaling = _enum(item.get("ScalingType", "Auto"), ScalingType, f"{where}.{label}.ScalingType")
            try:
                if is_int:
                    out.append(IntegerRange(hp, int(low), int(high), scaling))
                else:
                    out.append(ContinuousRange(hp, float(low), float(high), scaling))
            except ConfigError as exc:
                raise ConfigError(f"{where}.{label}: {exc}") from None
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
        raise ConfigError(f"{where}.Values must be a non-empty list, got {show(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ConfigError(f"{where}.Values: {show(v)} is not a value of {hp}")
    try:
        return CategoricalRange(hp, tuple(str(v).strip() for v in values))
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None  # "Values: ..." names the member


def _check_static(static: dict[str, Any], where: str) -> None:
    names = HyperParameters.names()
    for key, value in static.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown hyperparameter {show(key)}{closest(key, names)}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}.{key} must be a number or its string form, got {show(value)}")
    for key, value in static.items():
        try:
            HyperParameters.constraint(key).parse(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _check_ranges_against_job(
    ranges: tuple[ParameterRange, ...], static: Mapping[str, Any], strategy: Strategy, where: str
) -> None:
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
            if key not in CHANNELS:
                raise ConfigError(
                    f"{where}: unknown channel {show(key)}{closest(key, CHANNELS)}; channels: train, validation"
                )
            if not isinstance(given, str) or not given:
                raise ConfigError(f"{where}.{key} must be a path, got {show(given)}")
            out[key], labels[key] = given, f"{where}.{key}"
        return out, labels
    if not isinstance(value, list):
        raise ConfigError(f"{where} must map channel names to paths, e.g. {{train: data/train.csv}}")
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        item = _mapping(item, here)
        _keys(item, here, ("ChannelName", "DataSource"), SAGEMAKER_ONLY["channel"], unused_as=f"{where}[*]")
        channel = item.get("ChannelName")
        if channel not in CHANNELS:
            raise ConfigError(f"{here}.ChannelName must be train or validation, got {show(channel)}")
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


# -- small parsers ----------------------------------------------------------------------------


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
        hint = closest(key, members) or f"; valid keys: {', '.join(members)}"
        message = f"{where}: unknown key {show(key)}{hint}"
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
            f"{where} must be one of {' | '.join(valid)}, got {show(value)}{closest(value, valid)}"
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
        raise ConfigError(f"{where} must be an integer, got {show(value)}")
    number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"{where} must be an integer {integer_rule(low, high)}, got {number}")
    return number


def _number(value: Any, where: str) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ConfigError(f"{where} must be a number, got {show(value)}")
    return float(number)
