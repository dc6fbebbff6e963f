"""Every command of docs/from-logs.md runs as written, in order, on the sample logs it ships.

The ``bash`` blocks hold ``ipinsights`` commands only; each is run through ``cli.main`` in this
process (the console script's entry point, without a new interpreter and PyTorch import per
command, which keeps the test to a few seconds per format); one test runs the first ``predict``
again in a new process (``python -m ipinsights.cli``, what the console script calls) and finds the
same bytes. The ``python`` blocks run in one
namespace, so later ones use the ``flag`` function the first one defines.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "from-logs.md"
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", DOC.read_text(), flags=re.S)
FORMATS = ("sshd", "nginx", "cloudtrail", "jsonl", "csv", "parquet")


def _commands(block: str) -> list[list[str]]:
    """The commands of a bash block, continuation lines joined."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    """Run every block in order in a folder where ``docs/samples`` is the repository's."""
    from ipinsights import cli

    folder = tmp_path_factory.mktemp("from-logs")
    (folder / "docs").mkdir()
    (folder / "docs" / "samples").symlink_to(ROOT / "docs" / "samples")
    namespace: dict = {}
    flagged: dict[str, list] = {}
    import os

    previous = os.getcwd()
    os.chdir(folder)
    try:
        for kind, block in BLOCKS:
            if "parquet" in block and _missing_pyarrow():
                continue
            if kind == "bash":
                for argv in _commands(block):
                    assert argv[0] == "ipinsights", f"docs/from-logs.md runs ipinsights only, got {argv[0]}"
                    assert cli.main(argv[1:]) == 0, " ".join(argv)
            else:
                exec(compile(block, str(DOC), "exec"), namespace)
                for name in FORMATS:
                    if f"{name}-scores.jsonl" in block:
                        flagged[name] = namespace["flagged"]
    finally:
        os.chdir(previous)
    return folder, namespace, flagged


def _missing_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is None


def test_the_doc_has_a_walkthrough_for_every_format():
    text = "".join(block for _, block in BLOCKS)
    for fmt in ("sshd", "combined", "cloudtrail", "jsonl", "csv-header", "parquet"):
        for command in ("train", "evaluate", "predict"):
            assert re.search(rf"ipinsights {command} --format {fmt}\b", text), (command, fmt)


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_is_trained_evaluated_scored_and_flagged(walkthrough, name):
    if name == "parquet" and _missing_pyarrow():
        pytest.skip("the parquet extra (PyArrow) is not installed")
    folder, _, flagged = walkthrough
    model = json.loads((folder / f"{name}-model" / "model.json").read_text())
    assert model["hyperparameters"]["num_entity_vectors"] == 60  # --auto-size: 2 x 30 users
    report = json.loads((folder / f"{name}-evaluation" / "report.json").read_text())
    assert report["attack_sets_from_logs"]["seed"] == 0
    assert [a["name"] for a in report["attacks"]] == [
        "nearby_24",
        "nearby_16",
        "other_users",
        "random_range",
        "random_ipv4",
    ]
    assert len(report["verdicts"]) == 5 and report["thresholds"][0]["target_fpr"] == 0.03
    scores = (folder / f"{name}-scores.jsonl").read_text().splitlines()
    assert len(scores) == report["normal"]["rows"]  # jsonl's user-less line: reported on stderr, not scored
    # The first budget flags at most 3 % of the checked logins, and at least one of them.
    assert 1 <= len(flagged[name]) <= 0.03 * report["normal"]["rows"]


def test_the_planted_logins_are_among_the_flagged_in_the_sshd_walkthrough(walkthrough):
    _, _, flagged = walkthrough
    found = {(user, ip) for _, user, ip, _ in flagged["sshd"]}
    planted = {
        ("carol", "185.220.101.47"),
        ("dave", "45.155.205.233"),
        ("grace", "2a03:b0c0:3:d0::1a2b:c001"),
    }
    # 7 of 242 logins flagged: by chance, at least one of the three planted would be in 8.5 % of runs.
    assert found & planted, found


def test_predict_writes_only_the_logins_below_the_threshold_the_doc_gives(walkthrough):
    folder, _, flagged = walkthrough
    command = next(
        argv
        for kind, block in BLOCKS
        if kind == "bash"
        for argv in _commands(block)
        if "--only-flagged" in argv
    )
    below = float(command[command.index("--flag-below") + 1])
    rows = [json.loads(line) for line in (folder / "sshd-flagged.jsonl").read_text().splitlines()]
    assert rows and all(r["flagged"] and r["score"] < below for r in rows)
    rule = json.loads((folder / "sshd-evaluation" / "report.json").read_text())["thresholds"][0]
    if f"{rule['flag_below']:.6g}" == f"{below:.6g}":  # this run's threshold is the doc's: the same logins
        assert {(r["entity"], r["ip"]) for r in rows} == {(user, ip) for _, user, ip, _ in flagged["sshd"]}


def test_the_python_api_example_reports_the_same_attack_sets(walkthrough):
    _, namespace, _ = walkthrough
    report = namespace["report"]
    assert [a.name for a in report.attacks][:2] == ["nearby_24", "nearby_16"]
    assert "flag when score <" in report.summary()


def test_a_new_process_writes_what_the_in_process_run_wrote(walkthrough):
    folder, _, _ = walkthrough
    argv = next(a for kind, block in BLOCKS if kind == "bash" for a in _commands(block) if a[1] == "predict")
    argv[argv.index("--output") + 1] = "again.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "ipinsights.cli", *argv[1:]],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (folder / "again.jsonl").read_bytes() == (folder / "sshd-scores.jsonl").read_bytes()
