"""Reading `entity,ip` rows: vectorised CSV splitting into ``Pairs``, with a report of bad rows.

Everything on the hot path works on whole NumPy arrays of byte offsets into the input buffer;
there is no per-row Python loop except for the rare rows that need one (IPv6 text, non-ASCII
entities), and those are handled once per *distinct* value.

**Addresses** are parsed by :mod:`ipinsights.addresses` into its two-word ``(hi, lo)`` form.

**Entities** are hashed by :mod:`ipinsights.entities` (FNV-1a 64 of the stripped UTF-8 bytes).
"""

from __future__ import annotations

import gzip
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from ipinsights._runs import SPACE_BYTES, concat_runs, strip_runs
from ipinsights.addresses import is_ipv4, parse_ip_runs, parse_ips
from ipinsights.entities import hash_runs
from ipinsights.errors import DataError

__all__ = [
    "BadRow",
    "Pairs",
    "ParsedRows",
    "ReadReport",
    "describe_bad_entity",
    "describe_bad_ip",
    "pairs_from_columns",
    "parse_csv_bytes",
    "read_pairs",
    "sorted_unique",
]


#: Reasons a row is rejected, indexed by ``ParsedRows.error``; 0 means the row is good.
REASONS = (
    "",
    "expected 2 columns (entity,ip), got {columns}",
    "empty entity",
    "{ip!r} is not an IP address{why}",
    "not valid UTF-8",
    "the entity contains the control character {char}",
    'a quoted field must end with a quote before the comma or the line end (write a quote inside one as "")',
)
OK, BAD_COLUMNS, EMPTY_ENTITY, BAD_IP, BAD_UTF8, CONTROL_IN_ENTITY, BAD_QUOTE = range(7)
#: The same reasons without the offending text, which is kept for the first 1000 bad rows only.
_PLAIN_REASONS = (
    "",
    "expected 2 columns (entity,ip)",
    "empty entity",
    "not an IP address",
    "not valid UTF-8",
    "the entity contains a control character",
    REASONS[BAD_QUOTE],
)
_ZONE_ID_HINT = (
    " (an IPv6 zone id such as %eth0 names a network interface of one machine and means nothing"
    " elsewhere; remove it)"
)
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark, written by Excel's "CSV UTF-8" and PowerShell
#: C0 control characters and DEL, except the newline (a line end, never inside a run).
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0x20), 0x7F]] = True
_CONTROL[ord("\n")] = False
_CONTROL_TEXT = re.compile(rb"[\x00-\x1f\x7f]")
#: One CSV field, quoted (group 1, RFC 4180) or not (group 2); possessive, so never backtracking.
_FIELD = re.compile(rb'[ \t\r\v\f]*+(?:"((?:[^"]++|"")*+)"[ \t\r\v\f]*+(?=,|\Z)|([^,]*+))')
#: A whole two-field line: each field quoted (groups 1, 3) or plain (groups 2, 4; to be stripped).
_QUOTED_ROW = re.compile(
    rb'[ \t\r\v\f]*+(?:"((?:[^"]++|"")*+)"[ \t\r\v\f]*+|((?!")[^,]*+)),'
    rb'[ \t\r\v\f]*+(?:"((?:[^"]++|"")*+)"[ \t\r\v\f]*+|((?!")[^,]*+))'
)



@dataclass(frozen=True)
class BadRow:
    """One rejected input row: where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source} line {self.line}: {self.reason}"


@dataclass
class ParsedRows:
    """The rows of one buffer, good and bad, in input order.

    Attributes:
        line: 1-based line number of each non-blank row, (n,) int64.
        entity_hash: FNV-1a 64 of the entity, (n,) uint64 (undefined where ``error != 0``).
        ip_hi, ip_lo: the address as two int64 words, (n,) each (undefined where ``error != 0``).
        error: 0 for a good row, else an index into ``REASONS``, (n,) int8.
        detail: the text that went into each bad row's reason, by row index.
        entity_text: with ``keep_text=True``, each row's entity as ``str`` (else ``None``).
        ip_text: with ``keep_text=True``, each row's IP field as ``str`` (else ``None``).
    """

    line: np.ndarray
    entity_hash: np.ndarray
    ip_hi: np.ndarray
    ip_lo: np.ndarray
    error: np.ndarray
    detail: dict[int, dict[str, object]] = field(default_factory=dict)
    entity_text: list[str] | None = None
    ip_text: list[str] | None = None

    def reason(self, i: int) -> str:
        """The human-readable reason row ``i`` was rejected ("" for a good row)."""
        code = int(self.error[i])
        detail = self.detail.get(i)
        return REASONS[code].format(**detail) if detail is not None else _PLAIN_REASONS[code]


@dataclass
class Pairs:
    """Good `(entity, ip)` rows ready for training or scoring.

    Attributes:
        entity_hash: (n,) uint64 FNV-1a hashes of the entities.
        ip_hi, ip_lo: (n,) int64 words of each address (IPv4 mapped into IPv6).
        report: what was read and what was skipped.
    """

    entity_hash: np.ndarray
    ip_hi: np.ndarray
    ip_lo: np.ndarray
    report: ReadReport

    def __len__(self) -> int:
        return len(self.entity_hash)


@dataclass
class ReadReport:
    """Summary of a read: counts, and the first few bad rows with file, line and reason."""

    source: str
    num_rows: int = 0
    num_bad_rows: int = 0
    num_distinct_entities: int = 0
    num_ipv6_rows: int = 0
    num_files: int = 0
    first_bad_rows: list[BadRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows": self.num_rows,
            "bad_rows": self.num_bad_rows,
            "distinct_entities": self.num_distinct_entities,
            "ipv6_rows": self.num_ipv6_rows,
            "files": self.num_files,
        }


def contains_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(n,) bool: each of ``keys`` is in ``sorted_keys`` (sorted, as :func:`sorted_unique` returns)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a sort and a mask (``np.unique`` measured 10-40x slower on int64
    with NumPy 2.4)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _bad_ip_detail(text: str) -> dict[str, object]:
    """The ``detail`` of a row whose IP field ``text`` is not an address (see ``REASONS``)."""
    return {"ip": text[:60], "why": _ZONE_ID_HINT if "%" in text and ":" in text else ""}


def describe_bad_ip(text: str) -> str:
    """Why ``text`` is not taken as an IP address, in one line.

    Example:
        >>> describe_bad_ip("fe80::1%eth0")[:60]
        "'fe80::1%eth0' is not an IP address (an IPv6 zone id such as"
    """
    return REASONS[BAD_IP].format(**_bad_ip_detail(text))


def describe_bad_entity(entity: str) -> str | None:
    """Why ``entity`` cannot be an entity (a control character in it, after stripping), or None.

    Example:
        >>> describe_bad_entity("user\\x00"), describe_bad_entity(" user_1 ")
        ('the entity contains the control character 0x00', None)
    """
    found = _CONTROL_TEXT.search(entity.strip(SPACE_BYTES.decode()).encode("utf-8", "surrogateescape"))
    return None if found is None else REASONS[CONTROL_IN_ENTITY].format(char=f"{found.group()[0]:#04x}")


# ---------------------------------------------------------------------------------------------
# CSV


def _no_strip(buf: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`strip_runs` of a buffer without whitespace."""
    return start, stop


def _unquote_row(line: bytes) -> tuple[int, object]:
    """``(OK, [entity, ip])`` of a line with a quote, unquoted and stripped, or ``(error, detail)``.

    One regular expression for the usual two-field row (about 4x faster than field by field);
    anything else goes to :func:`_split_quoted`, which also says what is wrong.
    """
    match = _QUOTED_ROW.fullmatch(line)
    if match is None:
        code, fields = _split_quoted(line)
        if code != OK:
            return code, fields
        entity, ip = fields  # type: ignore[misc]
    else:
        quoted_entity, entity, quoted_ip, ip = match.groups()
        entity = (entity if quoted_entity is None else quoted_entity.replace(b'""', b'"')).strip(SPACE_BYTES)
        ip = (ip if quoted_ip is None else quoted_ip.replace(b'""', b'"')).strip(SPACE_BYTES)
    bad_char = _CONTROL_TEXT.search(entity)
    if bad_char:
        return CONTROL_IN_ENTITY, {"char": f"{bad_char.group()[0]:#04x}"}
    return OK, [entity, ip]


def _split_quoted(line: bytes) -> tuple[int, object]:
    """Fields of one line that holds a quote, read as RFC 4180; ``(OK, [entity, ip])`` or
    ``(error code, detail)``.

    A field whose first non-blank byte is ``"`` is quoted: it runs to the next lone ``"``, a
    doubled ``""`` inside stands for one quote, and only blanks may follow it before the comma.
    A quote inside an unquoted field is kept as it is (as Python's ``csv`` and pandas read it).
    One regular expression per field with possessive quantifiers: linear in the line, whatever
    its shape.
    """
    fields: list[bytes] = []
    pos = 0
    while True:
        match = _FIELD.match(line, pos)
        assert match is not None  # the unquoted alternative matches the empty string
        quoted, plain = match.group(1, 2)
        if plain is not None and plain.startswith(b'"'):
            return BAD_QUOTE, {}
        value = quoted.replace(b'""', b'"') if plain is None else plain
        fields.append(value.strip(SPACE_BYTES))
        pos = match.end()
        if pos >= len(line):
            break
        pos += 1  # the comma
        if len(fields) == 2:
            rest = line[pos:]
            return BAD_COLUMNS, {"columns": 3 + rest.count(b",") if b'"' not in rest else "3 or more"}
    if len(fields) != 2:
        return BAD_COLUMNS, {"columns": len(fields)}
    return OK, fields


def parse_csv_bytes(data: bytes, *, keep_text: bool = False) -> ParsedRows:
    """Split headerless ``entity,ip`` CSV into rows, parse and hash them, flag bad rows.

    The dialect (docs/design.md, "CSV dialect"): a UTF-8 byte order mark at the start is
    dropped; lines end at LF (a CR before it is whitespace); lines that are empty or only
    whitespace are ignored (not counted as rows); whitespace around fields is stripped; a field
    may be quoted as in RFC 4180 (``"user,1"``, ``"a""b"``) but may not span lines. An entity
    with a control character (U+0000-U+001F or U+007F, after stripping) is a bad row, and so is
    an IPv6 address with a zone id (``fe80::1%eth0``).

    Rows without a quote take the vectorised path; rows with one are split one by one.

    Args:
        data: The whole input (already decompressed).
        keep_text: Also return each row's entity and IP text (needed to echo them back).

    Returns:
        The rows in input order with their line numbers and, for bad rows, the reason.

    Example:
        >>> rows = parse_csv_bytes(b'alice, 10.0.0.1\\nbob,10.0.0.300\\n"carol, jr",10.0.0.2\\n')
        >>> rows.error.tolist(), rows.reason(1)
        ([0, 3, 0], "'10.0.0.300' is not an IP address")
    """
    buf = np.frombuffer(data, dtype=np.uint8, offset=len(_BOM) if data[: len(_BOM)] == _BOM else 0)
    newlines = np.flatnonzero(buf == ord("\n"))
    line_start = np.concatenate(([0], newlines + 1)).astype(np.int64)
    line_stop = np.concatenate((newlines, [len(buf)])).astype(np.int64)
    # Whitespace to strip around lines and fields? Every byte <= 32 that is not a newline would be
    # one (or a control byte, which the full path handles): one pass instead of six gather loops.
    strip = strip_runs if np.count_nonzero(buf <= 32) != len(newlines) else _no_strip
    line_start, line_stop = strip(buf, line_start, line_stop)
    nonblank = np.flatnonzero(line_stop > line_start)
    line_no = nonblank + 1
    line_start, line_stop = line_start[nonblank], line_stop[nonblank]
    n = len(nonblank)

    # Rows with a quote anywhere go the exact, slower way (a quote is not blank, so its line is a row).
    quoted = np.zeros(n, dtype=bool)
    quotes = np.flatnonzero(buf == ord('"'))
    if len(quotes):
        quoted[np.searchsorted(line_start, quotes, side="right") - 1] = True

    commas = np.flatnonzero(buf == ord(","))
    if n and len(commas) == n and (commas >= line_start).all() and (commas < line_stop).all():
        # The common case, checked in two passes: as many commas as rows and comma i inside row
        # i (both sorted), so every row has exactly one.
        num_commas, first_comma = np.ones(n, dtype=np.int64), commas.astype(np.int64)
    else:
        # The row each comma is in; commas on blank lines cannot exist (a comma is not whitespace).
        comma_row = np.searchsorted(line_start, commas, side="right") - 1
        num_commas = np.bincount(comma_row, minlength=n)[:n] if n else np.zeros(0, dtype=np.int64)
        first_comma = np.full(n, -1, dtype=np.int64)
        if len(commas):
            # Commas are sorted, so their rows are too: a row's first comma is where the row changes.
            first = np.concatenate(([True], comma_row[1:] != comma_row[:-1]))
            first_comma[comma_row[first]] = commas[first]

    error = np.zeros(n, dtype=np.int8)
    detail: dict[int, dict[str, object]] = {}
    bad_cols = (num_commas != 1) & ~quoted
    error[bad_cols] = BAD_COLUMNS
    for i in np.flatnonzero(bad_cols)[:1000]:
        detail[int(i)] = {"columns": int(num_commas[i]) + 1}

    comma = np.where(bad_cols | quoted, line_start, first_comma)
    ent_start, ent_stop = strip(buf, line_start, comma)
    ip_start, ip_stop = strip(buf, np.minimum(comma + 1, line_stop), line_stop)
    # Control characters inside an entity (after stripping): found on the whole buffer at once.
    control = np.flatnonzero(_CONTROL[buf]) if strip is strip_runs or (buf == 0x7F).any() else quotes[:0]
    if len(control):
        row = np.searchsorted(line_start, control, side="right") - 1
        inside = (row >= 0) & (control >= ent_start[row]) & (control < ent_stop[row]) & ~quoted[row]
        control, row = control[inside], row[inside]
        first = np.concatenate(([True], row[1:] != row[:-1])) if len(row) else row.astype(bool)
        for i, position in zip(row[first][:1000].tolist(), control[first][:1000].tolist(), strict=True):
            detail[i] = {"char": f"{int(buf[position]):#04x}"}
        error[row[first]] = CONTROL_IN_ENTITY

    # Quoted rows: their unquoted entity and IP are appended after the input, and their runs
    # point there, so that hashing, IP parsing and echoing treat every row alike.
    ebuf = buf
    if quoted.any():
        rows = np.flatnonzero(quoted)
        side: list[bytes] = []
        raw = buf.tobytes()
        good_rows = []
        for i, begin, end in zip(rows.tolist(), line_start[rows].tolist(), line_stop[rows].tolist(), strict=True):
            code, fields = _unquote_row(raw[begin:end])
            if code != OK:
                error[i] = code
                if len(detail) < 2000:
                    detail[i] = fields  # type: ignore[assignment]
                continue
            good_rows.append(i)
            side += fields  # type: ignore[arg-type]
        lengths = np.fromiter(map(len, side), dtype=np.int64, count=len(side))
        ends = len(buf) + np.cumsum(lengths)
        ent_start[rows] = ent_stop[rows] = ip_start[rows] = ip_stop[rows] = 0
        ent_start[good_rows], ent_stop[good_rows] = ends[0::2] - lengths[0::2], ends[0::2]
        ip_start[good_rows], ip_stop[good_rows] = ends[0::2], ends[1::2]
        ebuf = np.concatenate([buf, np.frombuffer(b"".join(side), dtype=np.uint8)])
    if bad_cols.any():
        ent_start, ent_stop = np.where(bad_cols, 0, ent_start), np.where(bad_cols, 0, ent_stop)
        ip_start, ip_stop = np.where(bad_cols, 0, ip_start), np.where(bad_cols, 0, ip_stop)

    good = error == OK
    # UTF-8: only rows with a byte >= 0x80 need checking; they are decoded one by one.
    if len(buf) and (buf >= 0x80).any():
        high = np.flatnonzero(buf >= 0x80)
        high_rows = np.unique(np.searchsorted(line_start, high, side="right") - 1)
        raw = buf.tobytes()
        for i in high_rows:
            if i < 0 or i >= n:
                continue
            try:
                raw[line_start[i] : line_stop[i]].decode("utf-8")
            except UnicodeDecodeError:
                if error[i] == OK:
                    error[i] = BAD_UTF8
                good[i] = False
    empty = good & (ent_stop <= ent_start)
    error[empty] = EMPTY_ENTITY
    good &= ~empty

    entity_hash = np.zeros(n, dtype=np.uint64)
    ip_hi = np.zeros(n, dtype=np.int64)
    ip_lo = np.zeros(n, dtype=np.int64)
    g = np.flatnonzero(good)
    entity_hash[g] = hash_runs(ebuf, ent_start[g], ent_stop[g])
    ok, hi, lo = parse_ip_runs(ebuf, ip_start[g], ip_stop[g])
    ip_hi[g], ip_lo[g] = hi, lo
    bad_ip = g[~ok]
    error[bad_ip] = BAD_IP
    raw_bytes = ebuf.tobytes() if len(bad_ip) or keep_text else b""
    for i in bad_ip[:1000]:
        detail[int(i)] = _bad_ip_detail(raw_bytes[ip_start[i] : ip_stop[i]].decode("utf-8", "replace"))

    parsed = ParsedRows(line_no, entity_hash, ip_hi, ip_lo, error, detail)
    if keep_text:
        parsed.entity_text = [
            raw_bytes[s:e].decode("utf-8", "replace")
            for s, e in zip(ent_start.tolist(), ent_stop.tolist(), strict=True)
        ]
        parsed.ip_text = [
            raw_bytes[s:e].decode("utf-8", "replace")
            for s, e in zip(ip_start.tolist(), ip_stop.tolist(), strict=True)
        ]
    return parsed


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(fh) as gz:
                    return gz.read()
            return fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _channel_files(source: Path) -> list[Path]:
    """The files of a channel: the path itself, or every file under a directory, at any depth.

    A channel is read the way SageMaker fills it from an S3 prefix: ``part/2024/a.csv`` is as
    much part of it as ``a.csv``. Names starting with a dot (files or folders) are skipped; a
    link to a folder is refused (it could loop), naming it.
    """
    if not source.is_dir():
        if not source.exists():
            raise DataError(f"{source}: no such file or directory")
        return [source]
    files = []
    for folder, subfolders, names in os.walk(source):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for d in subfolders:
            if os.path.islink(os.path.join(folder, d)):
                raise DataError(
                    f"{os.path.join(folder, d)}: a link to a folder inside a channel is not followed; "
                    "copy the files into the channel or give the linked folder as the channel"
                )
        files += [Path(folder, name) for name in names if not name.startswith(".") and Path(folder, name).is_file()]
    if not files:
        raise DataError(f"{source}: the directory holds no files (expected headerless entity,ip CSV files)")
    return sorted(files, key=lambda p: p.relative_to(source).parts)


def read_pairs(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    max_bad_fraction: float = 0.01,
    warn: TextIO | None = None,
    max_reported: int = 5,
) -> Pairs:
    """Read headerless ``entity,ip`` CSV from a file, gzip file, directory of files or stream.

    Bad rows (wrong column count, empty entity, not an IP address, not UTF-8) are skipped and
    counted; the first ``max_reported`` are written to ``warn`` (default: stderr) with file,
    line number and reason.

    Args:
        source: A path (file, ``.gz`` file or directory, read with its subdirectories), ``"-"``
            for standard input, or a binary stream.
        max_bad_fraction: Stop with :class:`DataError` if more than this share of rows is bad.
        warn: Where to write bad-row warnings (a text stream); ``sys.stderr`` by default.
        max_reported: How many bad rows to describe individually.

    Returns:
        The good rows and a :class:`ReadReport`.

    Raises:
        DataError: No such file, empty input, no good rows, or too many bad rows.

    Example:
        >>> import io
        >>> pairs = read_pairs(io.BytesIO(b"alice,10.0.0.1\\nbob,2001:db8::1\\n"))
        >>> len(pairs), pairs.report.num_ipv6_rows
        (2, 1)
    """
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<stream>"))
        blobs = [(name, source.read())]  # type: ignore[union-attr]
    elif str(source) == "-":
        name = "<stdin>"
        blobs = [(name, sys.stdin.buffer.read())]
    else:
        name = str(source)
        blobs = [(str(p), _read_bytes(p)) for p in _channel_files(Path(source))]
    collector = _Collector(name, len(blobs), max_reported, warn)
    for file_name, data in blobs:
        collector.add(file_name, parse_csv_bytes(data))
    return collector.finish(max_bad_fraction)


def pairs_from_columns(
    entities: Sequence[object],
    ips: Sequence[object],
    *,
    source: str = "<columns>",
    max_bad_fraction: float = 0.01,
    warn: TextIO | None = None,
    max_reported: int = 5,
) -> Pairs:
    """Like :func:`read_pairs`, for two in-memory columns (e.g. a pandas DataFrame's).

    Bad rows are reported with their 1-based row number as the "line".

    Raises:
        DataError: Different column lengths, empty input, or too many bad rows.
    """
    if len(entities) != len(ips):
        raise DataError(
            f"{source}: {len(entities)} entities but {len(ips)} IP addresses; give one IP per entity"
        )
    entity_text = ["" if e is None else e for e in entities]
    ip_text = ["" if a is None else str(a) for a in ips]
    n = len(entity_text)
    buf, start, stop = concat_runs(entity_text)
    ok, hi, lo = parse_ips(ip_text)
    error = np.zeros(n, dtype=np.int8)
    error[~ok] = BAD_IP
    error[stop == start] = EMPTY_ENTITY
    detail = {int(i): _bad_ip_detail(ip_text[i]) for i in np.flatnonzero(~ok)[:1000]}
    rows = ParsedRows(np.arange(1, n + 1), hash_runs(buf, start, stop), hi, lo, error, detail)
    collector = _Collector(source, 1, max_reported, warn)
    collector.add(source, rows)
    return collector.finish(max_bad_fraction)


class _Collector:
    """Accumulates good rows of several parsed buffers and accounts for the bad ones."""

    def __init__(self, source: str, num_files: int, max_reported: int, warn: TextIO | None) -> None:
        self.report = ReadReport(source=source, num_files=num_files)
        self.max_reported = max_reported
        self.warn = warn if warn is not None else sys.stderr
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, name: str, rows: ParsedRows) -> None:
        report = self.report
        bad = np.flatnonzero(rows.error != OK)
        room = max(0, self.max_reported - len(report.first_bad_rows))
        for k, i in enumerate(bad[:room]):
            bad_row = BadRow(name, int(rows.line[i]), rows.reason(int(i)))
            report.first_bad_rows.append(bad_row)
            print(f"{bad_row} (row skipped; {report.num_bad_rows + k + 1} bad rows so far)", file=self.warn)
        report.num_bad_rows += len(bad)
        good = rows.error == OK
        self.parts.append((rows.entity_hash[good], rows.ip_hi[good], rows.ip_lo[good]))

    def finish(self, max_bad_fraction: float) -> Pairs:
        if not 0.0 <= max_bad_fraction <= 1.0:
            raise DataError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        report = self.report
        entity_hash = np.concatenate([p[0] for p in self.parts]) if self.parts else np.zeros(0, np.uint64)
        ip_hi = np.concatenate([p[1] for p in self.parts]) if self.parts else np.zeros(0, np.int64)
        ip_lo = np.concatenate([p[2] for p in self.parts]) if self.parts else np.zeros(0, np.int64)
        total = len(entity_hash) + report.num_bad_rows
        if total == 0:
            raise DataError(f"{report.source}: the input is empty (expected headerless entity,ip rows)")
        if len(entity_hash) == 0:
            raise DataError(
                f"{report.source}: none of the {total} rows is a valid entity,ip pair "
                f"(first problem: {report.first_bad_rows[0]})"
            )
        if report.num_bad_rows > max_bad_fraction * total:
            raise DataError(
                f"{report.source}: {report.num_bad_rows} of {total} rows are bad "
                f"({100 * report.num_bad_rows / total:.2f} % > the {100 * max_bad_fraction:g} % limit; "
                f"first: {report.first_bad_rows[0]}); fix the input or raise --max-bad-fraction"
            )
        report.num_rows = len(entity_hash)
        report.num_distinct_entities = len(sorted_unique(entity_hash))
        report.num_ipv6_rows = int((~is_ipv4(ip_hi, ip_lo)).sum())
        return Pairs(entity_hash, ip_hi, ip_lo, report)
