"""The real SageMaker Python SDK (v2) against ``ipinsights tune``, with no network.

test_tune_sagemaker.py transcribes what the SDK sends and what ``HyperparameterTuner.attach()``
reads; here the SDK itself builds the request and reads the answers. Each ``sagemaker.Session``
gets a real boto3 ``sagemaker`` client (dummy credentials) whose HTTP layer is replaced by a
``before-send`` handler: botocore still validates every request against the service model,
serializes it and parses the answer with the output shape, exactly as it would for AWS, but
nothing leaves the process.

1. ``HyperparameterTuner(...).fit({...}, wait=False)`` over an ``Estimator`` with the ipinsights
   image and over the SDK's ``IPInsights`` class: the captured ``CreateHyperParameterTuningJob``
   body is written to a file and run by ``ipinsights tune --config`` (a separate process, the real
   trainer, 2 trials on tiny data).
2. ``ipinsights tune describe`` / ``tune list`` answer ``DescribeHyperParameterTuningJob`` /
   ``ListTrainingJobsForHyperParameterTuningJob`` for ``HyperparameterTuner.attach()`` and
   ``HyperparameterTuningJobAnalytics(...).dataframe()``.

Needs the ``sdk-tests`` extra (``pip install -e '.[sdk-tests]'``); skipped without it.
"""

from __future__ import annotations

import json
import os
import warnings

import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # the SDK's v2 deprecation banner
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sagemaker = pytest.importorskip("sagemaker")
    boto3 = pytest.importorskip("boto3")
    from botocore.awsrequest import AWSResponse
    from sagemaker.amazon.amazon_estimator import RecordSet
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import (
        ContinuousParameter,
        HyperparameterTuner,
        HyperparameterTuningJobAnalytics,
        IntegerParameter,
    )

pytestmark = pytest.mark.skipif(
    not sagemaker.__version__.startswith("2."), reason="these tests drive the SageMaker Python SDK v2"
)

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/ipinsights:1"
ROLE = "arn:aws:iam::111122223333:role/x"
OBJECTIVE = "validation:discriminator_auc"
S3_CHANNELS = {"train": "s3://b/train", "validation": "s3://b/val"}


class _Body:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class OfflineSageMaker:
    """A ``sagemaker.Session`` over a real boto3 client whose requests never leave the process.

    ``answers`` maps an operation name (``DescribeHyperParameterTuningJob``) to the JSON document
    the service would return, or to a function of the request body returning it; every request
    body is kept in ``sent`` as (operation, body).
    """

    def __init__(self, answers: dict):
        self.answers = answers
        self.sent: list[tuple[str, dict]] = []
        boto = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        boto.events.register("before-send", self._send)  # every client of this session, S3 included
        self.client = boto.client("sagemaker")
        self.session = sagemaker.Session(
            boto_session=boto, sagemaker_client=self.client, sagemaker_config={}, default_bucket="b"
        )
        self.session._default_bucket = "b"  # else default_bucket() asks S3 whether "b" exists

    def _send(self, request, **_kwargs):
        target = request.headers.get("X-Amz-Target", b"").decode()
        if not target.startswith("SageMaker."):
            raise AssertionError(
                f"the SDK sent {request.method} {request.url}, which would leave this machine"
            )
        operation = target.split(".", 1)[1]
        body = json.loads(request.body or b"{}")
        self.sent.append((operation, body))
        if operation not in self.answers:
            raise AssertionError(f"the SDK called {operation}, which this test does not answer")
        answer = self.answers[operation]
        answer = answer(body) if callable(answer) else answer
        return AWSResponse(request.url, 200, {}, _Body(json.dumps(answer).encode()))

    def bodies(self, operation: str) -> list[dict]:
        return [body for name, body in self.sent if name == operation]


CREATED = {
    "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:111122223333:hyper-parameter-tuning-job/x"
}


def estimator_tuner(session) -> HyperparameterTuner:
    """A notebook's ``HyperparameterTuner`` over a bring-your-own-image ``Estimator``."""
    estimator = Estimator(
        image_uri=IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path="s3://b/output",
        sagemaker_session=session,
        hyperparameters={"num_entity_vectors": 100, "epochs": 1, "mini_batch_size": 64},
    )
    return HyperparameterTuner(
        estimator,
        OBJECTIVE,
        {"learning_rate": ContinuousParameter(0.005, 0.05), "vector_dim": IntegerParameter(8, 16)},
        max_jobs=2,
        max_parallel_jobs=1,
    )


def ipinsights_class_tuner(session) -> HyperparameterTuner:
    """The same with the SDK's own ``sagemaker.IPInsights`` estimator."""
    estimator = sagemaker.IPInsights(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        num_entity_vectors=100,
        vector_dim=8,
        epochs=1,
        output_path="s3://b/output",
        data_location="s3://b/records",  # else the SDK creates its default bucket
        sagemaker_session=session,
    )
    return HyperparameterTuner(
        estimator,
        OBJECTIVE,
        {"learning_rate": ContinuousParameter(0.005, 0.05)},
        max_jobs=2,
        max_parallel_jobs=1,
    )


TUNERS = {"estimator": estimator_tuner, "ipinsights_class": ipinsights_class_tuner}


def sdk_inputs(tuner: HyperparameterTuner):
    """What a notebook passes to ``fit``: channel URIs, or RecordSets for the SDK's own algorithm
    classes (their ``fit`` takes nothing else; the RecordSets give ``feature_dim``)."""
    if isinstance(tuner.estimator, sagemaker.IPInsights):
        return [
            RecordSet(uri, num_records=1000, feature_dim=2, s3_data_type="S3Prefix", channel=channel)
            for channel, uri in S3_CHANNELS.items()
        ]
    return S3_CHANNELS


def capture_request(make_tuner) -> dict:
    offline = OfflineSageMaker({"CreateHyperParameterTuningJob": CREATED})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tuner = make_tuner(offline.session)
        if isinstance(tuner.estimator, sagemaker.IPInsights):  # its fit takes the batch size
            tuner.fit(sdk_inputs(tuner), wait=False, mini_batch_size=64)
        else:
            tuner.fit(sdk_inputs(tuner), wait=False)
    (request,) = offline.bodies("CreateHyperParameterTuningJob")
    return request


@pytest.fixture(scope="module", params=sorted(TUNERS))
def sdk_job(request, tmp_path_factory):
    """The SDK's request, run by ``ipinsights tune`` with the real trainer; describe and list."""
    from conftest import make_logins, write_csv
    from test_tune_job import cli, cli_env

    flavor = request.param
    tmp = tmp_path_factory.mktemp(f"sdk_{flavor}")
    sent = capture_request(TUNERS[flavor])
    path = tmp / "request.json"
    path.write_text(json.dumps(sent, indent=1))
    train = write_csv(tmp / "small.csv", make_logins(30, 12, seed=1))
    validation = write_csv(tmp / "small_val.csv", make_logins(30, 4, seed=2))
    folder = str(tmp / "jobs" / sent["HyperParameterTuningJobName"])
    env = cli_env()
    del env["IPINSIGHTS_TUNE_TRAINER"]  # the real trainer
    code, _out, err = cli(
        "tune", "--config", str(path), "--train", str(train), "--validation", str(validation),
        "--job-dir", folder, "--no-progress", "--no-plots", env=env, timeout=300,
    )  # fmt: skip
    assert code == 0, err
    tune_stderr = err
    code, described, err = cli("tune", "describe", folder, env=env)
    assert code == 0, err
    code, listed, err = cli("tune", "list", folder, env=env)
    assert code == 0, err
    return {
        "flavor": flavor,
        "request": sent,
        "stderr": tune_stderr,
        "describe": json.loads(described),
        "list": json.loads(listed),
    }


def test_the_sdks_request_is_valid_for_botocore_and_names_s3_channels():
    for make in TUNERS.values():
        request = capture_request(make)  # botocore's validator ran before the request was "sent"
        assert request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
            "Type": "Maximize",
            "MetricName": OBJECTIVE,
        }
        channels = request["TrainingJobDefinition"]["InputDataConfig"]
        assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels} == S3_CHANNELS
        assert request["TrainingJobDefinition"]["RoleArn"] == ROLE


def test_ipinsights_tune_runs_the_sdks_request_unchanged(sdk_job):
    described = sdk_job["describe"]
    assert described["HyperParameterTuningJobName"] == sdk_job["request"]["HyperParameterTuningJobName"]
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert best["MetricName"] == OBJECTIVE
    assert 0.0 <= best["Value"] <= 1.0
    unused = [line for line in sdk_job["stderr"].splitlines() if "not used locally" in line]
    assert len(unused) == 1, sdk_job["stderr"]
    assert "TrainingJobDefinition.RoleArn" in unused[0]
    if sdk_job["flavor"] == "ipinsights_class":
        assert "feature_dim" in sdk_job["stderr"]
    definition = described["TrainingJobDefinition"]
    sent = sdk_job["request"]["TrainingJobDefinition"]
    assert definition["RoleArn"] == sent["RoleArn"]
    assert definition["InputDataConfig"] == sent["InputDataConfig"]
    assert (
        definition["AlgorithmSpecification"]["TrainingImage"]
        == sent["AlgorithmSpecification"]["TrainingImage"]
    )


def attach_session(job) -> OfflineSageMaker:
    """A session whose client answers with ``ipinsights tune describe`` and ``tune list``."""
    return OfflineSageMaker(
        {
            "DescribeHyperParameterTuningJob": job["describe"],
            "ListTrainingJobsForHyperParameterTuningJob": job["list"],
        }
    )


def test_hyperparameter_tuner_attach_reads_ipinsights_tune_describe(sdk_job):
    offline = attach_session(sdk_job)
    name = sdk_job["request"]["HyperParameterTuningJobName"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # the SDK's image-to-class table lacks ipinsights: the notebook names the class, as with AWS
        cls = "sagemaker.amazon.ipinsights.IPInsights" if sdk_job["flavor"] == "ipinsights_class" else None
        tuner = HyperparameterTuner.attach(name, sagemaker_session=offline.session, estimator_cls=cls)
    assert offline.bodies("DescribeHyperParameterTuningJob") == [{"HyperParameterTuningJobName": name}]
    assert tuner.objective_metric_name == OBJECTIVE
    assert tuner.objective_type == "Maximize"
    assert tuner.max_jobs == 2
    assert tuner.max_parallel_jobs == 1
    assert tuner.strategy == "Bayesian"
    ranges = tuner.hyperparameter_ranges()
    sent = sdk_job["request"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    for kind in ("Continuous", "Integer", "Categorical"):
        key = f"{kind}ParameterRanges"
        assert sorted(ranges.get(key, []), key=lambda r: r["Name"]) == sorted(
            sent[key], key=lambda r: r["Name"]
        )
    estimator = tuner.estimator
    assert estimator.role == ROLE
    assert estimator.instance_type == "ml.m5.large"
    assert estimator.output_path == "s3://b/output"
    if sdk_job["flavor"] == "ipinsights_class":
        assert isinstance(estimator, sagemaker.IPInsights)
        assert (estimator.num_entity_vectors, estimator.vector_dim) == (100, 8)
    else:
        assert estimator.training_image_uri() == IMAGE
    assert tuner.latest_tuning_job.name == name


def test_tuning_job_analytics_dataframe_reads_ipinsights_tune_list(sdk_job):
    offline = attach_session(sdk_job)
    name = sdk_job["request"]["HyperParameterTuningJobName"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        analytics = HyperparameterTuningJobAnalytics(name, sagemaker_session=offline.session)
        frame = analytics.dataframe()
    summaries = sdk_job["list"]["TrainingJobSummaries"]
    assert len(frame) == len(summaries) == 2
    expected = {
        s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries
    }
    assert dict(zip(frame["TrainingJobName"], frame["FinalObjectiveValue"], strict=True)) == pytest.approx(
        expected
    )
    assert set(frame["TrainingJobStatus"]) == {"Completed"}
    assert "learning_rate" in frame.columns
    assert frame["TrainingElapsedTimeSeconds"].ge(0).all()
    assert analytics.tuning_ranges["learning_rate"]["MinValue"] == "0.005"
