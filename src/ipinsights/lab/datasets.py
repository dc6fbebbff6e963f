"""Generated data sets on disk: the time split, the files, and ``ipinsights generate``'s run.

:func:`write_dataset` simulates logins (:mod:`ipinsights.lab.simulate`), splits them by time
into train, validation and test (:func:`split_by_time`) and writes each as a headerless
``entity,ip`` CSV, optionally with an Apache access log and the attack sets
(:mod:`ipinsights.lab.attacks`). The same arguments give the same bytes in every process.
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ipinsights.errors import ConfigError, DataError
from ipinsights.lab._text import _output_dir, _write_lines
from ipinsights.lab.attacks import write_attacks
from ipinsights.lab.ranges import ATTRIBUTION, RangeTable
from ipinsights.lab.simulate import (
    _SECONDS_PER_DAY,
    DEFAULT_START,
    _check_int,
    _check_share,
    _check_start,
    _logins_frame,
    _simulate,
)

__all__ = ["run_generate", "split_by_time", "write_dataset"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_USER_AGENT = (
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/70.0.3538.77 Safari/537.36"
)
_LOG_REQUEST = b' "GET /login_success HTTP/1.1" 200 476 "-" "' + _USER_AGENT + b'"\n'


def _check_split(train_days: Any, validation_days: Any, test_days: Any) -> tuple[int, int, int]:
    return (
        _check_int("train_days", train_days, minimum=1),
        _check_int("validation_days", validation_days, minimum=0),
        _check_int("test_days", test_days, minimum=0),
    )


def split_by_time(
    logins: pd.DataFrame,
    train_days: int = 7,
    validation_days: int = 1,
    test_days: int = 2,
    *,
    start: Any = None,
    known_users_only: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split logins into consecutive train, validation and test periods.

    The periods are ``[start, start + train_days)``, the next ``validation_days`` and the next
    ``test_days``; logins before ``start`` or after the last period are left out.

    Args:
        logins: Frame with a ``timestamp`` column (and ``entity`` when ``known_users_only``).
        train_days, validation_days, test_days: Lengths of the periods in days.
        start: Start of the training period; default midnight of the day of the first login
            (the start of ``generate_logins``' default window).
        known_users_only: Keep in the test period only the logins of entities that appear in
            the training period (the example's "normal" logins: a model cannot know the rest).

    Returns:
        ``(train, validation, test)`` frames with the columns of ``logins`` and fresh indices.

    Raises:
        ConfigError: A period length is not an integer (train >= 1, others >= 0) or ``start``
            is not a time.

    Example:
        >>> from ipinsights.lab.simulate import generate_logins
        >>> train, validation, test = split_by_time(generate_logins(5))
        >>> len(train) > len(test) > len(validation)
        True
    """
    train_days, validation_days, test_days = _check_split(train_days, validation_days, test_days)
    if "timestamp" not in logins.columns:
        raise DataError(f"split_by_time needs a 'timestamp' column; got columns {list(logins.columns)}")
    times = logins["timestamp"]
    if start is None:
        first = times.min() if len(times) else pd.Timestamp(DEFAULT_START)
        start = pd.Timestamp(first).floor("D")
    start = pd.Timestamp(_check_start(start))
    ends = np.cumsum([0, train_days, validation_days, test_days])
    edges = [start + pd.Timedelta(days=int(d)) for d in ends]
    parts = [
        logins[(times >= lo) & (times < hi)].reset_index(drop=True) for lo, hi in itertools.pairwise(edges)
    ]
    train, validation, test = parts
    if known_users_only:
        test = test[test["entity"].isin(train["entity"].unique())].reset_index(drop=True)
    return train, validation, test


class _Written(NamedTuple):
    path: Path
    rows: int


class _DatasetReport(NamedTuple):
    files: dict[str, _Written]
    num_events: int
    num_users: int
    generate_seconds: float
    write_seconds: float


def _log_time_columns(seconds: np.ndarray, start: np.datetime64) -> list[np.ndarray | bytes]:
    """Apache ``[%d/%b/%Y:%H:%M:%S +0000]`` text as fixed-width columns (locale-independent)."""
    absolute = start.astype("datetime64[s]").astype(np.int64) + seconds
    day, second = np.divmod(absolute, _SECONDS_PER_DAY)
    first_day = int(day.min()) if len(day) else 0
    unique_days, day_index = np.arange(first_day, int(day.max()) + 1 if len(day) else 0), day - first_day
    epoch = date(1970, 1, 1)
    day_text = np.array(
        [
            f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year:04d}".encode()
            for d in (epoch + timedelta(days=int(n)) for n in unique_days)
        ]
    )
    two_digits = np.array([f"{i:02d}".encode() for i in range(60)], dtype="S2")
    hour, rest = np.divmod(second, 3600)
    minute, sec = np.divmod(rest, 60)
    return [
        b" [",
        day_text[day_index],
        b":",
        two_digits[hour],
        b":",
        two_digits[minute],
        b":",
        two_digits[sec],
        b" +0000]",
    ]


def _write_dataset(
    out_dir: str | Path,
    *,
    num_users: int,
    seed: int = 0,
    ranges: RangeTable | None = None,
    days: int | None = None,
    ipv6_share: float = 0.0,
    train_days: int = 7,
    validation_days: int = 1,
    test_days: int = 2,
    apache_log: bool = False,
    attacks: int = 0,
    start: Any = DEFAULT_START,
) -> _DatasetReport:
    train_days, validation_days, test_days = _check_split(train_days, validation_days, test_days)
    total_days = train_days + validation_days + test_days
    if days is not None and _check_int("days", days, minimum=1) != total_days:
        raise ConfigError(
            f"days must equal train_days + validation_days + test_days = {train_days} + {validation_days} + "
            f"{test_days} = {total_days}, got days={days}; leave days out or change the split"
        )
    attacks = _check_int("attacks", attacks, minimum=0)
    _check_int("num_users", num_users, minimum=1)  # before creating out_dir
    out = _output_dir(out_dir)

    clock = time.perf_counter()
    logins = _simulate(
        num_users, seed=seed, ranges=ranges, days=total_days, ipv6_share=ipv6_share, start=start
    )
    generated = time.perf_counter()

    edges = np.searchsorted(
        logins.seconds, np.cumsum([0, train_days, validation_days, test_days]) * _SECONDS_PER_DAY
    )
    train, validation, test = (slice(int(a), int(b)) for a, b in itertools.pairwise(edges))
    seen = np.zeros(num_users, dtype=bool)
    seen[logins.user[train]] = True
    test_rows = test.start + np.flatnonzero(seen[logins.user[test]])

    def entity_ip(rows: slice | np.ndarray) -> list[np.ndarray | bytes]:
        return [logins.names[logins.user[rows]], b",", logins.ip[rows], b"\n"]

    files = {
        "train": _Written(out / "train.csv", _write_lines(out / "train.csv", entity_ip(train))),
        "validation": _Written(
            out / "validation.csv", _write_lines(out / "validation.csv", entity_ip(validation))
        ),
        "test": _Written(out / "test.csv", _write_lines(out / "test.csv", entity_ip(test_rows))),
    }
    if apache_log:
        path = out / "access.log"
        columns = [
            logins.ip,
            b" - ",
            logins.names[logins.user],
            *_log_time_columns(logins.seconds, logins.start),
        ]
        files["access_log"] = _Written(path, _write_lines(path, [*columns, _LOG_REQUEST]))
    if attacks:
        train_frame = _logins_frame(logins, train)
        for name, path in write_attacks(out, train_frame, attacks, seed=seed, ranges=ranges).items():
            files[f"attack_{name}"] = _Written(path, attacks)
    return _DatasetReport(
        files, len(logins.user), num_users, generated - clock, time.perf_counter() - generated
    )


def write_dataset(
    out_dir: str | Path,
    *,
    num_users: int,
    seed: int = 0,
    ranges: RangeTable | None = None,
    days: int | None = None,
    ipv6_share: float = 0.0,
    train_days: int = 7,
    validation_days: int = 1,
    test_days: int = 2,
    apache_log: bool = False,
    attacks: int = 0,
    start: Any = DEFAULT_START,
) -> dict[str, Path]:
    """Simulate logins and write them as headerless ``entity,ip`` CSV files, split by time.

    Files in ``out_dir`` (created if needed), each sorted by time:

    * ``train.csv``: the first ``train_days``;
    * ``validation.csv``: the next ``validation_days`` (all users);
    * ``test.csv``: the last ``test_days``, only users that appear in ``train.csv`` (the
      example's "normal" logins; with the example's model a user has at least 50 logins, so
      almost none are dropped);
    * ``access.log`` (``apache_log=True``): every login as an Apache combined-format line,
      ``GET /login_success`` with status 200 and the user as the remote user;
    * ``attack_<name>.csv`` (``attacks > 0``): ``attacks`` rows of each attack set in
      :data:`ATTACKS`, built from the training logins (see :func:`write_attacks`).

    The same arguments give byte-identical files in every process.

    Args:
        out_dir: Output directory.
        num_users, seed, ranges, ipv6_share, start: As for :func:`generate_logins`.
        days: Length of the window; must equal ``train_days + validation_days + test_days``
            (the default).
        train_days, validation_days, test_days: Period lengths (train >= 1, others >= 0).
        apache_log: Also write ``access.log``.
        attacks: Rows per attack set; 0 writes none.

    Returns:
        ``{"train": path, "validation": path, "test": path}`` plus ``"access_log"`` and
        ``"attack_<name>"`` entries for the optional files.

    Raises:
        ConfigError: An argument is out of range or ``out_dir`` cannot be created.
        DataError: ``ranges`` is too small.

    Example:
        >>> import tempfile
        >>> sorted(write_dataset(tempfile.mkdtemp(), num_users=5, seed=1))
        ['test', 'train', 'validation']
    """
    report = _write_dataset(
        out_dir,
        num_users=num_users,
        seed=seed,
        ranges=ranges,
        days=days,
        ipv6_share=ipv6_share,
        train_days=train_days,
        validation_days=validation_days,
        test_days=test_days,
        apache_log=apache_log,
        attacks=attacks,
        start=start,
    )
    return {name: written.path for name, written in report.files.items()}


def run_generate(args: argparse.Namespace) -> int:
    """Run ``ipinsights generate`` with ``args`` parsed by :mod:`ipinsights.cli.generate`; prints what it wrote. Returns 0.

    Raises:
        ConfigError: An option is out of range.
        DataError: The range table cannot be used.
    """
    _check_int("--users", args.users, minimum=1)
    _check_int("--seed", args.seed, minimum=0)
    _check_share("--ipv6-share", args.ipv6_share)
    _check_int("--train-days", args.train_days, minimum=1)
    _check_int("--validation-days", args.validation_days, minimum=0)
    _check_int("--test-days", args.test_days, minimum=0)
    _check_int("--attacks", args.attacks, minimum=0)
    total_days = args.train_days + args.validation_days + args.test_days
    if args.days is not None and args.days != total_days:
        raise ConfigError(
            f"--days must equal --train-days + --validation-days + --test-days = {total_days}, "
            f"got --days={args.days}; leave --days out or change the periods"
        )
    clock = time.perf_counter()
    if args.ranges != "builtin":
        ranges = RangeTable.from_file(args.ranges)
        dropped = (
            f", {ranges.num_dropped_overlaps} overlapping dropped" if ranges.num_dropped_overlaps else ""
        )
        print(f"ranges: {len(ranges):,} IPv4 ranges from {args.ranges}{dropped}")
    else:
        ranges = RangeTable.builtin()
        print(f"ranges: built-in table, {len(ranges):,} IPv4 ranges ({ATTRIBUTION})")
    report = _write_dataset(
        args.out,
        num_users=args.users,
        seed=args.seed,
        ranges=ranges,
        days=args.days,
        ipv6_share=args.ipv6_share,
        train_days=args.train_days,
        validation_days=args.validation_days,
        test_days=args.test_days,
        apache_log=args.apache_log,
        attacks=args.attacks,
    )
    rate = report.num_events / max(report.generate_seconds, 1e-9)
    print(
        f"simulated {report.num_events:,} logins of {report.num_users:,} users in "
        f"{report.generate_seconds:.2f} s ({rate / 1e6:.2f} M logins/s)"
    )
    width = max(len(str(w.path)) for w in report.files.values())
    for name, written in report.files.items():
        print(f"  {name:<21} {written.path!s:<{width}}  {written.rows:>12,} rows")
    print(
        f"wrote {len(report.files)} files in {report.write_seconds:.2f} s; total {time.perf_counter() - clock:.2f} s"
    )
    return 0
