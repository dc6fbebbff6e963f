"""One job, two workers in separate processes, a real PostgreSQL server: no duplicate, no loss."""

import json
from collections import Counter

import pytest
from postgres import postgres_server
from test_tune_job import cli, document, start_cli

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


def test_hardening_6_the_database_password_is_never_written_or_printed(tmp_path, postgres_url):
    # Trust authentication ignores the password, so a made-up one shows where it would leak.
    secret_url = postgres_url.replace("postgres@", "postgres:s3cr3tPW@", 1)
    doc = document("pw", jobs=2, parallel=1)
    doc["HyperParameterTuningJobName"] = f"pw-{tmp_path.name[-8:].strip('_-') or 'x'}".replace("_", "-")
    folder = tmp_path / "pwjob"
    path = tmp_path / "pw.json"
    path.write_text(json.dumps(doc))
    code, out, err = cli(
        "tune", "--config", str(path), "--storage", secret_url, "--job-dir", str(folder), "--no-plots"
    )
    assert code == 0, err
    code, described, err = cli("tune", "describe", str(folder))  # found through job.json, no password
    assert code == 0, err
    assert json.loads(described)["IPInsights"]["Storage"] == postgres_url  # as it connected
    assert json.loads((folder / "job.json").read_text())["Storage"] == secret_url.replace("s3cr3tPW", "***")
    assert "s3cr3tPW" not in out + err + described
    for written in folder.rglob("*"):
        if written.is_file():
            assert b"s3cr3tPW" not in written.read_bytes(), written
    for name in ("job.json", "describe.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
