"""Existing SageMaker clients work unchanged: real tuning requests in, service-shaped answers out.

The requests below are the ones boto3 and the SageMaker Python SDK send (transcribed from
requests captured offline, /work/shared/notes/sagemaker-conformance.md); each is first checked
with botocore's own ``ParamValidator`` against the service model's
``CreateHyperParameterTuningJob`` input shape, so that a test cannot pass on a request the service
would refuse.
"""

from __future__ import annotations

import copy
import json

import pytest

from ipinsights.config import HyperParameters
from ipinsights.errors import ConfigError
from ipinsights.tune import parse_job_config

botocore_session = pytest.importorskip("botocore.session")
from botocore.validate import ParamValidator  # noqa: E402

SERVICE = botocore_session.get_session().get_service_model("sagemaker")
IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/ipinsights:1"
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
LOCAL = {"train": "/data/train.csv", "validation": "/data/validation.csv"}
RECOMMENDED = {
    "IntegerParameterRanges": [
        {"Name": "epochs", "MinValue": "1", "MaxValue": "40", "ScalingType": "Auto"},
        {"Name": "num_entity_vectors", "MinValue": "1", "MaxValue": "250000000", "ScalingType": "Auto"},
        {"Name": "mini_batch_size", "MinValue": "100", "MaxValue": "50000", "ScalingType": "Auto"},
        {"Name": "random_negative_sampling_rate", "MinValue": "0", "MaxValue": "10", "ScalingType": "Auto"},
        {"Name": "shuffled_negative_sampling_rate", "MinValue": "0", "MaxValue": "10", "ScalingType": "Auto"},
        {"Name": "vector_dim", "MinValue": "4", "MaxValue": "4096", "ScalingType": "Auto"},
    ],
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "1e-06", "MaxValue": "10.0", "ScalingType": "Auto"},
        {"Name": "weight_decay", "MinValue": "0.0", "MaxValue": "10.0", "ScalingType": "Auto"},
    ],
    "CategoricalParameterRanges": [],
}


def s3_channel(name: str, **extra) -> dict:
    source = {
        "S3DataType": "S3Prefix",
        "S3Uri": f"s3://b/ipinsights/{name}",
        "S3DataDistributionType": "FullyReplicated",
    }
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}, **extra}


def sdk_v2_estimator_request() -> dict:
    """``HyperparameterTuner(Estimator(image_uri=ipinsights, ...)).fit({...}, wait=False)``, SDK 2.257."""
    return {
        "HyperParameterTuningJobName": "ipinsights-260101-1200",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 2},
            "TrainingJobEarlyStoppingType": "Off",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:discriminator_auc",
            },
            "ParameterRanges": RECOMMENDED,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://b/ipinsights/output"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "HyperParameterTuningResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            },
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "InputDataConfig": [
                s3_channel("train", ContentType="text/csv"),
                s3_channel("validation", ContentType="text/csv"),
            ],
        },
    }


def sdk_v2_variant_b() -> dict:
    """Static values, ``include_cls_metadata=True``, tags, early stopping, a seed, completion criteria."""
    request = sdk_v2_estimator_request()
    request["HyperParameterTuningJobConfig"].update(
        {
            "TrainingJobEarlyStoppingType": "Auto",
            "RandomSeed": 42,
            "TuningJobCompletionCriteria": {
                "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
                "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
            },
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": "epochs", "MinValue": "1", "MaxValue": "5", "ScalingType": "Auto"}
                ],
                "ContinuousParameterRanges": [
                    {
                        "Name": "learning_rate",
                        "MinValue": "0.0001",
                        "MaxValue": "0.1",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "CategoricalParameterRanges": [{"Name": "mini_batch_size", "Values": ["1000", "5000"]}],
            },
        }
    )
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {
        "num_entity_vectors": "20000",
        "vector_dim": "128",
        "sagemaker_estimator_class_name": '"Estimator"',
        "sagemaker_estimator_module": '"sagemaker.estimator"',
    }
    request["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 3600}
    request["Tags"] = [{"Key": "team", "Value": "fraud"}]
    return request


def sdk_v2_ipinsights_class_request() -> dict:
    """``HyperparameterTuner(sagemaker.IPInsights(...)).fit(record_sets)``: feature_dim, RecordIO."""
    request = sdk_v2_estimator_request()
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "IntegerParameterRanges": [
            {"Name": "vector_dim", "MinValue": "8", "MaxValue": "64", "ScalingType": "Auto"}
        ],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {
        "num_entity_vectors": "20000",
        "feature_dim": "2",
        "mini_batch_size": "1000",
    }
    manifest = {
        "S3DataType": "ManifestFile",
        "S3Uri": "s3://b/ipinsights/train.mbr",
        "S3DataDistributionType": "ShardedByS3Key",
    }
    request["TrainingJobDefinition"]["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"S3DataSource": manifest}, "RecordWrapperType": "RecordIO"}
    ]
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = (
        "train:binary_classification_cross_entropy:epoch"
    )
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = "Minimize"
    return request


def sdk_v3_request() -> dict:
    """``sagemaker.train.tuner.HyperparameterTuner(ModelTrainer(...)).tune(inputs=[...])``, SDK 3.27."""
    request = sdk_v2_estimator_request()
    definition = request["TrainingJobDefinition"]
    del definition["StaticHyperParameters"], definition["HyperParameterTuningResourceConfig"]
    definition["ResourceConfig"] = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    definition["OutputDataConfig"]["CompressionType"] = "GZIP"
    request["Tags"] = [{"Key": "sagemaker:created-by", "Value": "ModelTrainer"}]
    return request


def boto3_request() -> dict:
    """A hand-written ``boto3.client("sagemaker").create_hyper_parameter_tuning_job(**request)``."""
    return {
        "HyperParameterTuningJobName": "login-model",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:discriminator_auc",
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 3,
                "MaxParallelTrainingJobs": 1,
                "MaxRuntimeInSeconds": 3600,
            },
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "vector_dim", "MinValue": "8", "MaxValue": "16"}],
            },
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {
                        "Name": "validation:discriminator_auc",
                        "Regex": "#quality_metric: host=\\S+, test discriminator_auc <score>=(\\S+)",
                    }
                ],
            },
            "RoleArn": ROLE,
            "StaticHyperParameters": {"num_entity_vectors": "10000", "epochs": "2"},
            "InputDataConfig": [
                s3_channel("train", ContentType="text/csv", CompressionType="None"),
                s3_channel("validation", ContentType="text/csv", CompressionType="None"),
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://b/out", "KmsKeyId": "alias/key"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": "s3://b/checkpoints"},
            "VpcConfig": {"SecurityGroupIds": ["sg-0123456789"], "Subnets": ["subnet-0123456789"]},
            "EnableNetworkIsolation": False,
            "EnableInterContainerTrafficEncryption": False,
            "Environment": {"LOG_LEVEL": "info"},
            "RetryStrategy": {"MaximumRetryAttempts": 2},
        },
        "Tags": [{"Key": "project", "Value": "login"}],
    }


def multi_algorithm_request() -> dict:
    """``TrainingJobDefinitions`` with one definition carrying its objective and ranges."""
    request = boto3_request()
    definition = request.pop("TrainingJobDefinition")
    job = request["HyperParameterTuningJobConfig"]
    definition["DefinitionName"] = "ipinsights"
    definition["TuningObjective"] = job.pop("HyperParameterTuningJobObjective")
    definition["HyperParameterRanges"] = job.pop("ParameterRanges")
    request["TrainingJobDefinitions"] = [definition]
    return request


def sdk_v2_hyperband_request() -> dict:
    """``strategy="Hyperband"``, ``StrategyConfig(HyperbandStrategyConfig(max_resource=2, min_resource=1))``."""
    request = sdk_v2_variant_b()
    job = request["HyperParameterTuningJobConfig"]
    job.update(Strategy="Hyperband", TrainingJobEarlyStoppingType="Off")
    job["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 2}}
    job["ParameterRanges"]["IntegerParameterRanges"] = []
    return request


def sdk_v2_grid_request() -> dict:
    """``strategy="Grid"`` over categorical ranges, ``max_jobs=4``."""
    request = sdk_v2_variant_b()
    job = request["HyperParameterTuningJobConfig"]
    job.update(Strategy="Grid", TrainingJobEarlyStoppingType="Off")
    del job["TuningJobCompletionCriteria"]
    job["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 4
    job["ParameterRanges"] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [
            {"Name": "mini_batch_size", "Values": ["1000", "5000"]},
            {"Name": "epochs", "Values": ["1", "2"]},
        ],
    }
    return request


def sdk_v2_warm_start_request() -> dict:
    """``WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, parents={"parent-job"})``."""
    request = sdk_v2_variant_b()
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-job"}],
        "WarmStartType": "TransferLearning",
    }
    return request


REQUESTS = {
    "sdk-v2-estimator": sdk_v2_estimator_request,
    "sdk-v2-include-cls-metadata-tags": sdk_v2_variant_b,
    "sdk-v2-ipinsights-class": sdk_v2_ipinsights_class_request,
    "sdk-v3-model-trainer": sdk_v3_request,
    "sdk-v2-hyperband": sdk_v2_hyperband_request,
    "sdk-v2-grid": sdk_v2_grid_request,
    "sdk-v2-warm-start": sdk_v2_warm_start_request,
    "boto3-dict": boto3_request,
    "multi-algorithm-one-definition": multi_algorithm_request,
}


def botocore_errors(request: dict, shape_name: str = "CreateHyperParameterTuningJob") -> str:
    report = ParamValidator().validate(request, SERVICE.operation_model(shape_name).input_shape)
    return report.generate_report() if report.has_errors() else ""


@pytest.mark.parametrize("make", REQUESTS.values(), ids=REQUESTS.keys())
def test_every_request_botocore_accepts_is_accepted_verbatim_with_local_channels(make):
    request = make()
    assert botocore_errors(request) == ""
    original = copy.deepcopy(request)
    config = parse_job_config(request, channel_paths=LOCAL, seed_if_missing=1)
    assert request == original  # the caller's document is not changed
    assert config.channels["train"] == LOCAL["train"]
    assert config.not_used  # the SageMaker-only members are reported ...
    definition = config.sagemaker_fields["TrainingJobDefinition"]
    assert definition["RoleArn"] == ROLE  # ... and kept for describe
    assert definition["AlgorithmSpecification"]["TrainingImage"] == IMAGE


def test_the_sagemaker_only_members_are_listed_once_each_with_their_path():
    config = parse_job_config(boto3_request(), channel_paths=LOCAL, seed_if_missing=1)
    assert len(config.not_used) == len(set(config.not_used))
    for member in (
        "Tags",
        "TrainingJobDefinition.RoleArn",
        "TrainingJobDefinition.VpcConfig",
        "TrainingJobDefinition.EnableManagedSpotTraining",
        "TrainingJobDefinition.InputDataConfig[*].ContentType",
        "TrainingJobDefinition.InputDataConfig[*].CompressionType",
        "TrainingJobDefinition.InputDataConfig[*].DataSource.S3DataSource.S3DataType",
    ):
        assert member in config.not_used


def test_the_keys_the_sdk_adds_to_static_hyperparameters_are_kept_aside_not_trained():
    config = parse_job_config(sdk_v2_variant_b(), channel_paths=LOCAL, seed_if_missing=1)
    assert set(config.static_hyperparameters) == {"num_entity_vectors", "vector_dim"}
    assert "TrainingJobDefinition.StaticHyperParameters.sagemaker_estimator_module" in config.not_used
    kept = config.sagemaker_fields["TrainingJobDefinition"]["StaticHyperParameters"]
    assert kept == {
        "sagemaker_estimator_class_name": '"Estimator"',
        "sagemaker_estimator_module": '"sagemaker.estimator"',
    }
    ipinsights_class = parse_job_config(
        sdk_v2_ipinsights_class_request(), channel_paths=LOCAL, seed_if_missing=1
    )
    assert "feature_dim" not in ipinsights_class.static_hyperparameters


def test_the_sagemaker_fields_survive_the_job_record_round_trip():
    config = parse_job_config(sdk_v2_variant_b(), channel_paths=LOCAL, seed_if_missing=1)
    again = parse_job_config(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.sagemaker_fields["Tags"] == [{"Key": "team", "Value": "fraud"}]


def test_the_definition_of_training_job_definitions_supplies_objective_and_ranges():
    config = parse_job_config(multi_algorithm_request(), channel_paths=LOCAL, seed_if_missing=1)
    assert config.objective.metric_name == "validation:discriminator_auc"
    assert config.tuned_names == ["vector_dim"]
    assert config.static_hyperparameters["epochs"] == "2"


def test_more_than_one_training_job_definition_is_refused_with_the_fix():
    request = multi_algorithm_request()
    request["TrainingJobDefinitions"].append(copy.deepcopy(request["TrainingJobDefinitions"][0]))
    assert botocore_errors(request) == ""
    with pytest.raises(
        ConfigError,
        match=r"TrainingJobDefinitions must list exactly one definition here .* got 2; run one tuning job per definition",
    ):
        parse_job_config(request, channel_paths=LOCAL)


def test_an_s3_channel_without_a_local_path_says_to_pass_train():
    with pytest.raises(ConfigError) as caught:
        parse_job_config(sdk_v2_estimator_request())
    assert str(caught.value) == (
        "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri (train): "
        "'s3://b/ipinsights/train' is in S3, which ipinsights does not read; pass --train PATH "
        "(a local copy of it) or give a local path in the file"
    )


def test_an_s3_validation_channel_needs_its_own_local_path():
    with pytest.raises(
        ConfigError, match=r"\(validation\): 's3://b/ipinsights/validation' is in S3.*pass --validation PATH"
    ):
        parse_job_config(sdk_v2_estimator_request(), channel_paths={"train": LOCAL["train"]})


@pytest.mark.parametrize(
    ("where", "was", "key", "hint"),
    [
        ("TrainingJobDefinition", "OutputDataConfig", "OutputDataConfg", "did you mean 'OutputDataConfig'?"),
        ("TrainingJobDefinition", "RoleArn", "RoleARN", "did you mean 'RoleArn'?"),
        ("the job file", "Tags", "Tag", "did you mean 'Tags'?"),
    ],
)
def test_a_misspelt_sagemaker_field_gets_the_member_of_the_same_shape(where, was, key, hint):
    request = boto3_request()
    target = request if where == "the job file" else request[where]
    target[key] = target.pop(was)
    with pytest.raises(ConfigError, match=f"{where}: unknown key '{key}'; {hint}"):
        parse_job_config(request, channel_paths=LOCAL)


def test_a_valid_sagemaker_field_is_never_answered_with_a_hint_to_another_field():
    config = parse_job_config(sdk_v2_estimator_request(), channel_paths=LOCAL, seed_if_missing=1)
    assert "TrainingJobDefinition.OutputDataConfig" in config.not_used  # not "did you mean InputDataConfig"


def test_all_unknown_keys_of_a_file_come_in_one_message():
    request = boto3_request()
    request["TrainingJobDefinition"]["Bogus"] = 1
    request["HyperParameterTuningJobConfig"]["Stratgy"] = "Random"
    request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["Bogus"] = 1
    with pytest.raises(ConfigError) as caught:
        parse_job_config(request, channel_paths=LOCAL)
    lines = str(caught.value).splitlines()
    assert lines[0] == "3 problems in the job file:"
    assert "HyperParameterTuningJobConfig: unknown key 'Stratgy'; did you mean 'Strategy'?" in lines[1]
    assert any("InputDataConfig[0].DataSource.S3DataSource: unknown key 'Bogus'" in line for line in lines)


# -- SageMaker's hyperparameters.json (train --hyperparameters) --------------------------------


def test_the_keys_sagemaker_and_the_sdk_add_to_hyperparameters_are_ignored():
    hp = HyperParameters.from_mapping(
        {
            "num_entity_vectors": "100",
            "vector_dim": "8",
            "_tuning_objective_metric": "validation:discriminator_auc",
            "sagemaker_estimator_class_name": '"IPInsights"',
            "sagemaker_container_log_level": "20",
            "feature_dim": "2",
        }
    )
    assert hp.vector_dim == 8


def test_a_real_typo_still_gets_the_closest_name():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'vector_dims'; did you mean 'vector_dim'"):
        HyperParameters.from_mapping({"num_entity_vectors": "100", "vector_dims": "8"})


# -- describe and list, against botocore's output shapes --------------------------------------

EXTENSION = "IPInsights"  # the one documented member that is ours


def shape_errors(value, shape, path="") -> list[str]:
    """Where ``value`` (our JSON) breaks botocore's output ``shape``: unknown or missing required
    members, wrong types, ``null``, timestamps without a UTC offset. ``IPInsights`` is allowed."""
    import datetime as dt

    kind = shape.type_name
    if value is None:
        return [f"{path}: null"]
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {type(value).__name__}"]
        errors = [f"{path}.{m}: required, missing" for m in shape.required_members if m not in value]
        for key, item in value.items():
            if key == EXTENSION:
                continue
            if key not in shape.members:
                errors.append(f"{path}.{key}: not a member")
            else:
                errors += shape_errors(item, shape.members[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {type(value).__name__}"]
        return [e for k, v in value.items() for e in shape_errors(v, shape.value, f"{path}.{k}")]
    if kind == "string":
        ok = isinstance(value, str) and (not shape.enum or value in shape.enum)
        return (
            []
            if ok
            else [f"{path}: expected a string{' in ' + str(shape.enum) if shape.enum else ''}, got {value!r}"]
        )
    if kind in ("integer", "long"):
        return (
            []
            if isinstance(value, int) and not isinstance(value, bool)
            else [f"{path}: expected an integer, got {value!r}"]
        )
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        try:
            parsed = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{path}: not an ISO 8601 timestamp: {value!r}"]
        return [] if parsed.utcoffset() == dt.timedelta(0) else [f"{path}: not UTC with an offset: {value!r}"]
    return [f"{path}: unchecked type {kind}"]


def sdk_v2_attach_reads(described: dict) -> dict:
    """Every member ``HyperparameterTuner.attach()`` of the SageMaker Python SDK v2 reads with ``[]``
    (sagemaker/tuner.py ``_attach_with_training_details``, ``_prepare_estimator_cls``,
    ``_prepare_estimator_from_job_description``, ``_prepare_init_params_from_job_description``
    and estimator.py ``EstimatorBase._prepare_init_params_from_job_description``), transcribed:
    a ``KeyError`` here is one there."""
    details = copy.deepcopy(described["TrainingJobDefinition"])
    tuning = described["HyperParameterTuningJobConfig"]
    ranges = tuning["ParameterRanges"]
    for kind in ("Categorical", "Continuous", "Integer"):
        assert isinstance(ranges[f"{kind}ParameterRanges"], list)
    assert details["AlgorithmSpecification"]["TrainingImage"]
    hyperparameters = details.pop("StaticHyperParameters")
    del hyperparameters["_tuning_objective_metric"]
    details.setdefault("OutputDataConfig", {}).setdefault("KmsKeyId", "")
    tuner = {
        "strategy": tuning["Strategy"],
        "max_jobs": tuning["ResourceLimits"]["MaxNumberOfTrainingJobs"],
        "max_parallel_jobs": tuning["ResourceLimits"]["MaxParallelTrainingJobs"],
        "early_stopping_type": tuning["TrainingJobEarlyStoppingType"],
        "name": described["HyperParameterTuningJobName"],
        "metric_definitions": details["AlgorithmSpecification"]["MetricDefinitions"],
    }
    return {
        **tuner,
        "role": details["RoleArn"],
        "instance_count": details["ResourceConfig"]["InstanceCount"],
        "instance_type": details["ResourceConfig"]["InstanceType"],
        "volume_size": details["ResourceConfig"]["VolumeSizeInGB"],
        "max_run": details["StoppingCondition"]["MaxRuntimeInSeconds"],
        "input_mode": details["AlgorithmSpecification"]["TrainingInputMode"],
        "output_path": details["OutputDataConfig"]["S3OutputPath"],
        "output_kms_key": details["OutputDataConfig"]["KmsKeyId"],
        "image_uri": details["AlgorithmSpecification"]["TrainingImage"],
        "hyperparameters": hyperparameters,
    }


def output_shape(operation: str):
    return SERVICE.operation_model(operation).output_shape


def run_small(tmp_path, request):
    """Run ``request`` for 2 training jobs with the stand-in trainer of test_tune_job."""
    from test_tune_job import STANDIN, TESTS

    from ipinsights.tune import TuningJob, run_job

    request = copy.deepcopy(request)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": 2,
        "MaxParallelTrainingJobs": 1,
    }
    data = {"train": str(TESTS / "conftest.py"), "validation": str(TESTS / "conftest.py")}
    config = parse_job_config(request, channel_paths=data, seed_if_missing=3)
    job = TuningJob.create_or_resume(config, job_dir=tmp_path / "jobs" / config.name)
    assert run_job(job, trainer=STANDIN, plots=False) == "Completed"
    return job


def small_sdk_request() -> dict:
    request = sdk_v2_variant_b()
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "IntegerParameterRanges": [
            {"Name": "vector_dim", "MinValue": "8", "MaxValue": "64", "ScalingType": "Auto"}
        ],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Off"
    request["TrainingJobDefinition"]["StaticHyperParameters"].update(
        {"num_entity_vectors": "100", "epochs": "2"}
    )
    del request["TrainingJobDefinition"]["StaticHyperParameters"]["vector_dim"]
    assert botocore_errors(request) == ""
    return request


def test_describe_and_list_of_an_sdk_request_fit_botocores_output_shapes(tmp_path):
    from ipinsights.tune import describe_job, list_training_jobs

    job = run_small(tmp_path, small_sdk_request())
    described = json.loads(json.dumps(describe_job(job)))
    assert shape_errors(described, output_shape("DescribeHyperParameterTuningJob")) == []
    listed = json.loads(json.dumps(list_training_jobs(job)))
    assert shape_errors(listed, output_shape("ListTrainingJobsForHyperParameterTuningJob")) == []
    assert len(listed["TrainingJobSummaries"]) == 2
    # HyperparameterTuner.attach() reads the definition as the request gave it
    definition = described["TrainingJobDefinition"]
    request = small_sdk_request()["TrainingJobDefinition"]
    for member in (
        "RoleArn",
        "OutputDataConfig",
        "StoppingCondition",
        "InputDataConfig",
        "HyperParameterTuningResourceConfig",
    ):
        assert definition[member] == request[member]
    assert definition["AlgorithmSpecification"].items() >= request["AlgorithmSpecification"].items()
    assert sdk_v2_attach_reads(described)["image_uri"] == IMAGE
    assert definition["StaticHyperParameters"]["sagemaker_estimator_module"] == '"sagemaker.estimator"'
    assert described["HyperParameterTuningJobArn"] == (
        "arn:aws:sagemaker:local:000000000000:hyper-parameter-tuning-job/ipinsights-260101-1200"
    )
    assert described["BestTrainingJob"]["TrainingJobArn"].startswith(
        "arn:aws:sagemaker:local:000000000000:training-job/ipinsights-260101-1200-"
    )
    assert described["IPInsights"]["TrainingJobDefinition"]["Channels"]["train"].endswith("conftest.py")


def test_describe_of_a_local_job_file_has_neutral_values_for_the_required_members(tmp_path):
    from test_tune_job import document

    from ipinsights.tune import describe_job

    job = run_small(tmp_path, document("plain", jobs=2, parallel=1))
    described = json.loads(json.dumps(describe_job(job)))
    assert shape_errors(described, output_shape("DescribeHyperParameterTuningJob")) == []
    definition = described["TrainingJobDefinition"]
    assert definition["RoleArn"] == "arn:aws:iam::000000000000:role/ipinsights-local"
    assert definition["AlgorithmSpecification"]["TrainingImage"] == "ipinsights:local"
    assert sdk_v2_attach_reads(described)["role"] == definition["RoleArn"]
    assert [c["ChannelName"] for c in definition["InputDataConfig"]] == ["train", "validation"]
    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].startswith("file:///")
    assert described["CreationTime"].endswith("+00:00")


@pytest.mark.slow  # `ipinsights tune` in a process, with trial processes
def test_the_command_runs_an_sdk_request_unchanged_and_reports_the_unused_members_in_one_line(tmp_path):
    from test_tune_job import TESTS, cli

    request = small_sdk_request()
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 1
    assert botocore_errors(request) == ""
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    folder = str(tmp_path / "jobs" / "sdk")
    data = str(TESTS / "conftest.py")
    code, _out, err = cli(
        "tune", "--config", str(path), "--train", data, "--validation", data, "--job-dir", folder,
        "--no-progress", "--no-plots",
    )  # fmt: skip
    assert code == 0, err
    unused = [line for line in err.splitlines() if "not used locally" in line]
    assert len(unused) == 1
    for member in (
        "Tags",
        "TrainingJobDefinition.RoleArn",
        "TrainingJobDefinition.InputDataConfig[*].ContentType",
    ):
        assert member in unused[0]
    code, out, err = cli("tune", "describe", folder)
    assert code == 0, err
    described = json.loads(out)
    assert shape_errors(described, output_shape("DescribeHyperParameterTuningJob")) == []
    assert described["TrainingJobStatusCounters"]["Completed"] == 2


def test_train_hyperparameters_json_from_a_tuning_trial_loads_with_one_note(tmp_path, capsys):
    from ipinsights.cli.train import _hyperparameter_values
    from ipinsights.config import HyperParameters

    written_by_sagemaker = {
        "num_entity_vectors": "100",
        "vector_dim": "8",
        "epochs": "1",
        "_tuning_objective_metric": "validation:discriminator_auc",
        "sagemaker_estimator_class_name": '"IPInsights"',
        "sagemaker_estimator_module": '"sagemaker.amazon.ipinsights"',
        "feature_dim": "2",
    }
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(written_by_sagemaker))
    hp = HyperParameters.from_mapping(_hyperparameter_values(str(path), []))
    assert (hp.vector_dim, hp.epochs) == (8, 1)
    assert capsys.readouterr().err.splitlines() == [
        "ipinsights train: ignoring _tuning_objective_metric, sagemaker_estimator_class_name, "
        "sagemaker_estimator_module, feature_dim (added by SageMaker or its SDK; the reference's "
        "container ignores them too)"
    ]
