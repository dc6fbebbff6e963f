"""Tuning jobs end to end: parallel trial processes, strategies, seeds, early stopping,
completion, reports, warm start, and crash recovery (SIGKILL of a trial, of the whole job).

Most jobs train a stand-in (:func:`standin_fit`, a deterministic learning curve, milliseconds per
trial) so that the engine is tested quickly; one job trains the real model on a tiny CSV.
"""

import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipinsights import ConfigError, DataError
from ipinsights.tune import (
    TuningJob,
    describe_job,
    list_training_jobs,
    median_rule_stops,
    parse_job_config,
    run_job,
)
from ipinsights.tune._report import ANALYTICS_COLUMNS, write_analytics

TESTS = Path(__file__).resolve().parent
STANDIN = "test_tune_job:standin_fit"


def standin_fit(hp, *, seed, device, channels, input_format, callback, log, model_dir, max_bad_fraction, threads):
    """A stand-in trainer with the real one's contract.

    The objective peaks at learning_rate = 0.01 and vector_dim = 32 and rises with the epochs;
    ``batch_metrics_publish_interval`` (unused otherwise) is read as milliseconds of sleep per
    epoch, and ``weight_decay >= 5`` fails the way bad data does.
    """
    if hp.weight_decay >= 5:
        raise DataError("stand-in: every row is bad")
    quality = (
        0.97 - 0.05 * (math.log10(hp.learning_rate) + 2) ** 2 - 0.01 * abs(math.log2(hp.vector_dim / 32))
    )
    quality -= 0.002 * (hp.random_negative_sampling_rate + hp.shuffled_negative_sampling_rate)
    pause = 0 if hp.batch_metrics_publish_interval == 1000 else hp.batch_metrics_publish_interval / 1000
    history = []
    for epoch in range(1, hp.epochs + 1):
        time.sleep(pause)
        auc = 0.5 + (quality - 0.5) * (1 - 0.5**epoch)
        metrics = {
            "validation:discriminator_auc": auc,
            "validation:detection_auc": auc,
            "train:binary_classification_cross_entropy:epoch": 1 - auc,
        }
        print(
            f"#quality_metric: host=algo-1, epoch={epoch - 1}, validation discriminator_auc <score>={auc:.6f}",
            file=log,
        )
        history.append(metrics)
        if callback(epoch, metrics):
            break
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    (Path(model_dir) / "model.json").write_text(json.dumps(hp.to_dict()))
    return history


def document(name, *, strategy="Random", jobs=6, parallel=2, ranges=None, static=None, data=None, **config):
    ranges = ranges or {
        "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": 1e-4, "MaxValue": 1.0}],
        "IntegerParameterRanges": [{"Name": "vector_dim", "MinValue": 8, "MaxValue": 128}],
    }
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": ranges,
            "RandomSeed": 7,
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"num_entity_vectors": 100, "epochs": 3, **(static or {})},
            "InputDataConfig": data
            or {"train": str(TESTS / "conftest.py"), "validation": str(TESTS / "conftest.py")},
        },
    }


def create(tmp_path, doc):
    config = parse_job_config(doc)
    return TuningJob.create_or_resume(config, job_dir=tmp_path / "jobs" / config.name)


def run(tmp_path, doc, *, plots=False):
    job = create(tmp_path, doc)
    status = run_job(job, trainer=STANDIN, plots=plots)
    return job, status


def configurations(job):
    """Tuned hyperparameters of the finished training jobs, by budget slot."""
    final = [j for j in job.training_jobs() if j.final]
    return [json.dumps(j.tuned, sort_keys=True) for j in sorted(final, key=lambda j: j.index)]


# -- the command line, as a separate process -----------------------------------------------------

_CLI = "import sys; from ipinsights import cli; sys.exit(cli.main(sys.argv[1:]))"


def cli_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["IPINSIGHTS_TUNE_TRAINER"] = STANDIN
    return env


def start_cli(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-c", _CLI, *args],
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli(*args, env=None, timeout=120):
    proc = start_cli(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def write_job_file(tmp_path, doc):
    path = tmp_path / f"{doc['HyperParameterTuningJobName']}.json"
    path.write_text(json.dumps(doc))
    return path


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(Exception):
            value = predicate()
            if value:
                return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def open_job(tmp_path, name):
    return TuningJob.open(name, job_dir=tmp_path / "jobs" / name)


def running_pids(job):
    return [t.user_attrs["Pid"] for t in job.trials() if t.state.name == "RUNNING" and "Pid" in t.user_attrs]


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.slow  # a job of 8 to 12 trial processes
def test_a_job_runs_its_trials_two_at_a_time_and_reports_with_the_reference_names(tmp_path):
    job, status = run(
        tmp_path,
        document("par", jobs=6, parallel=2, static={"batch_metrics_publish_interval": 150}),
        plots=True,
    )
    assert status == "Completed"
    jobs = job.training_jobs()
    assert len(jobs) == 6 and {j.status for j in jobs} == {"Completed"}
    # Trials ran in separate processes, at most two at a time, and sometimes two at once.
    events = sorted([(j.start_time, 1) for j in jobs] + [(j.end_time, -1) for j in jobs])
    running, peak = 0, 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2
    assert len({t.user_attrs["Pid"] for t in job.trials()}) == 6

    described = describe_job(job)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 6,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    best = described["BestTrainingJob"]
    assert set(best) >= {
        "TrainingJobName",
        "TunedHyperParameters",
        "FinalHyperParameterTuningJobObjectiveMetric",
        "TrainingJobStatus",
        "TrainingStartTime",
        "TrainingEndTime",
        "TrainingJobArn",
        "IPInsights",
    }
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:detection_auc"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(j.value for j in jobs)
    assert Path(best["IPInsights"]["ModelDir"], "model.json").is_file()
    assert best["TrainingJobName"].startswith("par-") and set(best["TunedHyperParameters"]) == {
        "learning_rate",
        "vector_dim",
    }
    assert described["ConsumedResources"]["RuntimeInSeconds"] >= 0
    assert described["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] >= 0
    for j in jobs:
        assert Path(j.log).is_file() and "discriminator_auc" in Path(j.log).read_text()
        assert Path(j.log).parent.name == j.name and Path(j.log).parent.parent.name == "trials"

    listed = list_training_jobs(job, sort_by="FinalObjectiveMetricValue", sort_order="Descending")[
        "TrainingJobSummaries"
    ]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in listed]
    assert values == sorted(values, reverse=True) and listed[0]["TrainingJobName"] == best["TrainingJobName"]
    assert list_training_jobs(job, status=["Failed"])["TrainingJobSummaries"] == []
    with pytest.raises(
        ConfigError, match="--sort-by must be one of Name, CreationTime, Status, FinalObjectiveMetricValue"
    ):
        list_training_jobs(job, sort_by="Value")

    out = io.StringIO()
    write_analytics(job, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == ["vector_dim", "learning_rate", *ANALYTICS_COLUMNS]
    assert len(rows) == 6 and all(float(r["TrainingElapsedTimeSeconds"]) > 0 for r in rows)
    folder = tmp_path / "jobs" / "par"
    for name in ("analytics.csv", "describe.json", "job.json", "journal.log"):
        assert (folder / name).is_file()
    for plot in ("optimization_history.png", "param_importances.png", "learning_curves.png"):
        assert (folder / "plots" / plot).stat().st_size > 1000


@pytest.mark.slow  # four jobs of trial processes
@pytest.mark.parametrize(
    ("strategy", "parallel", "extra"),
    [
        ("Random", 2, {}),
        ("Bayesian", 1, {}),
        (
            "Hyperband",
            1,
            {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 4}}},
        ),
        ("Grid", 2, {}),
    ],
)
def test_the_same_random_seed_gives_the_same_configurations(tmp_path, strategy, parallel, extra):
    ranges = None
    if strategy == "Grid":
        ranges = {
            "CategoricalParameterRanges": [
                {"Name": "vector_dim", "Values": ["8", "16"]},
                {"Name": "learning_rate", "Values": ["0.01", "0.1"]},
            ]
        }
    jobs = 4 if strategy == "Grid" else 5
    first, _ = run(
        tmp_path / "a",
        document("seeded", strategy=strategy, jobs=jobs, parallel=parallel, ranges=ranges, **extra),
    )
    again, _ = run(
        tmp_path / "b",
        document("seeded", strategy=strategy, jobs=jobs, parallel=parallel, ranges=ranges, **extra),
    )
    assert configurations(first) == configurations(again)
    assert len(set(configurations(first))) == len(configurations(first))  # no configuration twice
    if strategy == "Random":
        other_doc = document("seeded", strategy=strategy, jobs=jobs, parallel=parallel, **extra)
        other_doc["HyperParameterTuningJobConfig"]["RandomSeed"] = 8
        other, _ = run(tmp_path / "c", other_doc)
        assert configurations(other) != configurations(first)


@pytest.mark.slow  # a job of 8 to 12 trial processes
def test_early_stopping_auto_stops_trials_by_the_median_rule_and_saves_epochs(tmp_path):
    job, status = run(
        tmp_path,
        document("median", jobs=10, parallel=1, static={"epochs": 6}, TrainingJobEarlyStoppingType="Auto"),
    )
    assert status == "Completed"
    jobs = sorted(job.training_jobs(), key=lambda j: j.number)
    stopped = [j for j in jobs if j.status == "Stopped"]
    assert stopped and all(j.stopped_by == "EarlyStopping" and j.epochs < 6 for j in stopped)
    assert sum(j.epochs for j in jobs) < 10 * 6
    for j in stopped:  # each was worse than the median of earlier running averages at its last epoch
        earlier = [e.curve for e in jobs if e.number < j.number]
        assert median_rule_stops(j.curve[j.epochs], j.epochs, earlier, maximize=True)
    assert describe_job(job)["ObjectiveStatusCounters"]["Succeeded"] == 10


@pytest.mark.slow  # a job of 8 to 12 trial processes
def test_hyperband_gives_fewer_epochs_to_weak_trials(tmp_path):
    extra = {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}}
    job, status = run(tmp_path, document("band", strategy="Hyperband", jobs=12, parallel=2, **extra))
    assert status == "Completed"
    jobs = job.training_jobs()
    assert {j.hyperparameters["epochs"] for j in jobs} == {9}
    stopped = [j for j in jobs if j.status == "Stopped"]
    assert stopped and all(j.stopped_by == "Hyperband" for j in stopped)
    assert sum(j.epochs for j in jobs) < 12 * 9


def test_a_target_objective_ends_the_job_early(tmp_path):
    doc = document(
        "target", jobs=20, parallel=1, TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5}
    )
    job, status = run(tmp_path, doc)
    assert status == "Completed"
    described = describe_job(job)
    assert described["IPInsights"]["StatusReason"] == "TargetObjectiveMetricValue 0.5 reached"
    assert described["TrainingJobStatusCounters"]["Completed"] == 1


def test_r_equal_s_equal_zero_draws_are_rejected_and_drawn_again(tmp_path):
    ranges = {
        "IntegerParameterRanges": [{"Name": "random_negative_sampling_rate", "MinValue": 0, "MaxValue": 1}]
    }
    static = {"vector_dim": 8, "shuffled_negative_sampling_rate": 0}
    job, status = run(tmp_path, document("zero", jobs=6, parallel=2, ranges=ranges, static=static))
    assert status == "Completed"
    jobs = job.training_jobs()
    assert len(jobs) == 6 and all(j.tuned["random_negative_sampling_rate"] == 1 for j in jobs)
    rejected = [t for t in job.trials() if "Rejected" in t.user_attrs]
    assert rejected and all(t.params["random_negative_sampling_rate"] == 0 for t in rejected)
    assert describe_job(job)["IPInsights"]["RejectedDraws"] == len(rejected)
    assert sorted(j.index for j in jobs) == list(range(1, 7))


def test_the_recommended_ranges_are_tuned_when_none_are_given(tmp_path):
    doc = document("defaults", jobs=3, parallel=1)
    del doc["HyperParameterTuningJobConfig"]["ParameterRanges"]
    job, status = run(tmp_path, doc)
    assert status == "Completed"
    assert (
        set(job.training_jobs()[0].tuned) == set(job.config.tuned_names) and len(job.config.tuned_names) == 7
    )
    assert describe_job(job)["IPInsights"]["ScalingTypes"]["learning_rate"] == "Logarithmic"


def test_a_job_whose_first_training_jobs_all_fail_fails_with_their_reason(tmp_path):
    job, status = run(tmp_path, document("broken", jobs=10, parallel=1, static={"weight_decay": 5}))
    assert status == "Failed"
    described = describe_job(job)
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 3
    assert "stand-in: every row is bad" in described["FailureReason"]


def test_running_a_job_again_with_another_configuration_is_refused(tmp_path):
    run(tmp_path, document("same", jobs=2, parallel=1))
    with pytest.raises(
        ConfigError,
        match=r"tuning job 'same' already exists with another configuration \(HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs: stored 2, now 3\)",
    ):
        create(tmp_path, document("same", jobs=3, parallel=1))
    again = create(tmp_path, document("same", jobs=2, parallel=1))
    assert again.status() == "Completed"


@pytest.mark.slow  # a job of 8 to 12 trial processes
def test_warm_start_seeds_the_search_with_the_parents_training_jobs(tmp_path):
    _parent, _ = run(tmp_path, document("parent", jobs=4, parallel=2))
    ws = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    os.environ["IPINSIGHTS_TUNING_DIR"] = str(tmp_path / "jobs")
    try:
        child_doc = {**document("child", strategy="Bayesian", jobs=3, parallel=1), "WarmStartConfig": ws}
        child, status = run(tmp_path, child_doc)
        other_data = {"train": str(TESTS / "test_tune_job.py"), "validation": str(TESTS / "conftest.py")}
        with pytest.raises(
            ConfigError,
            match="parent 'parent' was trained on other train data; IdenticalDataAndAlgorithm needs the same files",
        ):
            create(
                tmp_path,
                {**document("child2", strategy="Bayesian", jobs=3, data=other_data), "WarmStartConfig": ws},
            )
        transfer = {**ws, "WarmStartType": "TransferLearning"}
        create(
            tmp_path,
            {**document("child3", strategy="Bayesian", jobs=3, data=other_data), "WarmStartConfig": transfer},
        )
    finally:
        del os.environ["IPINSIGHTS_TUNING_DIR"]
    assert status == "Completed"
    imported = [t for t in child.trials() if "WarmStartFrom" in t.user_attrs]
    assert len(imported) == 4 and all(
        t.user_attrs["WarmStartFrom"].startswith("parent/parent-") for t in imported
    )
    described = describe_job(child)
    assert described["IPInsights"]["WarmStartTrainingJobs"] == 4
    assert described["IPInsights"]["TrainingJobsCounted"] == 3 and len(child.training_jobs()) == 3


# -- crash recovery and control, through the command line ----------------------------------------


def test_a_killed_trial_process_is_run_again_and_the_job_completes_its_full_count(tmp_path):
    doc = document(
        "killtrial", jobs=5, parallel=2, static={"epochs": 6, "batch_metrics_publish_interval": 400}
    )
    proc = start_cli(
        "tune",
        "--config",
        str(write_job_file(tmp_path, doc)),
        "--job-dir",
        str(tmp_path / "jobs" / "killtrial"),
        "--no-progress",
        "--no-plots",
    )
    try:
        job = wait_for(lambda: open_job(tmp_path, "killtrial"), what="the job")
        pid = wait_for(lambda: running_pids(job) and running_pids(job)[0], what="a running trial")
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    jobs = job.training_jobs()
    counters = describe_job(job)["TrainingJobStatusCounters"]
    assert counters["Completed"] == 5 and counters["RetryableError"] == 1
    killed = next(j for j in jobs if j.failure_kind == "RetryableError")
    assert killed.failure_reason == "the trial process was killed by SIGKILL"
    retry = [t for t in job.trials() if t.user_attrs.get("RetryOf") == killed.name]
    assert len(retry) == 1 and retry[0].params == next(
        t.params for t in job.trials() if t.number == killed.number
    )
    assert sorted(j.index for j in jobs if j.final) == [1, 2, 3, 4, 5]
    assert "Failed (RetryableError: the trial process was killed by SIGKILL); queued again" in err


def test_a_killed_job_resumes_when_the_same_command_runs_again(tmp_path):
    doc = document("killjob", jobs=6, parallel=2, static={"epochs": 5, "batch_metrics_publish_interval": 300})
    command = (
        "tune",
        "--config",
        str(write_job_file(tmp_path, doc)),
        "--job-dir",
        str(tmp_path / "jobs" / "killjob"),
        "--no-progress",
        "--no-plots",
    )
    proc = start_cli(*command)
    try:
        job = wait_for(lambda: open_job(tmp_path, "killjob"), what="the job")
        wait_for(
            lambda: (
                sum(j.status == "Completed" for j in job.training_jobs()) >= 2 and len(running_pids(job)) == 2
            ),
            what="2 done, 2 running",
        )
        orphans = running_pids(job)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    # The trial processes die with their worker.
    wait_for(
        lambda: (
            not any(
                Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                for pid in orphans
            )
        ),
        timeout=30,
        what="orphans to die",
    )
    before = {j.name: j.end_time for j in job.training_jobs() if j.status == "Completed"}
    assert 2 <= len(before) < 6

    code, _out, err = cli(*command)
    assert code == 0, err
    jobs = job.training_jobs()
    described = describe_job(job)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["IPInsights"]["TrainingJobsCounted"] == 6
    assert described["TrainingJobStatusCounters"]["Completed"] == 6
    assert described["TrainingJobStatusCounters"]["RetryableError"] >= 1  # the cut-off trials, run again
    assert sorted(j.index for j in jobs if j.final) == [1, 2, 3, 4, 5, 6]
    after = {j.name: j.end_time for j in jobs if j.status == "Completed"}
    assert all(after[name] == end for name, end in before.items())  # finished trials were kept


def test_stop_stops_the_running_trials_and_starts_no_more(tmp_path):
    doc = document("stopme", jobs=6, parallel=2, static={"epochs": 50, "batch_metrics_publish_interval": 200})
    proc = start_cli(
        "tune",
        "--config",
        str(write_job_file(tmp_path, doc)),
        "--job-dir",
        str(tmp_path / "jobs" / "stopme"),
        "--no-progress",
        "--no-plots",
    )
    try:
        job = wait_for(lambda: open_job(tmp_path, "stopme"), what="the job")
        wait_for(lambda: len(running_pids(job)) == 2, what="2 running trials")
        code, out, _err = cli("tune", "stop", "stopme", "--job-dir", str(tmp_path / "jobs" / "stopme"))
        assert code == 0 and json.loads(out)["HyperParameterTuningJobStatus"] == "Stopping"
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    described = describe_job(job)
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    assert described["TrainingJobStatusCounters"]["Completed"] == 0
    listed = list_training_jobs(job, status=["Stopped"])["TrainingJobSummaries"]
    assert {s["IPInsights"]["StoppedBy"] for s in listed} == {"StopHyperParameterTuningJob"}


def test_an_invalid_job_file_is_rejected_in_one_line_before_any_trial(tmp_path):
    doc = document("bad")
    doc["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"].append(
        {"Name": "weight_decay", "MinValue": 0, "MaxValue": 1, "ScalingType": "Logarithmic"}
    )
    code, _out, err = cli(
        "tune", "--config", str(write_job_file(tmp_path, doc)), "--job-dir", str(tmp_path / "jobs" / "bad")
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "ipinsights: error: HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[1] (weight_decay): "
        "ScalingType Logarithmic needs MinValue > 0, got MinValue 0.0; raise MinValue or use Linear"
    ]
    assert not (tmp_path / "jobs" / "bad").exists()


def test_a_real_job_trains_models_that_ipinsights_predict_scores(tmp_path):
    from conftest import make_logins, write_csv

    train = write_csv(tmp_path / "train.csv", make_logins(30, 12, seed=1))
    validation = write_csv(tmp_path / "validation.csv", make_logins(30, 4, seed=2))
    doc = document(
        "real",
        strategy="Bayesian",
        jobs=2,
        parallel=2,
        TrainingJobEarlyStoppingType="Auto",
        ranges={
            "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": 0.005, "MaxValue": 0.05}]
        },
        static={"vector_dim": 8, "epochs": 2, "mini_batch_size": 64},
        data={"train": str(train), "validation": str(validation)},
    )
    env = cli_env()
    del env["IPINSIGHTS_TUNE_TRAINER"]
    code, _out, err = cli(
        "tune",
        "--config",
        str(write_job_file(tmp_path, doc)),
        "--job-dir",
        str(tmp_path / "jobs" / "real"),
        "--no-progress",
        "--no-plots",
        env=env,
        timeout=300,
    )
    assert code == 0, err
    described = json.loads(
        cli("tune", "describe", "real", "--job-dir", str(tmp_path / "jobs" / "real"), env=env)[1]
    )
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    best = described["BestTrainingJob"]
    assert 0.5 < best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 1.0
    log = Path(best["IPInsights"]["TrainingLog"]).read_text()
    assert "#quality_metric: host=algo-1, epoch=1, validation discriminator_auc <score>=" in log
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user_1,10.0.0.1\nuser_2,11.13.4.5\n")
    from ipinsights.cli import main

    assert (
        main(
            [
                "predict",
                "--model-dir",
                best["IPInsights"]["ModelDir"],
                "--input",
                str(pairs),
                "--output",
                str(tmp_path / "scores.jsonl"),
            ]
        )
        == 0
    )
    assert len((tmp_path / "scores.jsonl").read_text().splitlines()) == 2


def tune_command(*argv):
    """``ipinsights tune ...`` parsed and run in this process (for the read-only actions)."""
    from ipinsights.cli import build_parser

    args = build_parser().parse_args(["tune", *argv])
    return args.run(args)


def test_describe_list_and_analytics_print_the_reference_documents(tmp_path, capsys):
    job, _ = run(tmp_path, document("show", jobs=3, parallel=1))
    folder = str(tmp_path / "jobs" / "show")
    assert tune_command("describe", folder) == 0  # a job folder works as the name
    described = json.loads(capsys.readouterr().out)
    assert described["HyperParameterTuningJobName"] == "show"
    assert (
        described["BestTrainingJob"]["TrainingJobName"]
        == describe_job(job)["BestTrainingJob"]["TrainingJobName"]
    )
    assert tune_command("list", "show", "--job-dir", folder, "--sort-by", "Name", "--max-results", "2") == 0
    names = [s["TrainingJobName"] for s in json.loads(capsys.readouterr().out)["TrainingJobSummaries"]]
    assert names == sorted(names) and len(names) == 2
    assert tune_command("analytics", "show", "--job-dir", folder) == 0
    assert capsys.readouterr().out.splitlines()[0] == "vector_dim,learning_rate," + ",".join(
        ANALYTICS_COLUMNS
    )
    with pytest.raises(ConfigError, match=r"no tuning job 'absent': .* does not exist"):
        tune_command("describe", "absent", "--job-dir", str(tmp_path / "nowhere"))


def test_the_progress_display_shows_counts_best_and_time_left(tmp_path):
    from rich.console import Console

    from ipinsights.tune._report import Progress

    job, _ = run(tmp_path, document("prog", jobs=3, parallel=1))
    console = Console(file=io.StringIO(), width=200)
    console.print(Progress(io.StringIO(), live=False).render(job, job.training_jobs()))
    text = console.file.getvalue()
    assert "3/3 done: 3 completed, 0 stopped, 0 failed; 0 running" in text
    assert "validation:detection_auc = " in text and "learning_rate=" in text
    lines = io.StringIO()
    Progress(lines, live=False).event("prog-001-x: Completed, objective 0.9")
    assert lines.getvalue().rstrip().endswith("] prog-001-x: Completed, objective 0.9")


def test_consumed_runtime_counts_overlapping_worker_sessions_once():
    from ipinsights.tune._storage import WorkerInfo, consumed_seconds

    def session(start, stop):
        return WorkerInfo("w", "elsewhere", "", 1, None, start, stop, stopped=stop)

    sessions = {"a": session(0, 10), "b": session(5, 12), "c": session(20, 25)}
    assert consumed_seconds(sessions, now=100) == 17


def _sshd_auth_log(path, logins, seed):
    """``make_logins``' pairs as OpenSSH "Accepted" lines, each followed by a line without a login."""
    from conftest import make_logins

    lines = []
    for i, (user, ip) in enumerate(make_logins(*logins, seed=seed)):
        stamp = f"Mar  3 10:{i // 60 % 60:02d}:{i % 60:02d} bastion sshd[{1000 + i}]"
        lines.append(f"{stamp}: Accepted publickey for {user} from {ip} port {40000 + i} ssh2")
        lines.append(f"{stamp}: pam_unix(sshd:session): session opened for user {user}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_trials_trainer_reads_the_channels_in_the_jobs_input_format(tmp_path):
    from ipinsights import HyperParameters, IPInsights
    from ipinsights.tune._trial import fit_ipinsights
    from ipinsights.tune._types import InputFormat

    channels = {
        "train": str(_sshd_auth_log(tmp_path / "auth.log", (20, 10), seed=1)),
        "validation": str(_sshd_auth_log(tmp_path / "auth-validation.log", (20, 3), seed=2)),
    }
    log = io.StringIO()
    hp = HyperParameters(num_entity_vectors=40, vector_dim=8, epochs=1, mini_batch_size=50)
    history = fit_ipinsights(
        hp,
        seed=0,
        device="cpu",
        channels=channels,
        input_format=InputFormat("sshd"),
        callback=lambda epoch, metrics: None,
        log=log,
        model_dir=tmp_path / "model",
        max_bad_fraction=0.01,
        threads=1,
    )
    assert len(history) == 1 and 0.0 <= history[0]["validation:discriminator_auc"] <= 1.0
    model = IPInsights.load(tmp_path / "model")
    assert model.known_entities(["user_3", "nobody"]).tolist() == [True, False]  # 200 logins, 200 lines skipped
    with pytest.raises(DataError, match="none of the 400 logins read as jsonl is a valid entity,ip pair"):
        fit_ipinsights(
            hp,
            seed=0,
            device="cpu",
            channels={"train": channels["train"]},
            input_format=InputFormat("jsonl"),
            callback=lambda epoch, metrics: None,
            log=log,
            model_dir=tmp_path / "model-2",
            max_bad_fraction=0.01,
            threads=1,
        )


@pytest.mark.slow
def test_a_real_job_on_sshd_logs_takes_format_from_the_command_line(tmp_path):
    train = _sshd_auth_log(tmp_path / "auth.log", (30, 12), seed=1)
    validation = _sshd_auth_log(tmp_path / "auth-validation.log", (30, 4), seed=2)
    doc = document(
        "sshd-logs",
        jobs=1,
        parallel=1,
        ranges={"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": 0.005, "MaxValue": 0.05}]},
        static={"vector_dim": 8, "epochs": 2, "mini_batch_size": 64},
        data={"train": str(train), "validation": str(validation)},
    )
    env = cli_env()
    del env["IPINSIGHTS_TUNE_TRAINER"]
    job_dir = tmp_path / "jobs" / "sshd-logs"
    code, _out, err = cli(
        "tune", "--config", str(write_job_file(tmp_path, doc)), "--job-dir", str(job_dir),
        "--format", "sshd", "--no-progress", "--no-plots", env=env, timeout=300,
    )  # fmt: skip
    assert code == 0, err
    described = json.loads(cli("tune", "describe", "sshd-logs", "--job-dir", str(job_dir), env=env)[1])
    assert described["TrainingJobStatusCounters"]["Completed"] == 1, described
    assert described["IPInsights"]["TrainingJobDefinition"]["InputFormat"] == {"InputFormat": "sshd"}
    assert json.loads((job_dir / "job.json").read_text())["TrainingJobDefinition"]["InputFormat"] == "sshd"


def test_storage_attributes_are_read_through_typed_views_with_the_reference_defaults():
    from ipinsights.tune._attributes import JobAttributes, JobKey, TrialAttributes, TrialKey
    from ipinsights.tune._types import FailureKind, JobStatus, StoppedBy

    assert JobAttributes({}).status is JobStatus.IN_PROGRESS and not JobAttributes({}).initialized
    stopping = JobAttributes({JobKey.STATUS: "InProgress", JobKey.STOP_REQUESTED: "2026-12-01T00:00:00"})
    assert stopping.status is JobStatus.STOPPING and stopping.stored_status is JobStatus.IN_PROGRESS
    assert JobAttributes({JobKey.STATUS: "Completed"}).status.ended
    trial = TrialAttributes(
        {TrialKey.TRAINING_JOB_NAME: "j-001-ab", TrialKey.FAILURE_KIND: "RetryableError", TrialKey.STOPPED_BY: "Hyperband"}
    )
    assert (trial.attempt, trial.draw, trial.index) == (1, 1, None)
    assert trial.failure_kind is FailureKind.RETRYABLE and trial.stopped_by is StoppedBy.HYPERBAND
    assert trial.is_training_job
    assert not TrialAttributes({TrialKey.TRAINING_JOB_NAME: "j-001-ab", TrialKey.REJECTED: "R + S = 0"}).is_training_job
    assert TrialAttributes({TrialKey.STOPPED_BY: "TargetObjectiveMetricValue reached"}).stopped_by == (
        "TargetObjectiveMetricValue reached"  # a completion criterion stopped the job's trials
    )
