"""Text columns as NumPy byte strings: the lab's fast path from arrays to files and frames.

The generator writes hundreds of thousands of rows per second by never making a Python string
per row: addresses are formatted and parsed as ``S`` arrays, whole lines are assembled as byte
matrices (:func:`_write_lines`), and frames get pandas string arrays straight from the bytes
(:func:`_text_array`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipinsights.errors import ConfigError

_CHUNK_ROWS = 1 << 15


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
