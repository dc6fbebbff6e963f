"""The tuning job file: every validation rule, the defaults, the Auto scaling rule, R = S = 0."""

import copy
import json
import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ipinsights import ConfigError
from ipinsights.tune import _parse, _types
from ipinsights.tune._load import load_job_config
from ipinsights.tune._parse import parse_job_config
from ipinsights.tune._space import decode, default_ranges, distributions, encode, grid, resolve_scaling
from ipinsights.tune._types import ScalingType, Strategy

BASE = {
    "HyperParameterTuningJobName": "job-1",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "IntegerParameterRanges": [{"Name": "vector_dim", "MinValue": "8", "MaxValue": "64"}],
            "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "1e-4", "MaxValue": "0.1"}],
        },
        "RandomSeed": 1,
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"num_entity_vectors": "100", "epochs": "3"},
        "InputDataConfig": {"train": "train.csv", "validation": "validation.csv"},
    },
}


def doc(**changes):
    """BASE with changes at dotted paths (``None`` deletes the key)."""
    out = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = out
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return out


CONFIG = "HyperParameterTuningJobConfig"
RANGES = f"{CONFIG}__ParameterRanges"


def rejects(document, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_job_config(document)


def test_a_minimal_job_gets_the_reference_defaults_and_the_hard_attacker_objective():
    config = parse_job_config(doc())
    assert config.strategy is Strategy.BAYESIAN
    # Not the reference's discriminator_auc: it is ~0.99 for nearly every configuration.
    assert (config.objective.metric_name, str(config.objective.type)) == (
        "validation:detection_auc",
        "Maximize",
    )
    assert str(config.early_stopping) == "Off"
    assert config.max_retry_attempts == 2
    assert config.tuned_names == ["vector_dim", "learning_rate"]


def test_the_job_document_round_trips_through_to_dict():
    config = parse_job_config(doc())
    again = parse_job_config(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.to_dict() == config.to_dict()


def test_without_ranges_the_nine_recommended_ranges_are_tuned_except_static_ones():
    config = parse_job_config(doc(**{RANGES: None}))
    assert config.default_ranges
    # num_entity_vectors and epochs are static in BASE, so they are not tuned
    assert sorted(config.tuned_names) == [
        "learning_rate",
        "mini_batch_size",
        "num_ip_encoder_layers",
        "random_negative_sampling_rate",
        "shuffled_negative_sampling_rate",
        "vector_dim",
        "weight_decay",
    ]


def test_the_auto_rule_is_logarithmic_for_ranges_spanning_ten_times_and_starting_above_zero():
    scaling = {r.name: resolve_scaling(r) for r in default_ranges()}
    log, linear = ScalingType.LOGARITHMIC, ScalingType.LINEAR
    assert scaling == {
        "epochs": log,
        "learning_rate": log,
        "mini_batch_size": log,
        "num_entity_vectors": log,
        "num_ip_encoder_layers": log,
        "random_negative_sampling_rate": linear,
        "shuffled_negative_sampling_rate": linear,
        "vector_dim": log,
        "weight_decay": linear,
    }
    assert resolve_scaling(_types.IntegerRange("vector_dim", 8, 80, ScalingType.AUTO)) is log
    assert resolve_scaling(_types.IntegerRange("vector_dim", 8, 79, ScalingType.AUTO)) is linear


def test_scaling_types_become_optuna_distributions():
    ranges = (
        _types.IntegerRange("vector_dim", 8, 256, ScalingType.LINEAR),
        _types.ContinuousRange("learning_rate", 1e-4, 0.1, ScalingType.LOGARITHMIC),
        _types.ContinuousRange("weight_decay", 0.0, 0.9, ScalingType.REVERSE_LOGARITHMIC),
        _types.CategoricalRange("mini_batch_size", ("100", "1000")),
    )
    dists = distributions(ranges)
    assert dists["vector_dim"] == IntDistribution(8, 256)
    assert dists["learning_rate"] == FloatDistribution(1e-4, 0.1, log=True)
    assert dists["1-weight_decay"] == FloatDistribution(1.0 - 0.9, 1.0, log=True)
    assert dists["mini_batch_size"] == CategoricalDistribution(["100", "1000"])
    params = {"vector_dim": 9, "learning_rate": 0.01, "1-weight_decay": 0.25, "mini_batch_size": "1000"}
    values = decode(ranges, params)
    assert values["weight_decay"] == pytest.approx(0.75)
    again = encode(ranges, values)
    assert again["1-weight_decay"] == pytest.approx(0.25)
    assert {k: v for k, v in again.items() if k != "1-weight_decay"} == {
        k: v for k, v in params.items() if k != "1-weight_decay"
    }
    assert encode(ranges, {**values, "vector_dim": 512}) is None


def test_yaml_files_load_with_relative_paths_and_a_bare_off(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "job.yaml").write_text(
        "HyperParameterTuningJobConfig:\n"
        "  Strategy: Random\n"
        "  ResourceLimits: {MaxNumberOfTrainingJobs: 3, MaxParallelTrainingJobs: 1}\n"
        "  TrainingJobEarlyStoppingType: Off\n"
        "  ParameterRanges:\n"
        "    IntegerParameterRanges: [{Name: vector_dim, MinValue: 8, MaxValue: 16}]\n"
        "TrainingJobDefinition:\n"
        "  StaticHyperParameters: {num_entity_vectors: 100}\n"
        "  InputDataConfig: {train: data/train.csv, validation: data/val.csv}\n"
    )
    config = load_job_config(tmp_path / "job.yaml", validation=str(tmp_path / "other.csv"))
    assert config.name == "job"  # the file's stem
    assert str(config.early_stopping) == "Off"
    assert config.channels == {
        "train": str(tmp_path / "data" / "train.csv"),
        "validation": str(tmp_path / "other.csv"),
    }
    assert not config.random_seed_given


def test_the_reference_channel_list_is_accepted():
    channels = [
        {"ChannelName": "train", "DataSource": {"FileSystemDataSource": {"DirectoryPath": "/data/train"}}},
        {"ChannelName": "validation", "DataSource": {"S3DataSource": {"S3Uri": "file:///data/val.csv"}}},
    ]
    config = parse_job_config(doc(TrainingJobDefinition__InputDataConfig=channels))
    assert config.channels == {"train": "/data/train", "validation": "/data/val.csv"}
    s3 = [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/train"}}}]
    rejects(doc(TrainingJobDefinition__InputDataConfig=s3), r"is in S3, which ipinsights does not read; pass --train PATH")


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        (
            {"HyperParameterTuningJobConfig__Stratgy": "Random"},
            r"HyperParameterTuningJobConfig: unknown key 'Stratgy'; did you mean 'Strategy'\?",
        ),
        (
            {"HyperParameterTuningJobConfigs": {}},
            "unknown key 'HyperParameterTuningJobConfigs'; did you mean 'HyperParameterTuningJobConfig'",
        ),
        (
            {"HyperParameterTuningJobConfig__ResourceLimits__MaxParallelJobs": 2},
            "did you mean 'MaxParallelTrainingJobs'",
        ),
        (
            {"HyperParameterTuningJobConfig__Strategy": "Bayes"},
            r"Strategy must be one of Bayesian \| Random \| Hyperband \| Grid, got 'Bayes'; did you mean 'Bayesian'",
        ),
        ({"HyperParameterTuningJobName": "bad_name"}, "HyperParameterTuningJobName must be 1 to 32 letters"),
        ({"HyperParameterTuningJobName": "x" * 33}, "HyperParameterTuningJobName must be 1 to 32"),
        (
            {"TrainingJobDefinition__StaticHyperParameters__vectordim": "8"},
            "unknown hyperparameter 'vectordim'; did you mean 'vector_dim'",
        ),
        (
            {"TrainingJobDefinition__StaticHyperParameters__mini_batch_size": "0"},
            r"mini_batch_size must be an integer in \[1, 500000\], got mini_batch_size=0",
        ),
        (
            {"TrainingJobDefinition__StaticHyperParameters__vector_dim": "8"},
            "vector_dim is both in TrainingJobDefinition.StaticHyperParameters and in",
        ),
        (
            {"TrainingJobDefinition__StaticHyperParameters__num_entity_vectors": None},
            "num_entity_vectors is required",
        ),
        ({"TrainingJobDefinition__InputDataConfig": {"validation": "v.csv"}}, "needs a train channel"),
        (
            {"TrainingJobDefinition__InputDataConfig": {"train": "t.csv", "validaton": "v.csv"}},
            "unknown channel 'validaton'; did you mean 'validation'",
        ),
        (
            {"TrainingJobDefinition__InputDataConfig": {"train": "t.csv"}},
            "the objective validation:detection_auc needs a validation channel",
        ),
        (
            {"TrainingJobDefinition__RetryStrategy__MaximumRetryAttempts": 31},
            r"MaximumRetryAttempts must be an integer in \[0, 30\]",
        ),
        ({"TrainingJobDefinition__Device": "tpu"}, "Device must be auto, cpu or cuda"),
    ],
)
def test_misnamed_and_misplaced_fields_are_rejected_with_the_closest_valid_name(changes, pattern):
    rejects(doc(**changes), pattern)


def test_each_resource_limit_is_checked():
    limits = f"{CONFIG}__ResourceLimits"
    rejects(doc(**{limits: {"MaxNumberOfTrainingJobs": 3}}), "MaxParallelTrainingJobs is required")
    rejects(
        doc(**{f"{limits}__MaxParallelTrainingJobs": 0}),
        r"MaxParallelTrainingJobs must be an integer in \[1, 100\], got 0",
    )
    rejects(doc(**{f"{limits}__MaxParallelTrainingJobs": 101}), r"in \[1, 100\], got 101")
    rejects(
        doc(**{f"{limits}__MaxNumberOfTrainingJobs": 751}),
        r"MaxNumberOfTrainingJobs must be an integer in \[1, 750\], got 751",
    )
    random = parse_job_config(
        doc(**{f"{CONFIG}__Strategy": "Random", f"{limits}__MaxNumberOfTrainingJobs": 10000})
    )
    assert random.resource_limits.max_number_of_training_jobs == 10000
    rejects(
        doc(**{f"{limits}__MaxRuntimeInSeconds": 60}),
        r"MaxRuntimeInSeconds must be an integer in \[120, 15768000\], got 60",
    )
    rejects(
        doc(**{f"{limits}__MaxNumberOfTrainingJobs": "2.5"}),
        "MaxNumberOfTrainingJobs must be an integer, got '2.5'",
    )
    rejects(doc(**{limits: None}), "ResourceLimits is required")


def test_ranges_must_suit_their_hyperparameter():
    ints = f"{RANGES}__IntegerParameterRanges"
    rejects(
        doc(**{ints: [{"Name": "learning_rate", "MinValue": 1, "MaxValue": 2}]}),
        r"IntegerParameterRanges\[0\] \(learning_rate\): learning_rate is continuous; put it in ContinuousParameterRanges",
    )
    rejects(
        doc(
            **{RANGES: {"ContinuousParameterRanges": [{"Name": "vector_dim", "MinValue": 8, "MaxValue": 9}]}}
        ),
        r"ContinuousParameterRanges\[0\] \(vector_dim\): vector_dim takes integers; put it in IntegerParameterRanges",
    )
    rejects(
        doc(**{ints: [{"Name": "vectordim", "MinValue": 8, "MaxValue": 9}]}),
        "unknown hyperparameter Name 'vectordim'; did you mean 'vector_dim'",
    )
    rejects(
        doc(**{ints: [{"Name": "vector_dim", "MinValue": 64, "MaxValue": 8}]}),
        r"\(vector_dim\): MinValue \(64\) must not exceed MaxValue \(8\)",
    )
    rejects(
        doc(**{ints: [{"Name": "vector_dim", "MinValue": 2, "MaxValue": 8}]}),
        r"\(vector_dim\): MinValue 2 is outside the valid values of vector_dim \(\[4, 4096\]\)",
    )
    rejects(
        doc(**{ints: [{"Name": "vector_dim", "MinValue": 8, "MaxValue": 9, "Scaling": "Linear"}]}),
        "unknown key 'Scaling'; did you mean 'ScalingType'",
    )
    rejects(doc(**{ints: [{"Name": "vector_dim", "MinValue": 8}]}), r"\(vector_dim\): MaxValue is required")
    rejects(
        doc(
            **{
                ints: [
                    {"Name": "vector_dim", "MinValue": 8, "MaxValue": 16},
                    {"Name": "vector_dim", "MinValue": 8, "MaxValue": 9},
                ]
            }
        ),
        r"IntegerParameterRanges\[1\] \(vector_dim\): vector_dim is already tuned by IntegerParameterRanges\[0\]",
    )
    rejects(
        doc(**{RANGES: {}}), "ParameterRanges has no ranges; list at least one, or leave ParameterRanges out"
    )


def test_scaling_types_are_validated_as_the_reference_does():
    ints = f"{RANGES}__IntegerParameterRanges"
    conts = f"{RANGES}__ContinuousParameterRanges"
    rejects(
        doc(
            **{conts: [{"Name": "weight_decay", "MinValue": 0, "MaxValue": 1, "ScalingType": "Logarithmic"}]}
        ),
        r"ContinuousParameterRanges\[0\] \(weight_decay\): ScalingType Logarithmic needs MinValue > 0, got MinValue 0.0",
    )
    rejects(
        doc(
            **{
                ints: [
                    {
                        "Name": "random_negative_sampling_rate",
                        "MinValue": 0,
                        "MaxValue": 5,
                        "ScalingType": "Logarithmic",
                    }
                ]
            }
        ),
        "ScalingType Logarithmic needs MinValue > 0",
    )
    rejects(
        doc(
            **{
                ints: [
                    {"Name": "vector_dim", "MinValue": 8, "MaxValue": 16, "ScalingType": "ReverseLogarithmic"}
                ]
            }
        ),
        r"\(vector_dim\): ScalingType ReverseLogarithmic is only for continuous ranges",
    )
    rejects(
        doc(
            **{
                conts: [
                    {
                        "Name": "weight_decay",
                        "MinValue": 0,
                        "MaxValue": 1,
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            }
        ),
        r"ReverseLogarithmic needs 0 <= MinValue and MaxValue < 1, got \[0.0, 1.0\]",
    )
    rejects(
        doc(**{conts: [{"Name": "weight_decay", "MinValue": 0, "MaxValue": 1, "ScalingType": "Log"}]}),
        "ScalingType must be one of Auto | Linear | Logarithmic | ReverseLogarithmic, got 'Log'",
    )
    ok = parse_job_config(
        doc(
            **{
                conts: [
                    {
                        "Name": "weight_decay",
                        "MinValue": 0,
                        "MaxValue": 0.99,
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            }
        )
    )
    assert ok.ranges[-1].scaling is ScalingType.REVERSE_LOGARITHMIC


def test_categorical_ranges_hold_at_most_thirty_valid_values():
    cats = f"{RANGES}__CategoricalParameterRanges"
    rejects(
        doc(**{cats: [{"Name": "mini_batch_size", "Values": [str(i) for i in range(1, 32)]}]}),
        r"CategoricalParameterRanges\[0\] \(mini_batch_size\).Values: at most 30 values per categorical range, got 31",
    )
    rejects(
        doc(**{cats: [{"Name": "mini_batch_size", "Values": ["100", "0"]}]}),
        r"\(mini_batch_size\).Values: '0' is invalid: mini_batch_size must be an integer in \[1, 500000\]",
    )
    rejects(doc(**{cats: [{"Name": "mini_batch_size", "Values": []}]}), "Values must be a non-empty list")
    rejects(doc(**{cats: [{"Name": "mini_batch_size", "Values": ["100", "100"]}]}), "'100' is listed twice")


def test_at_most_thirty_hyperparameters_can_be_tuned(monkeypatch):
    monkeypatch.setattr(_parse, "MAX_TUNABLE_PARAMETERS", 1)
    rejects(doc(), "at most 1 hyperparameters can be tuned, got 2")


def test_grid_takes_only_categorical_ranges_and_runs_every_valid_combination():
    cats = [
        {"Name": "random_negative_sampling_rate", "Values": ["0", "1", "2"]},
        {"Name": "shuffled_negative_sampling_rate", "Values": ["0", "1"]},
    ]
    grid_doc = doc(
        **{
            f"{CONFIG}__Strategy": "Grid",
            RANGES: {"CategoricalParameterRanges": cats},
            f"{CONFIG}__ResourceLimits": {"MaxParallelTrainingJobs": 2},
            "TrainingJobDefinition__StaticHyperParameters__vector_dim": "8",
        }
    )
    config = parse_job_config(grid_doc)
    assert config.resource_limits.max_number_of_training_jobs == 5  # 6 combinations, R = S = 0 left out
    combos, skipped = grid(config.ranges, config.static_hyperparameters, seed=3)
    assert skipped == 1 and len(combos) == 5
    assert {"random_negative_sampling_rate": "0", "shuffled_negative_sampling_rate": "0"} not in combos
    assert combos == grid(config.ranges, config.static_hyperparameters, seed=3)[0]
    rejects(
        doc(**{f"{CONFIG}__Strategy": "Grid"}),
        r"IntegerParameterRanges \(vector_dim\): Strategy Grid takes CategoricalParameterRanges only",
    )
    too_few = copy.deepcopy(grid_doc)
    too_few[CONFIG]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 3
    rejects(too_few, "MaxNumberOfTrainingJobs is 3 but Strategy Grid runs every one of the 5 combinations")
    rejects(
        doc(**{f"{CONFIG}__Strategy": "Grid", RANGES: None}), "Strategy Grid needs CategoricalParameterRanges"
    )


def test_hyperband_needs_early_stopping_off_and_epochs_as_its_resource():
    hb = f"{CONFIG}__Strategy"
    config = parse_job_config(doc(**{hb: "Hyperband"}))
    assert config.hyperband == (1, 3)  # MaxResource defaults to the static epochs
    assert config.epochs == 3
    config = parse_job_config(
        doc(
            **{
                hb: "Hyperband",
                f"{CONFIG}__StrategyConfig": {
                    "HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 9}
                },
            }
        )
    )
    assert config.hyperband == (2, 9) and config.epochs == 9
    rejects(
        doc(**{hb: "Hyperband", f"{CONFIG}__TrainingJobEarlyStoppingType": "Auto"}),
        "TrainingJobEarlyStoppingType must be Off with Strategy Hyperband",
    )
    rejects(
        doc(
            **{
                hb: "Hyperband",
                f"{CONFIG}__StrategyConfig": {
                    "HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 2}
                },
            }
        ),
        r"MinResource \(5\) must not exceed MaxResource \(2\)",
    )
    rejects(
        doc(**{f"{CONFIG}__StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 2}}}),
        "HyperbandStrategyConfig\\) is only valid with Strategy Hyperband, got Strategy Bayesian",
    )
    epochs_tuned = doc(**{hb: "Hyperband", "TrainingJobDefinition__StaticHyperParameters__epochs": None})
    epochs_tuned[CONFIG]["ParameterRanges"]["IntegerParameterRanges"].append(
        {"Name": "epochs", "MinValue": 1, "MaxValue": 5}
    )
    rejects(epochs_tuned, "epochs cannot be tuned with Strategy Hyperband")
    defaults = parse_job_config(
        doc(**{hb: "Hyperband", RANGES: None, "TrainingJobDefinition__StaticHyperParameters__epochs": None})
    )
    assert "epochs" not in defaults.tuned_names and defaults.hyperband == (1, 10)


def test_objective_must_be_a_metric_the_trainer_emits():
    objective = f"{CONFIG}__HyperParameterTuningJobObjective"
    rejects(
        doc(**{objective: {"Type": "Maximize", "MetricName": "validation:discriminatorauc"}}),
        "MetricName must be a metric the trainer emits each epoch, got 'validation:discriminatorauc'; did you mean 'validation:discriminator_auc'",
    )
    rejects(
        doc(**{objective: {"Type": "Maximise", "MetricName": "validation:discriminator_auc"}}),
        "Type must be one of Maximize | Minimize, got 'Maximise'; did you mean 'Maximize'",
    )
    loss = parse_job_config(
        doc(
            **{
                objective: {"MetricName": "train:binary_classification_cross_entropy:epoch"},
                "TrainingJobDefinition__InputDataConfig": {"train": "t.csv"},
            }
        )
    )
    assert str(loss.objective.type) == "Minimize"


def test_completion_criteria_are_validated():
    criteria = f"{CONFIG}__TuningJobCompletionCriteria"
    rejects(
        doc(**{criteria: {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}}}),
        r"MaxNumberOfTrainingJobsNotImproving must be an integer >= 3, got 2",
    )
    rejects(
        doc(**{criteria: {"ConvergenceDetected": {"CompleteOnConvergence": "Yes"}}}),
        "CompleteOnConvergence must be Enabled or Disabled",
    )
    rejects(
        doc(**{criteria: {"TargetObjectiveMetricValue": "high"}}),
        "TargetObjectiveMetricValue must be a number",
    )
    config = parse_job_config(
        doc(
            **{
                criteria: {
                    "TargetObjectiveMetricValue": 0.99,
                    "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3},
                    "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
                }
            }
        )
    )
    assert config.completion == _types.CompletionCriteria(0.99, 3, True)


def test_warm_start_takes_one_to_five_other_parents():
    ws = "WarmStartConfig"
    parents = [{"HyperParameterTuningJobName": f"p{i}"} for i in range(6)]
    rejects(
        doc(**{ws: {"ParentHyperParameterTuningJobs": [], "WarmStartType": "TransferLearning"}}),
        "must list 1 to 5 parent jobs, got 0",
    )
    rejects(
        doc(**{ws: {"ParentHyperParameterTuningJobs": parents, "WarmStartType": "TransferLearning"}}),
        "must list 1 to 5 parent jobs, got 6",
    )
    rejects(
        doc(**{ws: {"ParentHyperParameterTuningJobs": parents[:1], "WarmStartType": "Identical"}}),
        "WarmStartType must be one of IdenticalDataAndAlgorithm | TransferLearning",
    )
    rejects(
        doc(
            **{
                ws: {
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "job-1"}],
                    "WarmStartType": "TransferLearning",
                }
            }
        ),
        "cannot be its own parent",
    )
    rejects(doc(**{ws: {"ParentHyperParameterTuningJobs": parents[:1]}}), "WarmStartType is required")
    ok = parse_job_config(
        doc(**{ws: {"ParentHyperParameterTuningJobs": parents[:5], "WarmStartType": "TransferLearning"}})
    )
    assert ok.warm_start.parents == ("p0", "p1", "p2", "p3", "p4")


def test_ranges_that_only_allow_r_plus_s_zero_are_rejected_before_any_trial():
    only_zero = doc(**{"TrainingJobDefinition__StaticHyperParameters__random_negative_sampling_rate": "0"})
    only_zero[CONFIG]["ParameterRanges"]["IntegerParameterRanges"].append(
        {"Name": "shuffled_negative_sampling_rate", "MinValue": 0, "MaxValue": 0}
    )
    rejects(
        only_zero,
        "random_negative_sampling_rate \\+ shuffled_negative_sampling_rate must be at least 1 but the ranges and static values allow only R = S = 0",
    )
    with_zero = copy.deepcopy(only_zero)
    with_zero[CONFIG]["ParameterRanges"]["IntegerParameterRanges"][-1]["MaxValue"] = 3
    assert "shuffled_negative_sampling_rate" in parse_job_config(with_zero).tuned_names


def test_a_missing_seed_is_drawn_and_recorded():
    config = parse_job_config(doc(**{f"{CONFIG}__RandomSeed": None}), seed_if_missing=1234)
    assert config.random_seed == 1234 and not config.random_seed_given
    assert config.to_dict()[CONFIG]["RandomSeed"] == 1234
    assert math.isfinite(parse_job_config(doc(**{f"{CONFIG}__RandomSeed": None})).random_seed)


def test_the_channels_take_trains_log_formats_with_their_field_names():
    definition = "TrainingJobDefinition"
    config = parse_job_config(doc(**{f"{definition}__InputFormat": "jsonl", f"{definition}__EntityField": "user.name"}))
    assert (config.input_format.format, config.input_format.entity_field, config.input_format.ip_field) == (
        "jsonl",
        "user.name",
        None,
    )
    assert parse_job_config(config.to_dict()) == config  # the record round-trips
    assert parse_job_config(doc()).input_format == _types.InputFormat()  # CSV, as train's default
    assert "InputFormat" not in parse_job_config(doc()).to_dict()["TrainingJobDefinition"]  # older records match
    rejects(
        doc(**{f"{definition}__InputFormat": "syslog"}),
        r"TrainingJobDefinition: InputFormat must be one of csv \| sshd \| .*, got 'syslog'",
    )
    rejects(
        doc(**{f"{definition}__InputFormat": "sshd", f"{definition}__IpField": "addr"}),
        "TrainingJobDefinition: IpField chooses a field of jsonl, csv-header and parquet input .*; "
        "InputFormat sshd has fixed fields",
    )
    combined = parse_job_config(
        doc(**{f"{definition}__InputFormat": "combined", f"{definition}__IpField": "x-forwarded-for"})
    )
    assert combined.input_format.ip_field == "x-forwarded-for"


def test_the_command_lines_format_replaces_the_files_with_its_own_fields(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(
        json.dumps(
            doc(**{"TrainingJobDefinition__InputFormat": "jsonl", "TrainingJobDefinition__EntityField": "who"})
        )
    )
    assert load_job_config(path).input_format == _types.InputFormat("jsonl", "who")
    assert load_job_config(path, input_format={"InputFormat": "sshd"}).input_format == _types.InputFormat("sshd")
    assert load_job_config(path, input_format={"IpField": "addr"}).input_format == _types.InputFormat(
        "jsonl", "who", "addr"
    )


def test_each_type_checks_itself_when_built_directly():
    with pytest.raises(ConfigError, match=r"MinValue \(64\) must not exceed MaxValue \(8\)"):
        _types.IntegerRange("vector_dim", 64, 8)
    with pytest.raises(ConfigError, match="learning_rate is continuous"):
        _types.IntegerRange("learning_rate", 1, 2)
    with pytest.raises(ConfigError, match="unknown hyperparameter 'vector_dims'; did you mean 'vector_dim'"):
        _types.ContinuousRange("vector_dims", 0.1, 0.2)
    with pytest.raises(ConfigError, match=r"Values: '0' is invalid: mini_batch_size must be an integer in \[1, 500000\]"):
        _types.CategoricalRange("mini_batch_size", ("0",))
    with pytest.raises(ConfigError, match=r"MaxParallelTrainingJobs must be an integer in \[1, 100\], got 101"):
        _types.ResourceLimits(5, 101)
    with pytest.raises(ConfigError, match="MaxNumberOfTrainingJobsNotImproving must be an integer >= 3, got 2"):
        _types.CompletionCriteria(max_number_of_training_jobs_not_improving=2)
    with pytest.raises(ConfigError, match="parent 'a' is listed twice"):
        _types.WarmStart(("a", "a"), _types.WarmStartType.TRANSFER_LEARNING)
    with pytest.raises(ConfigError, match="MetricName must be a metric the trainer emits"):
        _types.Objective(_types.ObjectiveType.MAXIMIZE, "validation:auc")


def test_the_job_files_formats_are_the_readers_formats():
    from ipinsights.readers import FORMATS

    assert _types.LOG_FORMATS == FORMATS  # the tuner validates without importing the readers


def test_a_tuning_job_config_checks_its_own_fields_when_built_directly():
    config = parse_job_config(doc())
    with pytest.raises(ConfigError, match="Device must be auto, cpu or cuda"):
        config.replace(device="gpu")
    with pytest.raises(ConfigError, match=r"MaxBadFraction must be in \[0, 1\], got 1.5"):
        config.replace(max_bad_fraction=1.5)
    with pytest.raises(ConfigError, match=r"MaximumRetryAttempts must be an integer in \[0, 30\], got 31"):
        config.replace(max_retry_attempts=31)
    with pytest.raises(ConfigError, match="needs a train channel"):
        config.replace(channels={"validation": "v.csv"})
