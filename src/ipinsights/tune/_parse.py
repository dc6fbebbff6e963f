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

Every rule is checked before any trial starts. The rules of a single part live in its type
(:mod:`ipinsights.tune._types`, e.g. a range's bounds), which raises with the rule and the value;
this parser builds the types, adds the member's path (such as
``HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0] (vector_dim)``) to
their messages, and checks what needs the whole job (R + S over ranges and static values, Grid's
combinations, the objective's channel). Unknown keys are rejected with the closest member of the same shape,
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

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ipinsights.config import HyperParameters, platform_keys
from ipinsights.errors import ConfigError
from ipinsights.tune._channels import local_channels, parse_input_format
from ipinsights.tune._fields import (
    FINDINGS,
    Findings,
    check_keys,
    enum_value,
    integer,
    mapping,
    note_unused,
    number,
)
from ipinsights.tune._space import default_ranges as recommended_ranges
from ipinsights.tune._space import grid, negative_rates_feasible
from ipinsights.tune._types import (
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
    show,
)

__all__ = ["parse_job_config"]



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

    Example:
        The range's own rule (from :class:`~ipinsights.tune._types.IntegerRange`), with the
        member's path added here:

        >>> parse_job_config({
        ...     "HyperParameterTuningJobConfig": {
        ...         "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        ...         "ParameterRanges": {"IntegerParameterRanges": [
        ...             {"Name": "vector_dim", "MinValue": "64", "MaxValue": "8"}]}},
        ...     "HyperParameterTuningJobName": "demo",
        ...     "TrainingJobDefinition": {"InputDataConfig": {"train": "t.csv", "validation": "v.csv"},
        ...         "StaticHyperParameters": {"num_entity_vectors": "100"}}})
        Traceback (most recent call last):
        ...
        ipinsights.errors.ConfigError: HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0] (vector_dim): MinValue (64) must not exceed MaxValue (8)
    """
    findings = Findings()
    token = FINDINGS.set(findings)
    try:
        config = _parse(document, seed_if_missing, dict(channel_paths or {}), base_dir, dict(input_format or {}))
    except ConfigError as exc:
        if findings.unknown and str(exc) not in findings.unknown:
            raise ConfigError(_problems([*findings.unknown, str(exc)])) from None
        raise
    finally:
        FINDINGS.reset(token)
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
    check_keys(
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
    job = mapping(document["HyperParameterTuningJobConfig"], where)
    check_keys(
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
    strategy = enum_value(job.get("Strategy", "Bayesian"), Strategy, f"{where}.Strategy")
    early_stopping = _early_stopping(job.get("TrainingJobEarlyStoppingType", "Off"), where)
    objective = _objective(
        job.get("HyperParameterTuningJobObjective"), f"{where}.HyperParameterTuningJobObjective"
    )

    definition, def_where = _definition(document)
    check_keys(
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
    kept: dict[str, Any] = dict(mapping(document.get(SAGEMAKER_FIELDS_KEY) or {}, SAGEMAKER_FIELDS_KEY))
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
        mapping(definition.get("StaticHyperParameters") or {}, f"{def_where}.StaticHyperParameters")
    )
    added = platform_keys(static)
    if added:
        kept_definition["StaticHyperParameters"] = {
            **kept_definition.get("StaticHyperParameters", {}),
            **{k: static.pop(k) for k in added},
        }
        note_unused(f"{def_where}.StaticHyperParameters", added)
    _check_static(static, f"{def_where}.StaticHyperParameters")
    raw_channels = definition.get("InputDataConfig") or {}
    if isinstance(raw_channels, list):
        kept_definition["InputDataConfig"] = raw_channels
    channels = local_channels(raw_channels, f"{def_where}.InputDataConfig", channel_paths, base_dir)
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
    retry = mapping(definition.get("RetryStrategy") or {}, f"{def_where}.RetryStrategy")
    check_keys(retry, f"{def_where}.RetryStrategy", ("MaximumRetryAttempts",))
    max_retry = integer(
        retry.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
        f"{def_where}.RetryStrategy.MaximumRetryAttempts",
        0,
        MAX_RETRY_ATTEMPTS,
    )
    seed = integer(definition.get("Seed", 0), f"{def_where}.Seed", 0, 2**32 - 1)
    device = str(definition.get("Device", "auto"))
    if device not in ("auto", "cpu") and not re.match(r"^cuda(:\d+)?$", device):
        raise ConfigError(f"{def_where}.Device must be auto, cpu or cuda[:N], got {show(device)}")
    bad = number(definition.get("MaxBadFraction", 0.01), f"{def_where}.MaxBadFraction")
    if not 0.0 <= bad <= 1.0:
        raise ConfigError(f"{def_where}.MaxBadFraction must be in [0, 1], got {show(bad)}")
    input_format = parse_input_format(definition, def_where, format_override)

    hyperband = _hyperband(job.get("StrategyConfig"), strategy, early_stopping, static, where)
    ranges_where, ranges_value = f"{where}.ParameterRanges", job.get("ParameterRanges")
    if "HyperParameterRanges" in definition:
        if ranges_value is not None:
            raise ConfigError(
                f"{def_where}.HyperParameterRanges and {where}.ParameterRanges are both given; keep one"
            )
        ranges_where, ranges_value = f"{def_where}.HyperParameterRanges", definition["HyperParameterRanges"]
    if ranges_value is not None and _only_auto_parameters(ranges_value):
        check_keys(ranges_value, ranges_where, (), SAGEMAKER_ONLY["ParameterRanges"])
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
        random_seed = integer(seed_value, f"{where}.RandomSeed", 0, 2**32 - 1)

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


def _definition(document: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """``TrainingJobDefinition``, or the one definition of ``TrainingJobDefinitions``."""
    if "TrainingJobDefinitions" not in document:
        return mapping(document.get("TrainingJobDefinition") or {}, "TrainingJobDefinition"), (
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
    return mapping(definitions[0], f"{where}[0]"), f"{where}[0]"


def _only_auto_parameters(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and "AutoParameters" in value
        and not any(
            value.get(k)
            for k in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
        )
    )


# -- the parts --------------------------------------------------------------------------------


def _objective(value: Any, where: str) -> Objective:
    if value is None:
        return Objective(ObjectiveType.MAXIMIZE, DEFAULT_OBJECTIVE)
    value = mapping(value, where)
    check_keys(value, where, ("Type", "MetricName"))
    metric = value.get("MetricName", DEFAULT_OBJECTIVE)
    kind = METRIC_DIRECTIONS.get(metric, ObjectiveType.MAXIMIZE)
    if "Type" in value:
        kind = enum_value(value["Type"], ObjectiveType, f"{where}.Type")
    try:
        return Objective(kind, metric)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def _early_stopping(value: Any, where: str) -> EarlyStoppingType:
    if value is False:  # YAML 1.1 reads a bare Off as false
        value = "Off"
    return enum_value(value, EarlyStoppingType, f"{where}.TrainingJobEarlyStoppingType")


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
    config = mapping(value or {}, here)
    check_keys(config, here, ("HyperbandStrategyConfig",))
    band = mapping(config.get("HyperbandStrategyConfig") or {}, f"{here}.HyperbandStrategyConfig")
    check_keys(band, f"{here}.HyperbandStrategyConfig", ("MinResource", "MaxResource"))
    default_max = int(float(static.get("epochs", HyperParameters.__dataclass_fields__["epochs"].default)))
    low = integer(band.get("MinResource", 1), f"{here}.HyperbandStrategyConfig.MinResource", 1, None)
    high = integer(
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
    value = mapping(value, where)
    check_keys(value, where, ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"))
    if "MaxParallelTrainingJobs" not in value:
        raise ConfigError(
            f"{where}.MaxParallelTrainingJobs is required (how many trials run at once), e.g. 2"
        )
    parallel = integer(value["MaxParallelTrainingJobs"], f"{where}.MaxParallelTrainingJobs", None, None)
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
            given = integer(value["MaxNumberOfTrainingJobs"], f"{where}.MaxNumberOfTrainingJobs", 1, cap)
            if given < count:
                raise ConfigError(
                    f"{where}.MaxNumberOfTrainingJobs is {given} but Strategy Grid runs every one of the {count} "
                    "combinations; leave MaxNumberOfTrainingJobs out or remove values"
                )
        jobs = count
    else:
        jobs = integer(value.get("MaxNumberOfTrainingJobs", cap), f"{where}.MaxNumberOfTrainingJobs", 1, cap)
    runtime = None
    if value.get("MaxRuntimeInSeconds") is not None:
        runtime = integer(value["MaxRuntimeInSeconds"], f"{where}.MaxRuntimeInSeconds", None, None)
    try:
        return ResourceLimits(jobs, parallel, runtime)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def _completion(value: Any, where: str) -> CompletionCriteria:
    if value is None:
        return CompletionCriteria()
    value = mapping(value, where)
    check_keys(value, where, ("TargetObjectiveMetricValue", "BestObjectiveNotImproving", "ConvergenceDetected"))
    target = None
    if value.get("TargetObjectiveMetricValue") is not None:
        target = number(value["TargetObjectiveMetricValue"], f"{where}.TargetObjectiveMetricValue")
    not_improving = None
    if value.get("BestObjectiveNotImproving") is not None:
        here = f"{where}.BestObjectiveNotImproving"
        block = mapping(value["BestObjectiveNotImproving"], here)
        check_keys(block, here, ("MaxNumberOfTrainingJobsNotImproving",))
        if "MaxNumberOfTrainingJobsNotImproving" not in block:
            raise ConfigError(
                f"{here}.MaxNumberOfTrainingJobsNotImproving is required (an integer >= {MIN_JOBS_NOT_IMPROVING})"
            )
        not_improving = integer(
            block["MaxNumberOfTrainingJobsNotImproving"], f"{here}.MaxNumberOfTrainingJobsNotImproving", None, None
        )
    convergence = False
    if value.get("ConvergenceDetected") is not None:
        here = f"{where}.ConvergenceDetected"
        block = mapping(value["ConvergenceDetected"], here)
        check_keys(block, here, ("CompleteOnConvergence",))
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
    value = mapping(value, where)
    check_keys(value, where, ("ParentHyperParameterTuningJobs", "WarmStartType"))
    if "WarmStartType" not in value:
        raise ConfigError(f"{where}.WarmStartType is required: IdenticalDataAndAlgorithm or TransferLearning")
    kind = enum_value(value["WarmStartType"], WarmStartType, f"{where}.WarmStartType")
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
        item = mapping(item, here)
        check_keys(item, here, ("HyperParameterTuningJobName",))
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
    value = mapping(value, where)
    kinds = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
    check_keys(value, where, kinds, SAGEMAKER_ONLY["ParameterRanges"])
    names = HyperParameters.names()
    out: list[ParameterRange] = []
    seen: dict[str, str] = {}
    for kind in kinds:
        items = value.get(kind) or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}.{kind} must be a list of ranges, got {type(items).__name__}")
        for i, item in enumerate(items):
            label = f"{kind}[{i}]"
            item = mapping(item, f"{where}.{label}")
            allowed = (
                ("Name", "Values")
                if kind.startswith("Categorical")
                else ("Name", "MinValue", "MaxValue", "ScalingType")
            )
            check_keys(item, f"{where}.{label}", allowed)
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
                low = integer(item["MinValue"], f"{where}.{label}.MinValue", None, None)
                high = integer(item["MaxValue"], f"{where}.{label}.MaxValue", None, None)
            else:
                low = number(item["MinValue"], f"{where}.{label}.MinValue")
                high = number(item["MaxValue"], f"{where}.{label}.MaxValue")
            scaling = enum_value(item.get("ScalingType", "Auto"), ScalingType, f"{where}.{label}.ScalingType")
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
