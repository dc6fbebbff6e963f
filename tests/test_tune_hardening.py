"""Tuning jobs against an unlucky operator and a hostile job file (issue 10, items 3, 5, 6, 8):
a full disk, a torn journal record, a YAML alias bomb, a password in a storage URL, deeply
nested and binary job files.

The full-disk test mounts a small tmpfs (root only; skipped elsewhere); a second test makes the
stand-in trainer raise ENOSPC, so that the same path is covered without root.
"""

import contextlib
import errno
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_tune_job import cli, cli_env, document, standin_fit, start_cli, wait_for, write_job_file

from ipinsights import ConfigError
from ipinsights.tune import TuningJob, describe_job, parse_job_config
from ipinsights.tune._load import load_job_config
from ipinsights.tune._storage import connect_url, open_storage, redact_url

#: Set by the tests below for the stand-in trainer of the trial processes (see full_disk_fit).
FULL_DISK_FLAG = "IPINSIGHTS_TEST_FULL_DISK_FLAG"


def full_disk_fit(hp, **kwargs):
    """The stand-in trainer, raising ENOSPC while the file named by ``$FULL_DISK_FLAG`` exists."""
    flag = os.environ.get(FULL_DISK_FLAG)
    if flag and Path(flag).exists():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(kwargs["model_dir"]))
    return standin_fit(hp, **kwargs)


def tune_args(tmp_path, doc, job_dir):
    return (
        "tune",
        "--config",
        str(write_job_file(tmp_path, doc)),
        "--job-dir",
        str(job_dir),
        "--no-progress",
        "--no-plots",
    )


def counters(job_dir):
    code, out, err = cli("tune", "describe", str(job_dir))
    assert code == 0, err
    return json.loads(out)


# -- item 3: a full disk and torn journal records ---------------------------------------------


def test_hardening_3_a_torn_last_journal_record_is_moved_aside_and_the_job_resumes_to_its_budget(tmp_path):
    job_dir = tmp_path / "jobs" / "torn"
    doc = document("torn", jobs=4, parallel=2)
    TuningJob.create_or_resume(parse_job_config(doc), job_dir=job_dir)
    journal = job_dir / "journal.log"
    fragment = b'{"op_code":5,"worker_id":"cut-short","trial_id":0,"user_attr":{"Hyper'
    with open(journal, "ab") as f:  # what a write cut short by a full disk or a kill leaves
        f.write(fragment)
    intact = journal.stat().st_size - len(fragment)

    code, out, err = cli("tune", "describe", str(job_dir))  # opening the journal repairs it
    assert code == 0 and json.loads(out)["HyperParameterTuningJobStatus"] == "InProgress", err
    backups = list(job_dir.glob("journal.log.torn-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == fragment
    assert err.strip().splitlines() == [
        f"ipinsights tune: {journal.resolve()} ended in a torn record ({len(fragment)} bytes, from a write cut "
        f"short by a full disk or a kill); moved them to {backups[0].name} and truncated the journal to "
        f"{intact} bytes"
    ]
    assert journal.stat().st_size == intact
    code, _out, err = cli(*tune_args(tmp_path, doc, job_dir))
    assert code == 0, err
    assert journal.read_bytes()[intact - 1 : intact + 1] == b"\n{"  # new records start on a new line
    described = counters(job_dir)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["IPInsights"]["TrainingJobsCounted"] == 4
    assert described["TrainingJobStatusCounters"]["Completed"] == 4


def test_hardening_3_a_record_torn_by_another_process_is_cut_off_before_the_next_write(tmp_path):
    path = tmp_path / "journal.log"
    storage = open_storage(str(path))  # a worker, running
    study_id = storage.create_new_study([], "s")
    with open(path, "ab") as f:  # a trial process of that worker died mid-write
        f.write(b'{"op_code":3,"worker_id":"x","study_id":0,"user_a')
    storage.set_study_user_attr(study_id, "after", 1)  # the worker writes on
    assert open_storage(str(path)).get_study_user_attrs(study_id) == {"after": 1}
    assert all(json.loads(line) for line in path.read_bytes().splitlines())
    assert len(list(tmp_path.glob("journal.log.torn-*"))) == 1


def test_hardening_3_an_undecodable_last_line_is_moved_aside_when_the_journal_is_opened(tmp_path, capsys):
    path = tmp_path / "journal.log"
    storage = open_storage(str(path))
    storage.create_new_study([], "s")
    good = path.read_bytes()
    with open(path, "ab") as f:  # a power cut can leave zeros where the last record was
        f.write(b"\0" * 300 + b"\n")
    open_storage(str(path)).create_new_study([], "t")
    assert path.read_bytes().startswith(good)
    assert [s.study_name for s in open_storage(str(path)).get_all_studies()] == ["s", "t"]
    assert "ended in a torn record (301 bytes" in capsys.readouterr().err


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return result.returncode == 0


def _fill(where: Path) -> Path:
    filler = where / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def _one_done_one_running(job) -> bool:
    statuses = [j.status for j in job.training_jobs()]
    return statuses.count("Completed") >= 1 and "InProgress" in statuses


def test_hardening_3_a_full_disk_stops_the_job_without_spending_budget_and_it_resumes_to_exactly_its_budget(
    tmp_path,
):
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "8m"):
        pytest.skip("needs root and mount -t tmpfs (the ENOSPC stand-in test covers the same path)")
    try:
        job_dir = small / "diskjob"
        doc = document(
            "diskjob", jobs=6, parallel=2, static={"epochs": 20, "batch_metrics_publish_interval": 100}
        )
        command = tune_args(tmp_path, doc, job_dir)
        proc = start_cli(*command)
        try:
            job = wait_for(lambda: TuningJob.open("diskjob", job_dir=job_dir), what="the job")
            # Fill the disk while a trial runs (one done, another in progress), so that one is
            # interrupted: between trials nothing is, and no RetryableError would be recorded.
            wait_for(lambda: _one_done_one_running(job), what="1 done and 1 running")
            filler = _fill(small)
            _out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 2, err
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith("ipinsights: error: the disk of tuning job diskjob is full")
        )
        assert "Traceback" not in err
        described = counters(job_dir)  # describe works on the full disk
        assert described["HyperParameterTuningJobStatus"] == "InProgress"
        assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 0
        assert described["IPInsights"]["TrainingJobsCounted"] < 6

        filler.unlink()
        code, _out, err = cli(*command)
        assert code == 0, err
        described = counters(job_dir)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        assert described["IPInsights"]["TrainingJobsCounted"] == 6
        assert described["TrainingJobStatusCounters"]["Completed"] == 6
        assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 0
        assert described["TrainingJobStatusCounters"]["RetryableError"] >= 1
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_hardening_3_a_trial_that_hits_enospc_is_queued_again_and_not_counted(tmp_path):
    job_dir = tmp_path / "jobs" / "nospace"
    flag = tmp_path / "disk-is-full"
    env = {
        **cli_env(),
        "IPINSIGHTS_TUNE_TRAINER": "test_tune_hardening:full_disk_fit",
        FULL_DISK_FLAG: str(flag),
    }
    doc = document("nospace", jobs=4, parallel=2)
    command = tune_args(tmp_path, doc, job_dir)
    flag.touch()
    code, _out, err = cli(*command, env=env)
    assert code == 2, err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("ipinsights: error: the disk of tuning job nospace is full (nospace-00")
    )
    job = TuningJob.open("nospace", job_dir=job_dir)
    failed = [j for j in job.training_jobs() if j.status == "Failed"]
    assert failed and {j.failure_kind for j in failed} == {"RetryableError"}
    assert all(j.attempt == 1 for j in job.training_jobs())  # no attempt spent either
    assert describe_job(job)["HyperParameterTuningJobStatus"] == "InProgress"
    assert describe_job(job)["IPInsights"]["TrainingJobsCounted"] == 0

    flag.unlink()
    code, _out, err = cli(*command, env=env)
    assert code == 0, err
    described = describe_job(TuningJob.open("nospace", job_dir=job_dir))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["IPInsights"]["TrainingJobsCounted"] == 4
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 0


# -- item 5: a YAML alias bomb -----------------------------------------------------------------


def _alias_bomb(levels: int) -> str:
    names = "abcdefghij"[:levels]
    items = ["&a [x,x,x,x,x,x,x,x,x]"] + [
        f"&{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in itertools.pairwise(names)
    ]
    return f"HyperParameterTuningJobName: [{', '.join(items)}]\n"


def test_hardening_5_a_yaml_alias_bomb_is_refused_in_one_short_line(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb(7))  # 9**7 = 4.8 million values in 600 bytes
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_job_config(bomb)
    assert time.monotonic() - started < 2
    assert str(caught.value) == (
        f"--config {bomb}: more than 100000 values once its YAML aliases (*name) are expanded; "
        "a job file needs far fewer: write the values out"
    )
    selfish = tmp_path / "selfish.yaml"
    selfish.write_text("HyperParameterTuningJobName: &a [*a]\n")
    with pytest.raises(ConfigError, match="once its YAML aliases"):
        load_job_config(selfish)


def test_hardening_5_a_large_value_is_shown_in_at_most_80_characters(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"HyperParameterTuningJobName": ["x" * 1000] * 5000}))
    with pytest.raises(ConfigError) as caught:
        load_job_config(big)
    message = str(caught.value)
    assert message.startswith("HyperParameterTuningJobName must be 1 to 32 letters")
    assert len(message.split(", got ", 1)[1]) <= 80


def test_hardening_5_aliases_within_the_bound_still_work(tmp_path):
    doc = document("anchors")
    text = (
        json.dumps(doc)
        .replace('"train": ', '"train": &data ')
        .replace(
            '"validation": "' + doc["TrainingJobDefinition"]["InputDataConfig"]["validation"] + '"',
            '"validation": *data',
        )
    )
    path = tmp_path / "anchors.yaml"
    path.write_text(text)
    config = load_job_config(path)
    assert config.channels["train"] == config.channels["validation"]


# -- item 6: the storage password ---------------------------------------------------------------


def test_hardening_6_a_password_in_a_storage_url_is_redacted_and_job_files_are_private(tmp_path):
    assert redact_url("postgresql://tuner:s3cr3tPW@db:5432/tuning") == "postgresql://tuner:***@db:5432/tuning"
    assert redact_url("postgresql://tuner@db/tuning") == "postgresql://tuner@db/tuning"
    assert (
        redact_url("postgresql://db/tuning?user=t&password=s3cr3tPW")
        == "postgresql://db/tuning?user=t&password=***"
    )
    assert connect_url("postgresql://tuner:***@db/tuning") == "postgresql://tuner@db/tuning"
    assert connect_url("/jobs/x/journal.log") == "/jobs/x/journal.log"

    job = TuningJob.create_or_resume(parse_job_config(document("secret")), job_dir=tmp_path / "secret")
    job.storage_url = "postgresql://tuner:s3cr3tPW@db:5432/tuning"  # as if created with --storage
    job._write_job_file()
    from ipinsights.tune._report import write_outputs

    write_outputs(job, plots=False)
    for name in ("job.json", "describe.json"):
        path = tmp_path / "secret" / name
        assert "s3cr3tPW" not in path.read_text()
        assert (
            json.loads(path.read_text())["IPInsights" if name == "describe.json" else "Storage"] is not None
        )
        assert path.stat().st_mode & 0o777 == 0o600
    assert describe_job(job)["IPInsights"]["Storage"] == "postgresql://tuner:***@db:5432/tuning"


# -- item 8: deeply nested and binary job files -----------------------------------------------


@pytest.mark.parametrize(
    "name, content, rule",
    [
        (
            "deep.json",
            '{"a":' * 100_000,
            "nested too deeply (a job file has at most 64 levels of mappings and lists)",
        ),
        (
            "deep.yaml",
            "a: " + "[" * 100_000 + "]" * 100_000,
            "nested too deeply (a job file has at most 64 levels",
        ),
        ("deep2.json", "[" * 70 + "]" * 70, "nested too deeply (a job file has at most 64 levels"),
        (
            "bin.yaml",
            b"\xff\xfe",
            "not UTF-8 text (byte 0xff at offset 0); a job file is JSON or YAML in UTF-8",
        ),
        ("bin.json", b'{"a": "\x80"}', "not UTF-8 text (byte 0x80 at offset 7)"),
    ],
)
def test_hardening_8_deep_or_binary_job_files_are_refused_in_one_line(tmp_path, name, content, rule):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _out, err = cli("tune", "--config", str(path), "--job-dir", str(tmp_path / "jobs"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"ipinsights: error: --config {path}: {rule}")
    assert not (tmp_path / "jobs").exists()


def test_hardening_8_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document("bom")).encode())
    assert load_job_config(path).name == "bom"
