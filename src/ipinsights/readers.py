"""Readers for the logs people have: each turns one log format into :class:`~ipinsights.data.Pairs`.

=============  ==========================================================================
format         where the entity and the IP come from
=============  ==========================================================================
``csv``        headerless ``entity,ip`` CSV (:func:`ipinsights.data.read_pairs`)
``sshd``       OpenSSH ``Accepted <method> for USER from IP port N`` lines (auth.log, secure,
               ``journalctl -u ssh`` output); ``sshd-all`` also reads ``Failed ...`` lines,
               with the tried user name as the entity (``invalid user`` stripped)
``combined``   nginx/Apache combined or common log format: the authenticated user ``%u``
               (``$remote_user``) and the client ``%h`` (``$remote_addr``); with
               ``ip_field="x-forwarded-for"`` the first address of the first extra quoted field
               after the user agent (``"$http_x_forwarded_for"``), ``%h`` where it is ``-``
``cloudtrail``  AWS CloudTrail ``{"Records": [...]}`` files as delivered (``.json.gz``), or one
               event per line: ``userIdentity.arn`` (else ``userName``, else ``principalId``)
               and ``sourceIPAddress``
``jsonl``      JSON Lines, one object per line; fields by name, dotted for nested ones
               (``user.name``)
``csv-header`` CSV with a header line (RFC 4180 quoting); fields by column name
``parquet``    Parquet columns by name (needs the ``parquet`` extra: PyArrow)
=============  ==========================================================================

Lines that hold no login are not errors and are counted, not reported: other syslog messages
in an auth.log, requests without a user (``%u`` is ``-``) or answered 401 (Apache: "%u may be
bogus if return status is 401"), CloudTrail events whose ``sourceIPAddress`` is an AWS service
(``ec2.amazonaws.com``, ``AWS Internal``) or that have no identity. Lines that should hold a
login but cannot be read (a request line that does not parse, a JSON line that is not JSON, an
address that is not one) are bad rows: reported with file, line and reason like the CSV
reader's, and more than ``max_bad_fraction`` of them stops the read.

Every reader streams: files are read line by line (gzip recognised by its magic bytes, so
rotated ``auth.log.1`` and ``auth.log.2.gz`` both work), and only the entity and IP strings are
kept. A CloudTrail ``Records`` file is one JSON document and is parsed whole, one file at a time
(CloudTrail delivers a file every five minutes per region, each a few MB at most).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import importlib.util
import io
import json
import os
import re
import sys
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, TextIO

import numpy as np

from ipinsights.addresses import is_ipv4, parse_ips
from ipinsights.data import (
    BadRow,
    Pairs,
    ReadReport,
    describe_bad_entity,
    describe_bad_ip,
    pairs_from_columns,
    read_pairs,
    sorted_unique,
)
from ipinsights.entities import hash_entities
from ipinsights.errors import ConfigError, DataError, MissingExtraError

__all__ = ["FORMATS", "LogColumns", "LogFormat", "as_pairs", "read_log", "read_log_columns"]


class LogFormat(StrEnum):
    """The input formats :func:`read_log` reads (the CLI's ``--format``)."""

    CSV = "csv"
    SSHD = "sshd"
    SSHD_ALL = "sshd-all"
    COMBINED = "combined"
    CLOUDTRAIL = "cloudtrail"
    JSONL = "jsonl"
    CSV_HEADER = "csv-header"
    PARQUET = "parquet"


FORMATS = tuple(f.value for f in LogFormat)
#: Formats whose fields are chosen by name, and their default names.
_DEFAULT_FIELDS = {
    LogFormat.JSONL: ("entity", "ip"),
    LogFormat.CSV_HEADER: ("entity", "ip"),
    LogFormat.PARQUET: ("entity", "ip"),
}
_XFF = "x-forwarded-for"
_GZIP_MAGIC = b"\x1f\x8b"

# OpenSSH's auth.c logs "%s %s%s for %s%.100s from %.200s port %d ssh2%s%s" (authlog()): the
# status, the method (with "/submethod"), "invalid user " when the user does not exist, the user.
# Searched anywhere in the line, so syslog, RFC 5424, journalctl and rsyslog's "message repeated
# N times: [ ... ]" prefixes all work.
_SSHD = re.compile(r"\b(Accepted|Failed) (\S+) for (invalid user )?(.*?) from (\S+) port \d+")
# Apache/nginx: %h %l %u %t "%r" %>s %b, then for combined "%{Referer}i" "%{User-agent}i", then
# whatever the site appended (quoted fields such as "$http_x_forwarded_for"). A quote inside a
# quoted field is written \" by both servers.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_ACCESS = re.compile(rf"(\S+) (\S+) (\S+) \[([^\]]*)\] {_QUOTED} (\d{{3}}|-) (\S+)(.*)")
_EXTRA_QUOTED = re.compile(_QUOTED)
# Where CloudTrail names a service instead of an address: "ec2.amazonaws.com", "AWS Internal".
_AWS_SERVICE = re.compile(r"(?:[a-z0-9-]+\.)+amazonaws\.com(?:\.cn)?|AWS Internal", re.IGNORECASE)


@dataclass
class LogColumns:
    """Entity and IP strings read from a log, before the IPs are parsed.

    Attributes:
        source: What was read (the path given).
        entities, ips: One string per login, in log order.
        files: ``(first row index, file name)`` of each file read, in order.
        lines: (n,) 1-based line (or record) number of each row in its file.
        bad_rows: Lines that should hold a login but could not be read (the first 1000).
        num_bad_rows: How many such lines in all.
        skipped: Lines that hold no login, counted by reason.
        unit: ``"line"`` or ``"record"`` (CloudTrail ``Records`` files, Parquet rows).
    """

    source: str
    entities: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    files: list[tuple[int, str]] = field(default_factory=list)
    lines: array = field(default_factory=lambda: array("q"))
    bad_rows: list[BadRow] = field(default_factory=list)
    num_bad_rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unit: str = "line"

    def add(self, entity: str, ip: str, line: int) -> None:
        self.entities.append(entity)
        self.ips.append(ip)
        self.lines.append(line)

    def bad(self, name: str, line: int, reason: str) -> None:
        if len(self.bad_rows) < 1000:
            self.bad_rows.append(BadRow(name, line, reason))
        self.num_bad_rows += 1

    def where(self, row: int) -> tuple[str, int]:
        """File name and line of row ``row``."""
        starts = [start for start, _ in self.files]
        k = int(np.searchsorted(starts, row, side="right")) - 1
        return self.files[k][1], int(self.lines[row])

    def __len__(self) -> int:
        return len(self.entities)


def read_log(
    source: str | os.PathLike[str],
    format: str = "csv",
    *,
    entity_field: str | None = None,
    ip_field: str | None = None,
    max_bad_fraction: float = 0.01,
    warn: TextIO | None = None,
    max_reported: int = 5,
) -> Pairs:
    """Read the logins of a log file (or a directory of them) in one of :data:`FORMATS`.

    Args:
        source: A file (plain or gzip), a directory (every file under it, at any depth, names
            starting with a dot skipped), or ``"-"`` for standard input.
        format: One of :data:`FORMATS` (see the module docstring for each).
        entity_field, ip_field: Field names for ``jsonl``, ``csv-header`` and ``parquet``
            (default ``entity`` and ``ip``); for ``combined``, ``ip_field="x-forwarded-for"``.
        max_bad_fraction: Stop with :class:`DataError` if more than this share of the logins
            read is bad (lines without a login do not count).
        warn: Where to write the first bad rows and the count of skipped lines (stderr).
        max_reported: How many bad rows to describe individually.

    Returns:
        The good pairs and their :class:`~ipinsights.data.ReadReport`.

    Raises:
        ConfigError: An unknown format, a field option the format does not take, or a missing
            optional extra (``parquet``).
        DataError: No such file, no logins in it, a field not in a header, too many bad rows.

    Example:
        >>> import tempfile, pathlib
        >>> log = pathlib.Path(tempfile.mkdtemp(), "auth.log")
        >>> _ = log.write_text("Mar  3 10:15:01 h sshd[7]: Accepted publickey for alice from 10.0.0.1 port 52144 ssh2\\n")
        >>> len(read_log(log, "sshd"))
        1
    """
    kind = _format(format)
    warn = warn if warn is not None else sys.stderr
    if kind is LogFormat.CSV:
        _no_fields(kind, entity_field, ip_field)
        return read_pairs(source, max_bad_fraction=max_bad_fraction, warn=warn, max_reported=max_reported)
    columns = read_log_columns(source, kind, entity_field=entity_field, ip_field=ip_field)
    return _to_pairs(columns, kind, max_bad_fraction, warn, max_reported)


def read_log_columns(
    source: str | os.PathLike[str],
    format: str,
    *,
    entity_field: str | None = None,
    ip_field: str | None = None,
) -> LogColumns:
    """The entity and IP strings of a log, with where each came from; see :func:`read_log`.

    For uses that need the text (``ipinsights predict`` reports bad rows by log line).
    """
    kind = _format(format)
    if kind is LogFormat.CSV:
        raise ConfigError(
            "read_log_columns reads log formats; read headerless CSV with ipinsights.data.read_pairs"
        )
    if kind in (LogFormat.SSHD, LogFormat.SSHD_ALL, LogFormat.CLOUDTRAIL):
        _no_fields(kind, entity_field, ip_field)
    if kind is LogFormat.COMBINED:
        _no_fields(kind, entity_field, None)
        if ip_field not in (None, "remote_addr", _XFF):
            raise ConfigError(
                f"--ip-field for --format combined is remote_addr (%h, the default) or {_XFF} "
                f"(the first address of the first quoted field after the user agent), got {ip_field!r}"
            )
    if kind is LogFormat.PARQUET and importlib.util.find_spec("pyarrow") is None:
        raise MissingExtraError(
            "--format parquet needs PyArrow (the 'parquet' extra); install it with: "
            'pip install ".[parquet]" from a clone, or pip install pyarrow'
        )
    default_entity, default_ip = _DEFAULT_FIELDS.get(kind, (None, None))
    entity_field = entity_field or default_entity
    ip_field = ip_field or default_ip
    columns = LogColumns(source=str(source))
    for name, path in _files(source):
        columns.files.append((len(columns), name))
        if kind is LogFormat.PARQUET:
            _read_parquet(path, name, columns, entity_field or "", ip_field or "")
            continue
        with _open_text(path, name) as lines:
            if kind in (LogFormat.SSHD, LogFormat.SSHD_ALL):
                _read_sshd(lines, name, columns, include_failed=kind is LogFormat.SSHD_ALL)
            elif kind is LogFormat.COMBINED:
                _read_access(lines, name, columns, forwarded=ip_field == _XFF)
            elif kind is LogFormat.CLOUDTRAIL:
                _read_cloudtrail(lines, name, columns)
            elif kind is LogFormat.JSONL:
                _read_jsonl(lines, name, columns, entity_field or "", ip_field or "")
            else:
                _read_csv_header(lines, name, columns, entity_field or "", ip_field or "")
    return columns


# -- the formats ------------------------------------------------------------------------------


def _read_sshd(lines: Iterator[str], name: str, out: LogColumns, *, include_failed: bool) -> None:
    for number, line in enumerate(lines, start=1):
        found = _SSHD.search(line)
        if found is None:
            out.skipped["without an sshd Accepted/Failed message"] += 1
            continue
        status, _method, _invalid, user, ip = found.groups()
        if status == "Failed" and not include_failed:
            out.skipped["failed logins (--format sshd-all reads them)"] += 1
            continue
        out.add(user, ip, number)


def _read_access(lines: Iterator[str], name: str, out: LogColumns, *, forwarded: bool) -> None:
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        found = _ACCESS.match(line)
        if found is None:
            out.bad(name, number, 'not in common or combined log format (%h %l %u [%t] "%r" %>s %b ...)')
            continue
        host, _ident, user, _time, _request, status, _size, rest = found.groups()
        if user == "-":
            out.skipped["without a user (%u is -)"] += 1
            continue
        if status == "401":
            out.skipped["answered 401 (the user was not verified)"] += 1
            continue
        ip = host
        if forwarded:
            extra = _EXTRA_QUOTED.findall(rest)
            # combined has two quoted fields (referer, user agent); the next one is the header.
            if len(extra) >= 3 and extra[2].strip() not in ("", "-"):
                ip = extra[2].split(",")[0].strip()
        out.add(_unescape_user(user), ip, number)


def _unescape_user(user: str) -> str:
    """Apache writes bytes outside printable ASCII in ``%u`` as ``\\xhh`` and quotes as ``\\"``."""
    if "\\" not in user:
        return user
    try:
        return codecs.escape_decode(user.encode("utf-8"))[0].decode("utf-8")  # type: ignore[attr-defined]
    except (ValueError, UnicodeDecodeError):
        return user


def _read_cloudtrail(lines: Iterator[str], name: str, out: LogColumns) -> None:
    first = ""
    for first in lines:
        if first.strip():
            break
    if not first.strip():
        return
    try:
        document = json.loads(first)
    except (ValueError, RecursionError):
        document = None  # a pretty-printed document spans lines: parse the whole file
        out.unit = "record"
        try:
            document = json.loads(first + "".join(lines))
        except (ValueError, RecursionError) as exc:
            out.bad(name, 1, f"not a CloudTrail JSON file ({_brief(exc)})")
            return
        if not (isinstance(document, dict) and isinstance(document.get("Records"), list)):
            out.bad(name, 1, 'expected a CloudTrail file {"Records": [...]}')
            return
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        out.unit = "record"  # as delivered: the whole file on one line
        for number, record in enumerate(document["Records"], start=1):
            _cloudtrail_event(record, name, number, out)
        return
    # One event per line (CloudTrail Lake exports, CloudWatch Logs subscriptions, jq -c .Records[])
    _cloudtrail_event(document, name, 1, out)
    for number, line in enumerate(lines, start=2):
        if line.strip():
            _cloudtrail_line(line, name, number, out)


def _cloudtrail_line(line: str, name: str, number: int, out: LogColumns) -> None:
    try:
        event = json.loads(line)
    except (ValueError, RecursionError) as exc:
        out.bad(name, number, f"not valid JSON ({_brief(exc)})")
        return
    _cloudtrail_event(event, name, number, out)


def _cloudtrail_event(event: object, name: str, number: int, out: LogColumns) -> None:
    if not isinstance(event, dict):
        out.bad(name, number, f"a CloudTrail event is a JSON object, got {type(event).__name__}")
        return
    ip = event.get("sourceIPAddress")
    if not isinstance(ip, str) or not ip:
        out.bad(name, number, "no sourceIPAddress")
        return
    if _AWS_SERVICE.fullmatch(ip.strip()):
        out.skipped["called by an AWS service (sourceIPAddress such as ec2.amazonaws.com)"] += 1
        return
    identity = event.get("userIdentity")
    entity = ""
    if isinstance(identity, dict):
        for key in ("arn", "userName", "principalId"):
            value = identity.get(key)
            if isinstance(value, str) and value.strip():
                entity = value
                break
    if not entity:
        out.skipped["without an identity (userIdentity has no arn, userName or principalId)"] += 1
        return
    out.add(entity, ip, number)


def _field(record: dict[str, Any], path: str) -> object:
    value: object = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _read_jsonl(lines: Iterator[str], name: str, out: LogColumns, entity_field: str, ip_field: str) -> None:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            out.bad(name, number, f"not valid JSON ({_brief(exc)})")
            continue
        if not isinstance(record, dict):
            out.bad(name, number, f"expected a JSON object, got {type(record).__name__}")
            continue
        entity, ip = _field(record, entity_field), _field(record, ip_field)
        missing = [
            f for f, v in ((entity_field, entity), (ip_field, ip)) if v is None or isinstance(v, dict | list)
        ]
        if missing:
            out.bad(
                name, number, f"no {' or '.join(repr(m) for m in missing)} value (--entity-field/--ip-field)"
            )
            continue
        out.add(str(entity), str(ip), number)


def _read_csv_header(
    lines: Iterator[str], name: str, out: LogColumns, entity_field: str, ip_field: str
) -> None:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(f"{name} line 1: the header cannot be read ({exc})") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    index = {}
    for option, wanted in (("--entity-field", entity_field), ("--ip-field", ip_field)):
        if wanted not in header:
            raise DataError(
                f"{name}: the header has no column {wanted!r} ({option}); its columns are {', '.join(header)}"
            )
        index[wanted] = header.index(wanted)
    e, i = index[entity_field], index[ip_field]
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.bad(name, start, f"cannot be read as CSV ({exc})")
            continue
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            out.bad(name, start, f"expected {len(header)} columns as in the header, got {len(row)}")
            continue
        out.add(row[e], row[i], start)


def _read_parquet(path: Path | None, name: str, out: LogColumns, entity_field: str, ip_field: str) -> None:
    import pyarrow.parquet as pq

    out.unit = "row"
    if path is None:
        raise ConfigError("--format parquet reads files, not standard input; give the file or folder")
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family
        raise DataError(f"{name}: cannot read as Parquet ({exc})") from None
    names = parquet.schema_arrow.names
    for option, wanted in (("--entity-field", entity_field), ("--ip-field", ip_field)):
        if wanted not in names:
            raise DataError(f"{name}: no column {wanted!r} ({option}); its columns are {', '.join(names)}")
    number = 0
    for batch in parquet.iter_batches(columns=[entity_field, ip_field], batch_size=65536):
        entities = batch.column(0).to_pylist()
        ips = batch.column(1).to_pylist()
        for entity, ip in zip(entities, ips, strict=True):
            number += 1
            if entity is None or ip is None:
                out.bad(name, number, f"null {entity_field if entity is None else ip_field}")
                continue
            out.add(str(entity), str(ip), number)


# -- files ------------------------------------------------------------------------------------


def _files(source: str | os.PathLike[str]) -> list[tuple[str, Path | None]]:
    """(name, path) of each file to read; ``("<stdin>", None)`` for ``-``."""
    if str(source) == "-":
        return [("<stdin>", None)]
    root = Path(source)
    if not root.is_dir():
        if not root.exists():
            raise DataError(f"{root}: no such file or directory")
        return [(str(root), root)]
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder, n) for n in names if not n.startswith(".") and Path(folder, n).is_file()]
    if not found:
        raise DataError(f"{root}: the directory holds no files")
    return [(str(p), p) for p in sorted(found, key=lambda p: p.relative_to(root).parts)]


@contextmanager
def _open_text(path: Path | None, name: str) -> Iterator[Iterator[str]]:
    """Lines of a file (or stdin) as text, gunzipped when it starts with gzip's magic bytes.

    Undecodable bytes become U+FFFD: a log line with one stray byte still holds its login.
    """
    try:
        raw = open(path, "rb") if path is not None else sys.stdin.buffer  # noqa: SIM115 - closed below
        buffered: IO[bytes] = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type, type-var]  # any binary stream with readinto (a replaced stdin) works
        if buffered.peek(2)[:2] == _GZIP_MAGIC:  # type: ignore[attr-defined]
            buffered = gzip.GzipFile(fileobj=buffered)  # type: ignore[assignment]
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None
    text = io.TextIOWrapper(buffered, encoding="utf-8", errors="replace", newline="")  # type: ignore[arg-type]

    def lines() -> Iterator[str]:
        try:
            yield from text
        except (OSError, EOFError) as exc:  # a truncated or damaged gzip file
            raise DataError(f"{name}: cannot read to the end ({exc})") from None

    try:
        yield lines()
    finally:
        if path is not None:
            raw.close()


# -- from strings to Pairs --------------------------------------------------------------------


def _to_pairs(
    columns: LogColumns, kind: LogFormat, max_bad_fraction: float, warn: TextIO, max_reported: int
) -> Pairs:
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise DataError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
    ok, hi, lo = parse_ips([ip.strip() for ip in columns.ips])
    entities = [e.strip() for e in columns.entities]
    bad_rows = list(columns.bad_rows)
    num_bad = columns.num_bad_rows
    good = ok.copy()
    for row in np.flatnonzero(~ok).tolist():
        if len(bad_rows) < 2000:
            bad_rows.append(BadRow(*columns.where(row), describe_bad_ip(columns.ips[row].strip())))
    for row, entity in enumerate(entities):
        reason = "empty entity" if not entity else describe_bad_entity(entity)
        if reason is not None and good[row]:
            good[row] = False
            if len(bad_rows) < 2000:
                bad_rows.append(BadRow(*columns.where(row), reason))
    num_bad += int((~good).sum())
    order = {name: k for k, (_, name) in enumerate(columns.files)}
    bad_rows.sort(key=lambda b: (order.get(b.source, 0), b.line))
    unit = columns.unit
    for k, bad in enumerate(bad_rows[:max_reported], start=1):
        print(f"{bad.source} {unit} {bad.line}: {bad.reason} ({unit} skipped; {k} bad so far)", file=warn)
    if columns.skipped:
        counts = ", ".join(f"{n:,} {why}" for why, n in columns.skipped.most_common())
        print(
            f"{columns.source}: {sum(columns.skipped.values()):,} {unit}s hold no login and were skipped: {counts}",
            file=warn,
        )
    rows = np.flatnonzero(good)
    total = len(columns) + columns.num_bad_rows
    if total == 0:
        raise DataError(
            f"{columns.source}: no logins found in the {kind.value} input{_skipped_hint(columns)}"
        )
    if not len(rows):
        raise DataError(
            f"{columns.source}: none of the {total} logins read as {kind.value} is a valid entity,ip pair "
            f"(first problem: {bad_rows[0].source} {unit} {bad_rows[0].line}: {bad_rows[0].reason})"
        )
    if num_bad > max_bad_fraction * total:
        first = bad_rows[0]
        raise DataError(
            f"{columns.source}: {num_bad} of {total} logins are bad "
            f"({100 * num_bad / total:.2f} % > the {100 * max_bad_fraction:g} % limit; "
            f"first: {first.source} {unit} {first.line}: {first.reason}); fix the input or raise --max-bad-fraction"
        )
    entity_hash = hash_entities([entities[i] for i in rows.tolist()])
    ip_hi, ip_lo = hi[rows], lo[rows]
    report = ReadReport(
        source=columns.source,
        num_rows=len(rows),
        num_bad_rows=num_bad,
        num_distinct_entities=len(sorted_unique(entity_hash)),
        num_ipv6_rows=int((~is_ipv4(ip_hi, ip_lo)).sum()),
        num_files=len(columns.files),
        first_bad_rows=bad_rows[:max_reported],
    )
    return Pairs(entity_hash, ip_hi, ip_lo, report)


def _skipped_hint(columns: LogColumns) -> str:
    if not columns.skipped:
        return ""
    why, n = columns.skipped.most_common(1)[0]
    return f" ({n:,} {columns.unit}s {why}; is this the right --format?)"


def _format(value: str) -> LogFormat:
    try:
        return LogFormat(value)
    except ValueError:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {value!r}") from None


def _no_fields(kind: LogFormat, entity_field: str | None, ip_field: str | None) -> None:
    given = [o for o, v in (("--entity-field", entity_field), ("--ip-field", ip_field)) if v]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} choose fields of jsonl, csv-header and parquet input "
            f"(and --ip-field x-forwarded-for of combined); --format {kind.value} has fixed fields"
        )


def _brief(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]


#: What each format reads, for the CLI help.
FORMAT_HELP = (
    "input format: csv (headerless entity,ip), sshd (OpenSSH auth.log Accepted lines; sshd-all also "
    "Failed ones), combined (nginx/Apache combined or common log: %%u and %%h), cloudtrail (AWS CloudTrail "
    "Records files, .json.gz), jsonl, csv-header, parquet (fields by --entity-field/--ip-field)"
)


def as_pairs(
    source: Any,
    name: str,
    *,
    format: str = "csv",
    entity_field: str | None = None,
    ip_field: str | None = None,
    max_bad_fraction: float = 0.01,
) -> Pairs:
    """Logins in any form the API takes, as :class:`~ipinsights.data.Pairs`.

    The one adapter behind ``IPInsights.fit``, the baselines and ``evaluate``, so that they
    accept the same inputs with the same rules:

    * :class:`~ipinsights.data.Pairs`: returned as they are;
    * a pandas DataFrame: its columns ``entity`` and ``ip`` when it has both (other columns,
      like a ``timestamp``, are ignored), else its two columns, entity first;
    * a path (file, ``.gz`` file or directory) or ``"-"``: read with :func:`read_log` in
      ``format`` (headerless ``entity,ip`` CSV by default);
    * a binary stream: headerless ``entity,ip`` CSV (:func:`~ipinsights.data.read_pairs`).

    Args:
        source: The logins.
        name: What they are (``"train"``, ``"normal"``, ...), for messages; a DataFrame's pairs
            report ``"<name> DataFrame"`` as their source.
        format, entity_field, ip_field: How to read a path (:func:`read_log`).
        max_bad_fraction: Stop with :class:`DataError` if more than this share of rows is bad.

    Raises:
        DataError: An empty DataFrame or one without those columns, an unreadable input, too
            many bad rows, or a ``source`` of another type.
        ConfigError: An unknown format or a field option it does not take.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"timestamp": [0, 1], "entity": ["alice", "bob"], "ip": ["10.0.0.1", "::1"]})
        >>> pairs = as_pairs(frame, "train")
        >>> len(pairs), pairs.report.source, pairs.report.num_ipv6_rows
        (2, 'train DataFrame', 1)
    """
    if isinstance(source, Pairs):
        return source
    if hasattr(source, "iloc") and hasattr(source, "columns"):
        if {"entity", "ip"} <= set(source.columns):
            entity, ip = source["entity"], source["ip"]
        elif source.shape[1] == 2:
            entity, ip = source.iloc[:, 0], source.iloc[:, 1]
        else:
            raise DataError(
                f"{name}: a DataFrame needs exactly 2 columns (entity, ip) or columns named entity and ip; "
                f"got {list(source.columns)}"
            )
        if not len(source):
            raise DataError(f"{name}: the DataFrame has 0 rows")
        return pairs_from_columns(
            entity.tolist(), ip.tolist(), source=f"{name} DataFrame", max_bad_fraction=max_bad_fraction
        )
    if isinstance(source, str | os.PathLike):
        return read_log(
            source, format, entity_field=entity_field, ip_field=ip_field, max_bad_fraction=max_bad_fraction
        )
    if hasattr(source, "read"):
        return read_pairs(source, max_bad_fraction=max_bad_fraction)
    raise DataError(
        f"{name}: expected Pairs, a DataFrame (entity, ip), a path or a binary stream, got {type(source).__name__}"
    )
