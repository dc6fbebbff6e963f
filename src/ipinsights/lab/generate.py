"""Realistic synthetic web logins and the attack sets to evaluate a model on them.

The generator is the public IP Insights example's generative model, made reproducible and fast:

* A **range table** (:class:`RangeTable`) lists real IPv4 ranges in address order; one *row* is
  one range of one autonomous system. A copy of the ip-location-db ASN table ships with the
  package (``RangeTable.builtin()``; "IP to ASN data by RouteViews (routeviews.org), the NRO
  (nro.net) and DB-IP (db-ip.com), CC BY 4.0, via ip-location-db.").
* **Per user:** ``home`` is a uniformly random row; ``work = home + U[-50000, 50000)`` rows (mod
  the table size, redrawn while equal to ``home``); the number of logins is
  ``min(10000, int(50 * (Pareto(a=1) + 1)))`` (median 100, mean about 315); the travel rate is
  ``p_travel ~ Beta(1, 30)`` and the at-home rate ``p_home ~ Beta(3, 5)``.
* **Per login:** with probability ``p_travel`` a uniformly random row; otherwise the home
  (probability ``p_home``) or work row, moved to ``int(Normal(row, 10)) mod size``; the IP is
  uniform inside the chosen row's range; the time is a whole second uniform over ``days``.

Unlike the original script, every draw comes from one ``numpy.random.Generator(PCG64(seed))``,
so a seed gives the same logins, byte for byte, in every process; every user count works; and
the whole simulation is a handful of array operations (no loop over users or logins).

``ipv6_share`` moves that share of the users to IPv6: their home and work networks are /48s
drawn from 2000::/3, each with 1 to 4 /64 subnets, and every non-travel login is a random
address in one of those /64s (travel logins stay random IPv4 rows).

The attack sets pair users *known from the training logins* with an attacker's IP; see
:data:`ATTACKS` and the ``*_attack`` functions for how each one picks the IP.
"""

from __future__ import annotations

import argparse
import gzip
import io
import ipaddress
import itertools
import re
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ipinsights.data import contains_sorted
from ipinsights.errors import ConfigError, DataError

__all__ = [
    "ATTACKS",
    "ATTRIBUTION",
    "RangeTable",
    "add_generate_arguments",
    "generate_logins",
    "make_attacks",
    "nearby_ranges_attack",
    "other_users_attack",
    "random_ipv4_attack",
    "random_range_attack",
    "run_generate",
    "split_by_time",
    "write_attacks",
    "write_dataset",
]

ATTRIBUTION = (
    "IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), "
    "CC BY 4.0, via ip-location-db."
)

#: Names of the attack sets, in the order ``write_attacks`` writes them.
ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")

# The public example's generative model (its constants, under its own names where it had them).
HOME_WORK_DISTANCE_UNIFORM_WINDOW = 50_000
HOME_WORK_LOCALITY_WINDOW_SIGMA = 10
NUM_EVENTS_PARETO_SCALE = 50
MAX_NUM_OF_EVENTS = 10_000
P_TRAVEL_BETA = (1.0, 30.0)
P_HOME_BETA = (3.0, 5.0)
#: Ten days before the example's END_DATE (2018-11-14), so the default window matches it.
DEFAULT_START = "2018-11-04"
IPV6_MAX_SUBNETS = 4
#: A nearby-range attack stays this many rows (3 sigma) away from every row the victim used.
NEARBY_EXCLUSION_ROWS = 3 * HOME_WORK_LOCALITY_WINDOW_SIGMA
NEARBY_MAX_ROWS = 200

_SECONDS_PER_DAY = 86_400
_MAX_REDRAWS = 100
_CHUNK_ROWS = 1 << 15
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_USER_AGENT = (
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/70.0.3538.77 Safari/537.36"
)
_LOG_REQUEST = b' "GET /login_success HTTP/1.1" 200 476 "-" "' + _USER_AGENT + b'"\n'
_TABLE_FORMAT_HINT = (
    "expected an iptoasn TSV (range_start<TAB>range_end<TAB>AS_number<TAB>...), "
    "an ip-location-db CSV (start,end,asn[,org]) or a .npz with begin, end, asn arrays"
)


# ---------------------------------------------------------------------------------------------
# Range table


@dataclass(frozen=True, eq=False)
class RangeTable:
    """IPv4 ranges in ascending address order; one row is one range of one autonomous system.

    Args:
        begin: (num_rows,) first address of each range, as an unsigned 32-bit integer.
        end: (num_rows,) last address of each range (inclusive).
        asn: (num_rows,) autonomous system number of each range.
        source: Where the table came from, for messages.
        num_dropped_overlaps: Ranges that ``from_file`` dropped because they overlapped an
            earlier-starting range.

    Raises:
        DataError: The arrays differ in length, are empty, hold values outside 0..2**32-1, a
            range ends before it begins, or ranges are unsorted or overlap.

    Example:
        >>> table = RangeTable(begin=[16777216, 16778240], end=[16777471, 16779263], asn=[13335, 38803])
        >>> len(table), table.length.tolist(), table.row_of([16778241, 5]).tolist()
        (2, [256, 1024], [1, -1])
    """

    begin: np.ndarray
    end: np.ndarray
    asn: np.ndarray
    source: str = "<arrays>"
    num_dropped_overlaps: int = 0

    def __post_init__(self) -> None:
        arrays = {
            name: _uint32_column(self.source, name, getattr(self, name)) for name in ("begin", "end", "asn")
        }
        sizes = {len(a) for a in arrays.values()}
        if len(sizes) != 1:
            raise DataError(
                f"{self.source}: begin, end and asn must have the same length, got "
                + ", ".join(f"{name}={len(a)}" for name, a in arrays.items())
            )
        begin, end = arrays["begin"], arrays["end"]
        if not len(begin):
            raise DataError(f"{self.source}: the range table has no ranges")
        backwards = np.flatnonzero(end < begin)
        if backwards.size:
            i = int(backwards[0])
            raise DataError(
                f"{self.source}: range {i} ends at {_ip4(end[i])}, before it begins at {_ip4(begin[i])}"
            )
        overlaps = np.flatnonzero(begin[1:] <= end[:-1])
        if overlaps.size:
            i = int(overlaps[0])
            raise DataError(
                f"{self.source}: range {i + 1} ({_ip4(begin[i + 1])} - {_ip4(end[i + 1])}) starts at or "
                f"before the end of range {i} ({_ip4(begin[i])} - {_ip4(end[i])}); ranges must be sorted "
                "by address and must not overlap (RangeTable.from_file sorts them and drops overlaps)"
            )
        for name, values in arrays.items():
            values.flags.writeable = False
            object.__setattr__(self, name, values)

    def __len__(self) -> int:
        return len(self.begin)

    @property
    def length(self) -> np.ndarray:
        """(num_rows,) int64 number of addresses in each range."""
        return self.end.astype(np.int64) - self.begin.astype(np.int64) + 1

    def row_of(self, addresses: Any) -> np.ndarray:
        """Row of each IPv4 address (given as integers), or -1 where no range holds it.

        Args:
            addresses: (n,) integers in 0..2**32-1.

        Returns:
            (n,) int64 row indices.
        """
        addresses = np.asarray(addresses, dtype=np.int64)
        row = np.searchsorted(self.begin, addresses, side="right").astype(np.int64) - 1
        inside = (row >= 0) & (addresses <= self.end[np.maximum(row, 0)])
        return np.where(inside, row, -1)

    def save(self, path: str | Path) -> Path:
        """Write the table as a compact ``.npz`` that :meth:`from_file` reads back.

        Arrays: ``gap`` (addresses skipped before each range), ``length`` and ``asn``; the
        begins are ``cumsum(gap) + cumsum(length) - length`` (delta coding makes the file about
        half the size of plain begin/end arrays).
        """
        path = Path(path)
        begin, length = self.begin.astype(np.int64), self.length
        gap = begin - np.concatenate(([0], begin[:-1] + length[:-1]))
        length_dtype = np.uint32 if length.max() <= 0xFFFF_FFFF else np.uint64
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, gap=gap.astype(np.uint32), length=length.astype(length_dtype), asn=self.asn
            )
        return path

    @classmethod
    def builtin(cls) -> RangeTable:
        """The IPv4 → ASN table shipped with the package (411,960 ranges, 77 % of IPv4).

        IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com),
        CC BY 4.0, via ip-location-db (see ``ipinsights/lab/data/ATTRIBUTION.txt``).
        """
        return _builtin_table()

    @classmethod
    def from_file(cls, path: str | Path) -> RangeTable:
        """Read a range table, detecting its format from its content.

        Accepted formats (optionally gzip-compressed):

        * iptoasn TSV: ``range_start<TAB>range_end<TAB>AS_number<TAB>country<TAB>description``;
        * ip-location-db CSV: ``start,end,asn[,org]``;
        * ``.npz`` with arrays ``begin``, ``end``, ``asn`` or (as written by :meth:`save`)
          ``gap``, ``length``, ``asn``.

        Addresses may be dotted IPv4 (``1.0.0.0``) or integers (``16777216``). Rows with AS
        number 0 ("Not routed") are skipped, as are blank lines and a header line. The rows are
        sorted by address; a range overlapping an earlier-starting one is dropped (counted in
        ``num_dropped_overlaps``).

        Raises:
            DataError: The file is missing or unreadable, or a line is malformed (the message
                names the file, the first bad line and the number of bad lines).

        Example:
            >>> import pathlib, tempfile
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "ranges.csv"
            >>> _ = path.write_text("1.0.0.0,1.0.0.255,13335,CLOUDFLARENET\\n")
            >>> RangeTable.from_file(path).asn.tolist()
            [13335]
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DataError(
                f"range table {path} does not exist; {_TABLE_FORMAT_HINT} (or leave it out to use the built-in table)"
            ) from None
        except OSError as exc:
            raise DataError(f"range table {path} cannot be read: {exc.strerror or exc}") from None
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise DataError(f"range table {path} is not a valid gzip file: {exc}") from None
        if raw[:4] == b"PK\x03\x04":
            return _table_from_npz(raw, str(path))
        return _table_from_text(raw, str(path))


def _uint32_column(source: str, name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{source}: {name} must be a 1-D array, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{source}: {name} must hold integers, got dtype {array.dtype}")
    if array.size and (int(array.min()) < 0 or int(array.max()) > 0xFFFF_FFFF):
        raise DataError(
            f"{source}: {name} must hold values in 0..4294967295, got {array.min()}..{array.max()}"
        )
    return np.array(array, dtype=np.uint32)


def _ip4(value: Any) -> str:
    return str(ipaddress.IPv4Address(int(value)))


@lru_cache(maxsize=1)
def _builtin_table() -> RangeTable:
    raw = (resources.files("ipinsights.lab") / "data" / "asn_ipv4.npz").read_bytes()
    table = _table_from_npz(raw, "built-in range table")
    return RangeTable(begin=table.begin, end=table.end, asn=table.asn, source="built-in ip-location-db table")


def _sorted_table(begin: np.ndarray, end: np.ndarray, asn: np.ndarray, source: str) -> RangeTable:
    """Sort ranges by address and drop every range that overlaps an earlier-starting one."""
    order = np.lexsort((end, begin))
    begin, end, asn = begin[order], end[order], asn[order]
    keep = np.ones(len(begin), dtype=bool)
    if len(begin) > 1 and (begin[1:] <= np.maximum.accumulate(end)[:-1]).any():
        # Rare (one range in the shipped upstream release); a plain loop keeps the rule exact:
        # a range survives when it starts after the end of the last range kept.
        last_end = -1
        for i, (b, e) in enumerate(zip(begin.tolist(), end.tolist(), strict=True)):
            if b <= last_end:
                keep[i] = False
            else:
                last_end = e
    return RangeTable(
        begin=begin[keep],
        end=end[keep],
        asn=asn[keep],
        source=source,
        num_dropped_overlaps=int((~keep).sum()),
    )


def _table_from_npz(raw: bytes, source: str) -> RangeTable:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"range table {source} is not a readable .npz file: {exc}") from None
    names = set(arrays)
    try:
        if {"gap", "length", "asn"} <= names:
            gap = arrays["gap"].astype(np.int64)
            length = arrays["length"].astype(np.int64)
            begin = np.cumsum(gap) + np.cumsum(length) - length
            end = begin + length - 1
        elif {"begin", "end", "asn"} <= names:
            begin, end = arrays["begin"].astype(np.int64), arrays["end"].astype(np.int64)
        else:
            raise DataError(f"range table {source} holds arrays {sorted(names)}; {_TABLE_FORMAT_HINT}")
        asn = arrays["asn"].astype(np.int64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"range table {source}: arrays must be integers ({exc})") from None
    if not (len(begin) == len(end) == len(asn)):
        raise DataError(
            f"range table {source}: arrays differ in length ({len(begin)}, {len(end)}, {len(asn)})"
        )
    for name, values in (("begin", begin), ("end", end), ("asn", asn)):
        if len(values) and (values.min() < 0 or values.max() > 0xFFFF_FFFF):
            raise DataError(f"range table {source}: {name} must hold values in 0..4294967295")
    return _sorted_table(begin, end, asn, source)


def _parse_address_column(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, address) of (n,) ``S`` strings that are dotted IPv4 or integers in 0..2**32-1."""
    ok, address = _parse_ipv4_bytes(text)
    integer = ~ok & (np.char.str_len(text) <= 10) & np.char.isdigit(text)
    if integer.any():
        numbers = text[integer].astype(np.int64)
        address[integer] = numbers
        ok[integer] = numbers <= 0xFFFF_FFFF
    return ok, address


def _table_from_text(raw: bytes, source: str) -> RangeTable:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"range table {source} is not UTF-8 text ({exc}); {_TABLE_FORMAT_HINT}") from None
    lines = _utf8_bytes(text.split("\n"))
    numbers = np.flatnonzero(np.char.strip(lines) != b"") + 1  # 1-based numbers of non-blank lines
    if not numbers.size:
        raise DataError(f"range table {source} is empty; {_TABLE_FORMAT_HINT}")
    first = lines[numbers[0] - 1].decode("utf-8")
    delimiter = "\t" if "\t" in first else ","
    if delimiter not in first:
        raise DataError(
            f"{source} line {numbers[0]}: no tab or comma in {first[:80]!r}; {_TABLE_FORMAT_HINT}"
        )
    if not re.search(r"\d", first.split(delimiter)[0]):
        numbers = numbers[1:]  # a header line
    if not numbers.size:
        raise DataError(f"range table {source} has a header but no ranges; {_TABLE_FORMAT_HINT}")

    # Only the first three fields matter and they never hold the delimiter (names may, quoted).
    rest = lines[numbers - 1]
    num_fields = np.char.count(rest, delimiter.encode()) + 1
    fields = []
    for _ in range(3):
        parts = np.char.partition(rest, delimiter.encode())  # (n, 3): before, delimiter, after
        fields.append(np.char.strip(parts[:, 0], b' "\r\t'))
        rest = parts[:, 2]
    start_text, end_text, asn_text = fields
    start_ok, begin = _parse_address_column(start_text)
    end_ok, end = _parse_address_column(end_text)
    upper = np.char.upper(asn_text)
    asn_digits = np.where(np.char.startswith(upper, b"AS"), np.char.replace(upper, b"AS", b"", 1), asn_text)
    asn_ok = (np.char.str_len(asn_digits) <= 10) & np.char.isdigit(asn_digits)
    asn = np.zeros(len(asn_text), dtype=np.int64)
    asn[asn_ok] = asn_digits[asn_ok].astype(np.int64)
    asn_ok &= asn <= 0xFFFF_FFFF

    reasons = [
        (num_fields < 3, "expected at least 3 columns (start, end, AS number), got {columns}"),
        (~asn_ok, "AS number {asn!r} is not an integer in 0..4294967295"),
        (~start_ok, "start {start!r} is not an IPv4 address (a.b.c.d or an integer)"),
        (~end_ok, "end {end!r} is not an IPv4 address (a.b.c.d or an integer)"),
        (start_ok & end_ok & (end < begin), "the range ends ({end}) before it begins ({start})"),
    ]
    bad = np.logical_or.reduce([mask for mask, _ in reasons])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        reason = next(r for mask, r in reasons if mask[i]).format(
            columns=num_fields[i],
            asn=asn_text[i].decode("utf-8", "replace"),
            start=start_text[i].decode("utf-8", "replace"),
            end=end_text[i].decode("utf-8", "replace"),
        )
        others = int(bad.sum()) - 1
        more = f" ({others} more bad line{'s' if others != 1 else ''})" if others else ""
        raise DataError(f"{source} line {numbers[i]}: {reason}{more}; {_TABLE_FORMAT_HINT}")
    routed = asn != 0  # iptoasn lists unrouted space as AS 0, "Not routed"
    if not routed.any():
        raise DataError(f"range table {source} has no routed ranges (every row has AS number 0)")
    return _sorted_table(begin[routed], end[routed], asn[routed], source)


# ---------------------------------------------------------------------------------------------
# Argument checks


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {name}={value!r}")
    return int(value)


def _check_share(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number in [0, 1], got {name}={value!r}")
    return float(value)


def _check_start(value: Any) -> np.datetime64:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise ConfigError(f"start must be a date or time such as '2018-11-04', got start={value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return np.datetime64(stamp.to_datetime64(), "s")


def _table(ranges: RangeTable | None, *, min_rows: int = 1) -> RangeTable:
    if ranges is None:
        ranges = RangeTable.builtin()
    if not isinstance(ranges, RangeTable):
        raise ConfigError(f"ranges must be a RangeTable or None, got {type(ranges).__name__}")
    if len(ranges) < min_rows:
        raise DataError(f"{ranges.source}: the generator needs at least {min_rows} ranges, got {len(ranges)}")
    return ranges


# ---------------------------------------------------------------------------------------------
# Address text, vectorised


@lru_cache(maxsize=1)
def _octet_pair_text() -> tuple[np.ndarray, np.ndarray]:
    """Text of every pair of octets, ``"a.b."`` and ``"c.d"``, indexed by ``a << 8 | b``."""
    pairs = [(i >> 8, i & 0xFF) for i in range(1 << 16)]
    first = np.array([f"{a}.{b}.".encode() for a, b in pairs], dtype="S8")
    last = np.array([f"{a}.{b}".encode() for a, b in pairs], dtype="S7")
    return first, last


@lru_cache(maxsize=1)
def _hextet_text() -> tuple[np.ndarray, np.ndarray]:
    with_colon = np.array([f"{i:x}:".encode() for i in range(1 << 16)], dtype="S5")
    plain = np.array([f"{i:x}".encode() for i in range(1 << 16)], dtype="S4")
    return with_colon, plain


def _format_ipv4(addresses: np.ndarray) -> np.ndarray:
    """(n,) integer addresses → (n,) ``S15`` dotted text."""
    addresses = np.asarray(addresses, dtype=np.int64)
    first, last = _octet_pair_text()
    # One concatenation of two 65,536-entry tables: 3x faster than one per octet.
    return np.char.add(first[(addresses >> 16) & 0xFFFF], last[addresses & 0xFFFF]).astype("S15")


def _format_ipv6(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """(n,) uint64 address words → (n,) ``S39`` text in the form ``ipaddress`` prints."""
    hi, lo = np.asarray(hi, dtype=np.uint64), np.asarray(lo, dtype=np.uint64)
    shifts = np.array([48, 32, 16, 0], dtype=np.uint64)
    groups = np.concatenate(
        [(hi[:, None] >> shifts) & np.uint64(0xFFFF), (lo[:, None] >> shifts) & np.uint64(0xFFFF)], axis=1
    ).astype(np.intp)  # (n, 8)
    with_colon, plain = _hextet_text()
    text = with_colon[groups[:, 0]]
    for j in range(1, 7):
        text = np.char.add(text, with_colon[groups[:, j]])
    text = np.char.add(text, plain[groups[:, 7]]).astype("S39")
    # Two or more zero groups in a row are written "::" (RFC 5952); rare for random addresses.
    zero = groups == 0
    for i in np.flatnonzero((zero[:, :-1] & zero[:, 1:]).any(axis=1)).tolist():
        text[i] = str(ipaddress.IPv6Address((int(hi[i]) << 64) | int(lo[i]))).encode()
    return text


def _parse_ipv4_bytes(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, address) of (n,) ``S`` dotted IPv4 text, without a loop over rows.

    The dots split each row into four parts; each part's (at most 3) digits are gathered from
    its end. The characters are laid out (width, n) so that every reduction runs over long rows.
    """
    num, width = len(text), text.dtype.itemsize
    chars = np.ascontiguousarray(text.view(np.uint8).reshape(num, width).T)  # (width, num)
    dot = chars == ord(".")
    ok = (((chars >= ord("0")) & (chars <= ord("9"))) | dot | (chars == 0)).all(axis=0)
    dots_so_far = np.cumsum(dot, axis=0, dtype=np.int8)
    ok &= dots_so_far[-1] == 3
    # Dot k (1..3) sits where dots_so_far first reaches k; part k ends before dot k + 1.
    dots_at = np.stack([(dots_so_far < k).sum(axis=0) for k in (1, 2, 3)])  # (3, num)
    ends = np.concatenate([dots_at, (chars != 0).sum(axis=0)[None]])  # (4, num)
    starts = np.concatenate([np.zeros((1, num), dtype=ends.dtype), dots_at + 1])
    ok &= ((ends - starts >= 1) & (ends - starts <= 3)).all(axis=0)
    octets = np.zeros((4, num), dtype=np.int64)
    column = np.arange(num)
    for back, place in enumerate((1, 10, 100)):
        position = ends - 1 - back
        value = chars[np.clip(position, 0, width - 1), column].astype(np.int64) - ord("0")
        octets += np.where(position >= starts, value, 0) * place
    ok &= (octets <= 255).all(axis=0)
    address = np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.int64) @ octets
    return ok, np.where(ok, address, 0)


def _text_array(values: np.ndarray, take: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """pandas ``str`` array from UTF-8 bytes ``values`` (gathered by ``take`` when given)."""
    try:
        import pyarrow as pa
    except ImportError:  # pandas' python-backed strings: slower, same values
        strings = np.char.decode(values, "utf-8")
        return pd.array(strings if take is None else strings[take], dtype="str")
    array = pa.array(values, type=pa.binary()).cast(pa.large_string())
    if take is not None:
        array = array.take(pa.array(take))
    return pd.array(array, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _utf8_bytes(values: Any) -> np.ndarray:
    """(n,) ``S`` array of the UTF-8 encoding of ``values`` (strings)."""
    strings = np.asarray(values, dtype=object)
    try:
        return strings.astype("S")  # ASCII, the usual case: no Python loop
    except UnicodeEncodeError:
        return np.array([str(v).encode("utf-8") for v in strings.tolist()], dtype="S")


def _write_lines(path: Path, columns: Sequence[np.ndarray | bytes]) -> int:
    """Write one line per row, made of ``columns`` side by side; returns the number of rows.

    Each column is an (n,) ``S`` array or a constant ``bytes``. The rows are assembled as one
    byte matrix per chunk and the ``S`` padding (NUL bytes) is dropped in one vectorised step:
    several times faster than ``DataFrame.to_csv`` and byte-identical for identical input.
    """
    num_rows = next(len(c) for c in columns if not isinstance(c, bytes))
    with path.open("wb") as fh:
        for first in range(0, num_rows, _CHUNK_ROWS):
            last = min(num_rows, first + _CHUNK_ROWS)
            parts = []
            for column in columns:
                if isinstance(column, bytes):
                    constant = np.frombuffer(column, dtype=np.uint8)
                    parts.append(np.broadcast_to(constant, (last - first, len(constant))))
                else:
                    block = np.ascontiguousarray(column[first:last])
                    parts.append(block.view(np.uint8).reshape(last - first, block.dtype.itemsize))
            flat = np.concatenate(parts, axis=1).ravel()
            fh.write(flat[flat != 0])
    return num_rows


# ---------------------------------------------------------------------------------------------
# Simulation


class _Logins(NamedTuple):
    """Simulated logins sorted by time: (num_events,) arrays, then (num_users,) ground truth."""

    seconds: np.ndarray  # int64 seconds since start
    user: np.ndarray  # int64 user index
    ip: np.ndarray  # S address text
    row: np.ndarray  # int64 range row drawn by the IPv4 model (also for IPv6 logins)
    travel: np.ndarray  # bool: a travel login (uniformly random row)
    at_home: np.ndarray  # bool: the home network (else work) when not travelling
    home: np.ndarray  # (num_users,) home row
    work: np.ndarray  # (num_users,) work row
    ipv6_user: np.ndarray  # (num_users,) bool
    names: np.ndarray  # (num_users,) S entity names "user_<i>"
    start: np.datetime64


def _draw_work_rows(rng: np.random.Generator, home: np.ndarray, num_rows: int) -> np.ndarray:
    window = HOME_WORK_DISTANCE_UNIFORM_WINDOW
    work = (home + rng.integers(-window, window, size=len(home))) % num_rows
    while (same := np.flatnonzero(work == home)).size:
        work[same] = (home[same] + rng.integers(-window, window, size=same.size)) % num_rows
    return work


def _draw_ipv6(
    rng: np.random.Generator, network: np.ndarray, num_networks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Addresses for logins on IPv6 networks ``network`` (indices < num_networks): (hi, lo) words.

    Network k is a /48 in 2000::/3 with 1..IPV6_MAX_SUBNETS random /64s; a login picks one of
    them uniformly and a uniformly random interface identifier.
    """
    prefix = (1 << 45) | rng.integers(0, 1 << 45, size=num_networks)  # 48 bits, top three 001
    num_subnets = rng.integers(1, IPV6_MAX_SUBNETS + 1, size=num_networks)
    subnets = rng.integers(0, 1 << 16, size=(num_networks, IPV6_MAX_SUBNETS))
    choice = rng.integers(0, num_subnets[network])
    hi = (prefix[network] << 16) | subnets[network, choice]
    lo = rng.integers(0, 1 << 64, size=len(network), dtype=np.uint64)
    return hi.astype(np.uint64), lo


def _simulate(
    num_users: int,
    *,
    seed: int = 0,
    ranges: RangeTable | None = None,
    days: int = 10,
    ipv6_share: float = 0.0,
    start: Any = DEFAULT_START,
) -> _Logins:
    num_users = _check_int("num_users", num_users, minimum=1)
    seed = _check_int("seed", seed, minimum=0)
    days = _check_int("days", days, minimum=1)
    ipv6_share = _check_share("ipv6_share", ipv6_share)
    start_time = _check_start(start)
    table = _table(ranges, min_rows=2)
    num_rows = len(table)
    rng = np.random.Generator(np.random.PCG64(seed))

    home = rng.integers(num_rows, size=num_users)
    work = _draw_work_rows(rng, home, num_rows)
    pareto = rng.pareto(1.0, size=num_users)
    num_events = np.minimum(MAX_NUM_OF_EVENTS, NUM_EVENTS_PARETO_SCALE * (pareto + 1.0)).astype(np.int64)
    p_travel = rng.beta(*P_TRAVEL_BETA, size=num_users)
    p_home = rng.beta(*P_HOME_BETA, size=num_users)

    user = np.repeat(np.arange(num_users), num_events)  # (num_events,)
    num = len(user)
    travel = rng.random(num) < p_travel[user]
    at_home = rng.random(num) < p_home[user]
    centre = np.where(at_home, home[user], work[user])
    # int() truncates towards zero, as in the example, before the wrap-around.
    local = np.trunc(centre + HOME_WORK_LOCALITY_WINDOW_SIGMA * rng.standard_normal(num)).astype(np.int64)
    row = np.where(travel, rng.integers(num_rows, size=num), local % num_rows)
    address = table.begin[row].astype(np.int64) + rng.integers(0, table.length[row])
    window = days * _SECONDS_PER_DAY
    seconds = rng.integers(0, window, size=num)

    ipv6_user = np.zeros(num_users, dtype=bool)
    num_ipv6_users = round(ipv6_share * num_users)
    if num_ipv6_users:
        ipv6_user[rng.choice(num_users, size=num_ipv6_users, replace=False)] = True
    ipv6 = ipv6_user[user] & ~travel
    hi = np.zeros(num if ipv6.any() else 0, dtype=np.uint64)  # IPv6 (hi, lo) words
    lo = np.zeros_like(hi)
    if ipv6.any():
        rank = np.cumsum(ipv6_user) - 1  # index of each IPv6 user among them
        network = 2 * rank[user[ipv6]] + (~at_home[ipv6])  # home, work networks of each user
        hi[ipv6], lo[ipv6] = _draw_ipv6(rng, network, 2 * num_ipv6_users)

    order = _grouped_order(seconds, window)  # by time, ties in generation order
    ipv6, address = ipv6[order], address[order]
    ip = np.empty(num, dtype="S39" if ipv6.any() else "S15")
    ip[~ipv6] = _format_ipv4(address[~ipv6])
    if ipv6.any():
        ip[ipv6] = _format_ipv6(hi[order][ipv6], lo[order][ipv6])
    return _Logins(
        seconds=seconds[order],
        user=user[order],
        ip=ip,
        row=row[order],
        travel=travel[order],
        at_home=at_home[order],
        home=home,
        work=work,
        ipv6_user=ipv6_user,
        names=np.char.add(b"user_", np.arange(num_users).astype("S")),
        start=start_time,
    )


def generate_logins(
    num_users: int,
    *,
    seed: int = 0,
    ranges: RangeTable | None = None,
    days: int = 10,
    ipv6_share: float = 0.0,
    start: Any = DEFAULT_START,
) -> pd.DataFrame:
    """Simulate the web logins of ``num_users`` users with the public example's model.

    Args:
        num_users: Number of users, named ``user_0`` … ``user_<num_users - 1>``.
        seed: Seed of the ``numpy.random.Generator(PCG64(seed))`` that makes every draw.
        ranges: IPv4 range table to draw from (at least 2 rows); ``None`` for the built-in one.
        days: Length of the simulated window; times are whole seconds uniform over it.
        ipv6_share: Share of the users (rounded to a whole number) whose home and work
            networks are IPv6 /48s instead of IPv4 ranges.
        start: First second of the window (anything ``pandas.Timestamp`` accepts); the default
            makes the window end where the example's does, on 2018-11-14.

    Returns:
        DataFrame with columns ``timestamp`` (datetime64[s]), ``entity`` and ``ip`` (str), one
        row per login (about 315 per user on average), sorted by time.

    Raises:
        ConfigError: An argument is out of range.
        DataError: ``ranges`` has fewer than 2 rows.

    Example:
        >>> logins = generate_logins(3, seed=1)
        >>> list(logins.columns), logins["timestamp"].is_monotonic_increasing
        (['timestamp', 'entity', 'ip'], True)
    """
    logins = _simulate(num_users, seed=seed, ranges=ranges, days=days, ipv6_share=ipv6_share, start=start)
    return _logins_frame(logins)


def _logins_frame(logins: _Logins, rows: slice | np.ndarray = slice(None)) -> pd.DataFrame:
    seconds = logins.seconds[rows]
    return pd.DataFrame(
        {
            "timestamp": logins.start + seconds.astype("timedelta64[s]"),
            "entity": _text_array(logins.names, logins.user[rows]),
            "ip": _text_array(logins.ip[rows]),
        }
    )


# ---------------------------------------------------------------------------------------------
# Splits and files


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


def _output_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(
            f"output directory {out} exists and is not a directory; choose another --out"
        ) from None
    except OSError as exc:
        raise ConfigError(f"output directory {out} cannot be created: {exc.strerror or exc}") from None
    return out


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


# ---------------------------------------------------------------------------------------------
# Attack sets


class _Attack(NamedTuple):
    entity: np.ndarray  # (n,) S victim names
    ip: np.ndarray  # (n,) S attacker addresses


class _Known(NamedTuple):
    """The training logins' entities: names sorted, and the code of each login's entity."""

    users: np.ndarray  # (num_users,) S names, sorted
    user: np.ndarray  # (num_logins,) int64 index into users


def _known(train: pd.DataFrame) -> _Known:
    missing = {"entity", "ip"} - set(train.columns)
    if missing:
        raise DataError(
            f"attack sets need training logins with columns entity, ip; missing {sorted(missing)}"
        )
    if not len(train):
        raise DataError("attack sets need training logins: the training frame has 0 rows")
    user, users = pd.factorize(train["entity"].astype(str), sort=True)
    return _Known(_utf8_bytes(users), user.astype(np.int64))


def _attack_rng(seed: int, name: str) -> np.random.Generator:
    seed = _check_int("seed", seed, minimum=0)
    return np.random.Generator(np.random.PCG64([seed, ATTACKS.index(name) + 1]))


def _grouped_order(values: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of integers in [0, bound): sorts unique keys by value (SIMD), 3x faster."""
    num = len(values)
    if bound > np.iinfo(np.int64).max // max(num, 1):
        return np.argsort(values, kind="stable")
    keys = values.astype(np.int64) * num + np.arange(num)
    keys.sort()
    return keys % num


def _nearest_gap(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Distance from each of ``keys`` to the nearest of ``sorted_keys`` (int64, < 2**62)."""
    padded = np.concatenate(([-(1 << 62)], sorted_keys, [1 << 62]))
    position = np.searchsorted(padded, keys)
    return np.minimum(keys - padded[position - 1], padded[position] - keys)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy's hash-based unique is 10-30x slower on int64 here)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _text_hash(text: np.ndarray) -> np.ndarray:
    """(n,) uint64 hash of (n,) ``S`` strings: equal strings hash equal, others almost never."""
    width = -(-text.dtype.itemsize // 8) * 8
    words = np.zeros((len(text), width), dtype=np.uint8)
    words[:, : text.dtype.itemsize] = text.view(np.uint8).reshape(len(text), text.dtype.itemsize)
    hashed = np.full(len(text), 0xCBF29CE484222325, dtype=np.uint64)
    for word in words.view(np.uint64).T:
        hashed = (hashed ^ word) * np.uint64(0x100000001B3)
        hashed ^= hashed >> np.uint64(29)
    return hashed


def _ipv6_networks(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, /48 prefix as uint64) of (n,) ``S`` IPv6 text (a loop over distinct values)."""
    distinct, inverse = np.unique(text, return_inverse=True)
    ok, net = np.zeros(len(distinct), dtype=bool), np.zeros(len(distinct), dtype=np.uint64)
    for i, value in enumerate(distinct.tolist()):
        try:
            net[i] = int(ipaddress.IPv6Address(value.decode("utf-8", "replace").strip())) >> 80
            ok[i] = True
        except ValueError:
            pass
    return ok[inverse], net[inverse]


def _random_range(train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    rng, table, known = _attack_rng(seed, "random_range"), _table(ranges), _known(train)
    victim = rng.integers(len(known.users), size=n)
    row = rng.integers(len(table), size=n)
    address = table.begin[row].astype(np.int64) + rng.integers(0, table.length[row])
    return _Attack(known.users[victim], _format_ipv4(address))


def _random_ipv4(train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    rng, known = _attack_rng(seed, "random_ipv4"), _known(train)
    victim = rng.integers(len(known.users), size=n)
    octets = rng.integers(0, 256, size=(n, 4))
    return _Attack(known.users[victim], _format_ipv4(octets @ np.array([1 << 24, 1 << 16, 1 << 8, 1])))


def _other_users(train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    rng, known = _attack_rng(seed, "other_users"), _known(train)
    if len(known.users) < 2:
        raise DataError("the other_users attack needs training logins of at least 2 users, got 1")
    text = _utf8_bytes(train["ip"].astype(str))
    ip_hash = _text_hash(text)
    # (victim, ip) pairs seen in training, as hashes: a collision can only reject a candidate.
    pair = ip_hash ^ (known.user.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    used = _sorted_unique(pair)
    victim = rng.integers(len(known.users), size=n)
    chosen = np.full(n, -1, dtype=np.int64)  # the login whose IP each row takes
    todo = np.arange(n)
    for _ in range(_MAX_REDRAWS):
        if not todo.size:
            break
        login = rng.integers(len(known.user), size=todo.size)
        key = ip_hash[login] ^ (victim[todo].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        ok = (known.user[login] != victim[todo]) & ~contains_sorted(used, key)
        chosen[todo[ok]] = login[ok]
        todo = todo[~ok]
    if todo.size:
        raise DataError(
            f"the other_users attack found no IP of another user that {todo.size} victims never used, "
            f"after {_MAX_REDRAWS} draws; the training logins share too many IPs"
        )
    return _Attack(known.users[victim], text[chosen])


def _nearby_ranges(
    train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None, max_rows: int = NEARBY_MAX_ROWS
) -> _Attack:
    max_rows = _check_int("max_rows", max_rows, minimum=NEARBY_EXCLUSION_ROWS + 1)
    rng, table, known = _attack_rng(seed, "nearby_ranges"), _table(ranges), _known(train)
    num_rows, num_users = len(table), len(known.users)
    text = _utf8_bytes(train["ip"].astype(str))
    ipv4, address = _parse_ipv4_bytes(text)
    login_row = np.where(ipv4, table.row_of(address), -1)  # (num_logins,)
    login_v6 = np.zeros(len(text), dtype=bool)
    login_net = np.zeros(len(text), dtype=np.uint64)  # the /48 of IPv6 logins
    not_ipv4 = np.flatnonzero(~ipv4)
    maybe_v6 = not_ipv4[np.char.find(text[not_ipv4], b":") >= 0]
    if maybe_v6.size:
        login_v6[maybe_v6], login_net[maybe_v6] = _ipv6_networks(text[maybe_v6])

    # Rows each user came from, keyed user * 3R + R + row: a query at +-R finds wrapped distances.
    in_table = login_row >= 0
    rows_used = _sorted_unique(known.user[in_table] * 3 * num_rows + num_rows + login_row[in_table])
    nets = _sorted_unique(login_net[login_v6])
    net_code = np.searchsorted(nets, login_net[login_v6])
    nets_used = _sorted_unique(known.user[login_v6] * max(len(nets), 1) + net_code)

    usable = np.flatnonzero(in_table | login_v6)  # logins that can anchor an attack
    anchors = usable[_grouped_order(known.user[usable], num_users)]
    count = np.bincount(known.user[usable], minlength=num_users)
    first = np.cumsum(count) - count
    candidates = np.flatnonzero(count)
    if not candidates.size:
        raise DataError(
            f"the nearby_ranges attack needs training IPs inside the range table ({table.source}); none are"
        )
    victim = candidates[rng.integers(len(candidates), size=n)]
    hi_out, lo_out = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    ipv6_out = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    for _ in range(_MAX_REDRAWS):
        if not todo.size:
            break
        v = victim[todo]
        login = anchors[first[v] + rng.integers(0, count[v])]
        target = (login_row[login] + rng.integers(-max_rows, max_rows + 1, size=todo.size)) % num_rows
        query = v * 3 * num_rows + num_rows + target
        gap = np.min([_nearest_gap(rows_used, query + shift) for shift in (-num_rows, 0, num_rows)], axis=0)
        good_v4 = (login_row[login] >= 0) & (gap > NEARBY_EXCLUSION_ROWS)
        address = table.begin[target].astype(np.int64) + rng.integers(0, table.length[target])

        # IPv6 anchor: another /48 in the anchor's /32 (same provider), one the victim never used.
        net = (login_net[login] >> np.uint64(16) << np.uint64(16)) | rng.integers(
            0, 1 << 16, size=todo.size, dtype=np.uint64
        )
        position = np.searchsorted(nets, net)
        seen = contains_sorted(nets, net) & contains_sorted(nets_used, v * max(len(nets), 1) + position)
        good_v6 = login_v6[login] & ~seen
        subnet = rng.integers(0, 1 << 16, size=todo.size, dtype=np.uint64)
        interface = rng.integers(0, 1 << 64, size=todo.size, dtype=np.uint64)

        lo_out[todo[good_v4]] = address[good_v4].astype(np.uint64)
        hi_out[todo[good_v6]] = (net[good_v6] << np.uint64(16)) | subnet[good_v6]
        lo_out[todo[good_v6]] = interface[good_v6]
        ipv6_out[todo[good_v6]] = True
        todo = todo[~(good_v4 | good_v6)]
    if todo.size:
        raise DataError(
            f"the nearby_ranges attack found no range within {max_rows} rows that {todo.size} victims never "
            f"came within {NEARBY_EXCLUSION_ROWS} rows of, after {_MAX_REDRAWS} draws; raise max_rows (or use a larger "
            "range table)"
        )
    ip = np.empty(n, dtype="S39" if ipv6_out.any() else "S15")
    ip[~ipv6_out] = _format_ipv4(lo_out[~ipv6_out].astype(np.int64))
    if ipv6_out.any():
        ip[ipv6_out] = _format_ipv6(hi_out[ipv6_out], lo_out[ipv6_out])
    return _Attack(known.users[victim], ip)


_ATTACK_BUILDERS = {
    "random_range": _random_range,
    "random_ipv4": _random_ipv4,
    "other_users": _other_users,
    "nearby_ranges": _nearby_ranges,
}


def _attack(name: str, train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    if name not in _ATTACK_BUILDERS:
        raise ConfigError(f"unknown attack set {name!r}; choose one of {', '.join(ATTACKS)}")
    n = _check_int("n", n, minimum=0)
    return _ATTACK_BUILDERS[name](train, n, seed, ranges)


def _attack_frame(attack: _Attack) -> pd.DataFrame:
    return pd.DataFrame({"entity": _text_array(attack.entity), "ip": _text_array(attack.ip)})


def random_range_attack(
    train: pd.DataFrame, n: int, *, seed: int = 0, ranges: RangeTable | None = None
) -> pd.DataFrame:
    """The example's attack: a random known user, an IP from a uniformly random range row.

    Each of the ``n`` rows pairs a user drawn uniformly from the entities of ``train`` with an
    address drawn uniformly inside a uniformly random row of ``ranges`` (the built-in table by
    default), exactly as the generator draws a travel login. About 3 % of normal logins are
    travel logins of this kind, which caps how well any model separates the two.

    Args:
        train: Training logins (columns ``entity``, ``ip``); only their entities are used.
        n: Number of rows.
        seed: Seed; each attack set derives its own stream from it.
        ranges: Range table; ``None`` for the built-in one.

    Returns:
        DataFrame with columns ``entity``, ``ip``.

    Raises:
        DataError: ``train`` is empty or lacks the columns.

    Example:
        >>> random_range_attack(generate_logins(3), 2).columns.tolist()
        ['entity', 'ip']
    """
    return _attack_frame(_attack("random_range", train, n, seed, ranges))


def random_ipv4_attack(
    train: pd.DataFrame, n: int, *, seed: int = 0, ranges: RangeTable | None = None
) -> pd.DataFrame:
    """A random known user with an IPv4 address whose four octets are uniform in 0..255.

    These are the negatives of SageMaker's validation metric; a quarter of them fall outside
    routed space, so they are the easiest attack set. ``ranges`` is accepted for a uniform
    signature and ignored. Args, Returns and Raises as for :func:`random_range_attack`.

    Example:
        >>> len(random_ipv4_attack(generate_logins(3), 4, seed=7))
        4
    """
    return _attack_frame(_attack("random_ipv4", train, n, seed, ranges))


def other_users_attack(
    train: pd.DataFrame, n: int, *, seed: int = 0, ranges: RangeTable | None = None
) -> pd.DataFrame:
    """A random known user with an IP that *other* users logged in from (residential proxies).

    The IP is drawn uniformly from the training logins of other users (so busy IPs are drawn
    more often), redrawn while the victim itself used it in ``train``. Every attacker address
    is thus a real, "normal-looking" residential address, only not the victim's.
    ``ranges`` is accepted for a uniform signature and ignored.

    Raises:
        DataError: ``train`` has fewer than 2 users, or no usable IP was found for some victims
            after 100 draws.

    Example:
        >>> len(other_users_attack(generate_logins(3), 4))
        4
    """
    return _attack_frame(_attack("other_users", train, n, seed, ranges))


def nearby_ranges_attack(
    train: pd.DataFrame,
    n: int,
    *,
    seed: int = 0,
    ranges: RangeTable | None = None,
    max_rows: int = NEARBY_MAX_ROWS,
) -> pd.DataFrame:
    """A known user with an IP from a range *near* one they use, but outside their usual area.

    For each row: a victim drawn uniformly from the known users; an anchor drawn uniformly from
    the victim's training logins (so mostly their home and work areas); then an IPv4 row within
    ``max_rows`` rows of the anchor's row, redrawn while it lies within
    ``NEARBY_EXCLUSION_ROWS`` (3 sigma of the generator's locality, 30 rows) of *any* row the
    victim used in training; the IP is uniform inside that row. For an IPv6 anchor the IP is a
    random address in another /48 of the anchor's /32 (same provider, a network the victim never
    used). This is the hard case: same region of the address space, different networks.

    Args:
        train, n, seed, ranges: As for :func:`random_range_attack`.
        max_rows: Largest distance in rows from the anchor (> 30).

    Raises:
        DataError: No training IP lies in ``ranges``, or no suitable row was found for some
            victims after 100 draws (a range table too small for the distances).

    Example:
        >>> len(nearby_ranges_attack(generate_logins(3), 4))
        4
    """
    _check_int("n", n, minimum=0)
    return _attack_frame(_nearby_ranges(train, n, seed, ranges, max_rows))


def make_attacks(
    name: str, train: pd.DataFrame, n: int, seed: int = 0, *, ranges: RangeTable | None = None
) -> pd.DataFrame:
    """Build the attack set ``name`` (one of :data:`ATTACKS`) from the training logins.

    Args:
        name: ``random_range``, ``random_ipv4``, ``other_users`` or ``nearby_ranges``.
        train: Training logins (columns ``entity``, ``ip``); the victims are its entities.
        n: Number of rows.
        seed: Seed; every attack set derives its own stream from it.
        ranges: Range table for the range-based sets; ``None`` for the built-in one.

    Returns:
        DataFrame with columns ``entity`` and ``ip``, ``n`` rows.

    Raises:
        ConfigError: Unknown ``name`` or negative ``n``.
        DataError: See the function of each set.

    Example:
        >>> make_attacks("random_range", generate_logins(3), 2, seed=1).shape
        (2, 2)
    """
    return _attack_frame(_attack(name, train, n, seed, ranges))


def write_attacks(
    out_dir: str | Path,
    train: pd.DataFrame,
    n: int,
    *,
    seed: int = 0,
    ranges: RangeTable | None = None,
    names: Sequence[str] = ATTACKS,
) -> dict[str, Path]:
    """Write ``attack_<name>.csv`` (headerless ``entity,ip``, ``n`` rows) for each attack set.

    Returns:
        ``{name: path}``.

    Example:
        >>> import tempfile
        >>> sorted(write_attacks(tempfile.mkdtemp(), generate_logins(3), 5, names=["random_ipv4"]))
        ['random_ipv4']
    """
    out = _output_dir(out_dir)
    paths = {}
    for name in names:
        attack = _attack(name, train, n, seed, ranges)
        path = out / f"attack_{name}.csv"
        _write_lines(path, [attack.entity, b",", attack.ip, b"\n"])
        paths[name] = path
    return paths


# ---------------------------------------------------------------------------------------------
# Command line


def add_generate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``ipinsights generate`` to ``parser`` (every help shows its default).

    Example:
        >>> args = add_generate_arguments(argparse.ArgumentParser()).parse_args(["--out", "data"])
        >>> args.users, args.seed, args.ranges, args.attacks
        (10000, 0, 'builtin', 0)
    """
    # Each help ends in %(default)s, so argparse.ArgumentDefaultsHelpFormatter adds nothing more.
    parser.add_argument(
        "--users",
        type=int,
        default=10_000,
        metavar="N",
        help="number of simulated users (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="random seed; the same seed writes the same bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        required=True,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="output directory, created if needed (required)",
    )
    parser.add_argument(
        "--ranges",
        default="builtin",
        metavar="FILE",
        help="IPv4 range table: 'builtin' (ip-location-db, CC BY 4.0) or an iptoasn TSV, "
        "ip-location-db CSV or .npz file, optionally gzipped (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=None,
        metavar="D",
        help="length of the simulated window; must equal the sum of the three periods, "
        "which None stands for (default: %(default)s)",
    )
    parser.add_argument(
        "--train-days", type=int, default=7, metavar="D", help="days in train.csv (default: %(default)s)"
    )
    parser.add_argument(
        "--validation-days",
        type=int,
        default=1,
        metavar="D",
        help="days in validation.csv (default: %(default)s)",
    )
    parser.add_argument(
        "--test-days",
        type=int,
        default=2,
        metavar="D",
        help="days in test.csv, logins of users seen in training only (default: %(default)s)",
    )
    parser.add_argument(
        "--ipv6-share",
        type=float,
        default=0.0,
        metavar="X",
        help="share of users on IPv6 home/work networks, 0..1 (default: %(default)s)",
    )
    parser.add_argument(
        "--apache-log",
        action="store_true",
        help="also write access.log in Apache combined format (default: %(default)s)",
    )
    parser.add_argument(
        "--attacks",
        type=int,
        default=0,
        metavar="N",
        help=f"also write N rows of each attack set to attack_<name>.csv: {', '.join(ATTACKS)} "
        "(default: %(default)s)",
    )
    return parser


def run_generate(args: argparse.Namespace) -> int:
    """Run ``ipinsights generate`` with parsed ``args``; prints what it wrote. Returns 0.

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
