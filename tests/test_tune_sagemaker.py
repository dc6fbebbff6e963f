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


REQUESTS = {
    "sdk-v2-estimator": sdk_v2_estimator_request,
    "sdk-v2-include-cls-metadata-tags": sdk_v2_variant_b,
    "sdk-v2-ipinsights-class": sdk_v2_ipinsights_class_request,
    "sdk-v3-model-trainer": sdk_v3_request,
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
