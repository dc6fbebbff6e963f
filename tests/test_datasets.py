"""Time splits, the files of a generated data set and ``ipinsights generate`` (ipinsights.lab.datasets)."""

from __future__ import annotations

import argparse
import ipaddress
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ipinsights.cli import build_parser
from ipinsights.errors import ConfigError, DataError
from ipinsights.lab.attacks import ATTACKS
from ipinsights.lab.datasets import run_generate, split_by_time, write_dataset
from ipinsights.lab.simulate import generate_logins


def read_all(paths: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in paths.items()}


def test_the_same_seed_writes_byte_identical_files_in_two_calls(tmp_path: Path) -> None:
    options = dict(num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30)
    first = read_all(write_dataset(tmp_path / "a", **options))
    second = read_all(write_dataset(tmp_path / "b", **options))
    assert sorted(first) == sorted(
        ["train", "validation", "test", "access_log", *(f"attack_{name}" for name in ATTACKS)]
    )
    assert first == second
    assert all(first.values())


def test_a_fresh_process_writes_the_same_bytes(tmp_path: Path) -> None:
    options = "num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30"
    script = f"from ipinsights.lab.datasets import write_dataset; write_dataset({str(tmp_path / 'child')!r}, {options})"
    subprocess.run([sys.executable, "-c", script], check=True)
    here = write_dataset(
        tmp_path / "parent", num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30
    )
    assert len(here) == 8
    for path in here.values():
        assert (tmp_path / "child" / path.name).read_bytes() == path.read_bytes()


def test_split_by_time_cuts_whole_days_and_keeps_known_users_in_test() -> None:
    logins = generate_logins(60, seed=21)
    train, validation, test = split_by_time(logins, 7, 1, 2)
    start = pd.Timestamp("2018-11-04")
    assert train["timestamp"].max() < start + pd.Timedelta(days=7)
    assert validation["timestamp"].min() >= start + pd.Timedelta(days=7)
    assert validation["timestamp"].max() < start + pd.Timedelta(days=8)
    assert test["timestamp"].min() >= start + pd.Timedelta(days=8)
    assert set(test["entity"]) <= set(train["entity"])
    everyone = split_by_time(logins, 7, 1, 2, known_users_only=False)[2]
    assert len(train) + len(validation) + len(everyone) == len(logins)


def test_split_by_time_leaves_out_logins_after_the_last_period() -> None:
    logins = generate_logins(10, seed=22)
    _, validation, test = split_by_time(logins, 2, 0, 1)
    assert validation.empty
    assert test["timestamp"].max() < pd.Timestamp("2018-11-07")


def test_written_files_equal_the_split_of_the_generated_frame(tmp_path: Path) -> None:
    paths = write_dataset(tmp_path, num_users=30, seed=23, ipv6_share=0.2)
    expected = split_by_time(generate_logins(30, seed=23, ipv6_share=0.2))
    for name, frame in zip(("train", "validation", "test"), expected, strict=True):
        written = pd.read_csv(paths[name], header=None, names=["entity", "ip"], dtype=str)
        pd.testing.assert_frame_equal(written, frame[["entity", "ip"]].astype(object), check_dtype=False)


def test_days_must_equal_the_sum_of_the_periods(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"days must equal train_days \+ validation_days \+ test_days = 7 \+ 1 \+ 2 = 10, got days=12",
    ):
        write_dataset(tmp_path, num_users=3, days=12)


def test_the_apache_log_has_one_combined_format_line_per_login(tmp_path: Path) -> None:
    paths = write_dataset(tmp_path, num_users=8, seed=24, apache_log=True, ipv6_share=0.5)
    lines = paths["access_log"].read_text().splitlines()
    total = sum(len(path.read_text().splitlines()) for name, path in paths.items() if name != "access_log")
    assert len(lines) >= total
    pattern = re.compile(
        r"^(\S+) - (user_\d+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] "
        r'"GET /login_success HTTP/1\.1" 200 \d+ "-" "Mozilla/5\.0 [^"]+"$'
    )
    matches = [pattern.match(line) for line in lines]
    assert all(matches)
    assert matches[0].group(3).startswith("04/Nov/2018:")
    assert all(ipaddress.ip_address(m.group(1)) for m in matches)
    frame = generate_logins(8, seed=24, ipv6_share=0.5)
    assert [m.group(2) for m in matches] == frame["entity"].tolist()
    assert [m.group(3) for m in matches] == frame["timestamp"].dt.strftime("%d/%b/%Y:%H:%M:%S").tolist()


# ---------------------------------------------------------------------------------------------
# Command line


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["generate", *argv])


def test_the_command_writes_the_files_and_prints_paths_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_generate(
        parse("--users", "12", "--seed", "2", "--out", str(tmp_path), "--attacks", "5", "--apache-log")
    )
    output = capsys.readouterr().out
    assert code == 0
    assert "ranges: built-in table, 411,960 IPv4 ranges (IP to ASN data by RouteViews" in output
    train_rows = len((tmp_path / "train.csv").read_text().splitlines())
    assert re.search(rf"train\s+{re.escape(str(tmp_path / 'train.csv'))}\s+{train_rows:,} rows", output)
    assert re.search(r"attack_nearby_ranges\s+\S+attack_nearby_ranges\.csv\s+5 rows", output)
    assert re.search(r"simulated [\d,]+ logins of 12 users in [\d.]+ s", output)


def test_the_command_reads_a_range_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ranges = tmp_path / "r.tsv"
    ranges.write_text("10.0.0.0\t10.0.0.255\t1\tZZ\ta\n10.1.0.0\t10.1.0.255\t2\tZZ\tb\n")
    run_generate(parse("--users", "3", "--out", str(tmp_path / "out"), "--ranges", str(ranges)))
    assert f"ranges: 2 IPv4 ranges from {ranges}" in capsys.readouterr().out
    assert all(
        line.split(",")[1].startswith("10.")
        for line in (tmp_path / "out" / "train.csv").read_text().splitlines()
    )


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["--users", "0"], ConfigError, "--users must be an integer >= 1, got --users=0"),
        (
            ["--ipv6-share", "2"],
            ConfigError,
            r"--ipv6-share must be a number in \[0, 1\], got --ipv6-share=2.0",
        ),
        (["--test-days", "-1"], ConfigError, "--test-days must be an integer >= 0, got --test-days=-1"),
        (
            ["--days", "12"],
            ConfigError,
            "--days must equal --train-days \\+ --validation-days \\+ --test-days = 10, got --days=12",
        ),
        (
            ["--ranges", "/nonexistent/ranges.tsv"],
            DataError,
            "range table /nonexistent/ranges.tsv does not exist",
        ),
    ],
)
def test_the_command_raises_one_line_errors_for_bad_options(
    tmp_path: Path, argv: list[str], error: type, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        run_generate(parse("--out", str(tmp_path), *argv))
    assert "\n" not in str(caught.value)
