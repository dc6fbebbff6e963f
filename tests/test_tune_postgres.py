"""One job, two workers in separate processes, a real PostgreSQL server: no duplicate, no loss."""

import json
from collections import Counter

import pytest
from postgres import postgres_server
from test_tune_job import document, start_cli

from ipinsights import ConfigError
from ipinsights.tune import TuningJob, describe_job, parse_job_config


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


def test_two_workers_share_one_job_without_duplicate_or_lost_trials(tmp_path, postgres_url):
    jobs = 6
    doc = document(
        "shared", jobs=jobs, parallel=2, static={"epochs": 3, "batch_metrics_publish_interval": 250}
    )
    doc["HyperParameterTuningJobName"] = f"shared-{tmp_path.name[-8:].strip('_-') or 'x'}".replace("_", "-")
    name = doc["HyperParameterTuningJobName"]
    job = TuningJob.create_or_resume(
        parse_job_config(doc), job_dir=tmp_path / "creator", storage_url=postgres_url
    )

    workers = [
        start_cli(
            "tune",
            "worker",
            "--job",
            name,
            "--storage",
            postgres_url,
            "--job-dir",
            str(tmp_path / f"host{i}"),
            "--max-parallel",
            "1",
            "--no-progress",
            "--no-plots",
        )
        for i in (1, 2)
    ]
    results = [w.communicate(timeout=240) for w in workers]
    for w, (_out, err) in zip(workers, results, strict=True):
        assert w.returncode == 0, err

    trained = job.training_jobs()
    final = [j for j in trained if j.final]
    assert sorted(j.index for j in final) == list(range(1, jobs + 1))  # each slot exactly once
    assert all(j.status == "Completed" for j in final)
    configurations = Counter(json.dumps(j.tuned, sort_keys=True) for j in final)
    assert max(configurations.values()) == 1
    assert len({j.worker for j in trained}) == 2  # both workers ran trials
    for j in final:  # each artifact is on the host (folder) of the worker that trained it
        assert j.model_dir.startswith(str(tmp_path / "host"))
    described = describe_job(TuningJob.open(name, storage_url=postgres_url))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == jobs
    assert described["IPInsights"]["TrainingJobsCounted"] == jobs


def test_a_missing_job_in_the_database_names_the_jobs_there(postgres_url):
    with pytest.raises(ConfigError, match="no tuning job 'nothing-here' in postgresql://"):
        TuningJob.open("nothing-here", storage_url=postgres_url)
