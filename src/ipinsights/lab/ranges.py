"""The IPv4 range table the generator draws from, and its readers.

A **range table** (:class:`RangeTable`) lists real IPv4 ranges in address order; one *row* is
one range of one autonomous system. A copy of the ip-location-db ASN table ships with the
package (``RangeTable.builtin()``, read from ``data/asn_ipv4.npz`` beside this module; "IP to
ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), CC BY 4.0,
via ip-location-db."); :meth:`RangeTable.from_file` reads iptoasn TSVs, ip-location-db CSVs and
``.npz`` files, detecting the format from the content.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ipinsights.addresses import format_ipv4_bytes, parse_ipv4_bytes
from ipinsights.errors import ConfigError, DataError
from ipinsights.lab._text import _utf8_bytes

__all__ = ["ATTRIBUTION", "RangeTable"]

ATTRIBUTION = (
    "IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), "
    "CC BY 4.0, via ip-location-db."
)


_TABLE_FORMAT_HINT = (
    "expected an iptoasn TSV (range_start<TAB>range_end<TAB>AS_number<TAB>...), "
    "an ip-location-db CSV (start,end,asn[,org]) or a .npz with begin, end, asn arrays"
)


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
    return format_ipv4_bytes(np.array([int(value)]))[0].decode()


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
    ok, address = parse_ipv4_bytes(text)
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


def _table(ranges: RangeTable | None, *, min_rows: int = 1) -> RangeTable:
    if ranges is None:
        ranges = RangeTable.builtin()
    if not isinstance(ranges, RangeTable):
        raise ConfigError(f"ranges must be a RangeTable or None, got {type(ranges).__name__}")
    if len(ranges) < min_rows:
        raise DataError(f"{ranges.source}: the generator needs at least {min_rows} ranges, got {len(ranges)}")
    return ranges
