"""Addresses as two int64 words: the representation, parsing, formatting, random draws, prefix levels.

**Representation.** Every address is two int64 words ``(hi, lo)`` of its 128-bit IPv6 form;
IPv4 ``a.b.c.d`` is stored as the IPv4-mapped address ``::ffff:a.b.c.d`` (RFC 4291 §2.5.5.2),
so ``hi == 0`` and ``lo == IPV4_MAPPED | ipv4``. One array pair then holds both families, and
the family of an address is :func:`is_ipv4`, which works on NumPy arrays and torch tensors alike.

**Prefix levels.** :data:`ENCODER_LEVELS` are the networks the model's prefix tables index and
:data:`NETWORK_LEVELS` those the entity history counts in; each level names the prefix length
kept in each family, so an IPv4 level and its IPv6 counterpart are defined in one place.

Only :func:`random_ips` needs PyTorch, and imports it when called: reading and parsing data
does not load it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from ipinsights._runs import concat_runs

if TYPE_CHECKING:
    import torch

__all__ = [
    "ENCODER_LEVELS",
    "IPV4_MAPPED",
    "NETWORK_LEVELS",
    "PrefixLevel",
    "format_ips",
    "format_ipv4_bytes",
    "format_ipv6_bytes",
    "is_ipv4",
    "network",
    "parse_ip_runs",
    "parse_ips",
    "parse_ipv4_bytes",
    "random_ips",
]

#: ``lo`` of ``::ffff:0.0.0.0``; an IPv4 address's ``lo`` is this ORed with its 32-bit value.
IPV4_MAPPED = 0xFFFF_0000_0000
_MAX_IPV4_TEXT = 15  # "255.255.255.255"
_MAX_IP_TEXT = 45  # longest IPv6 text form (IPv4-mapped with full groups)
_GLOBAL_UNICAST_TOP = 0x2 << 60  # 2000::/3, the IPv6 global unicast space
_TOP61 = (1 << 61) - 1

#: Address words: NumPy int64 (or uint64) arrays or torch int64 tensors.
Words = TypeVar("Words", np.ndarray, "torch.Tensor")


class PrefixLevel(NamedTuple):
    """One network level: its name and the prefix length kept in each family."""

    name: str
    ipv4_bits: int
    ipv6_bits: int


#: The model's four prefix tables, coarse to fine (``model.ip_features``; recorded in artifacts).
ENCODER_LEVELS = (
    PrefixLevel("/8", 8, 32),
    PrefixLevel("/16", 16, 48),
    PrefixLevel("/24", 24, 56),
    PrefixLevel("/32", 32, 64),
)
#: The networks the entity history counts logins in, finest first (``history.network_keys``;
#: the names are part of the stored keys, so they never change).
NETWORK_LEVELS = (
    PrefixLevel("ip", 32, 128),
    PrefixLevel("24", 24, 64),
    PrefixLevel("16", 16, 48),
    PrefixLevel("8", 8, 32),
)


def is_ipv4(hi: Words, lo: Words) -> Words:
    """Which (hi, lo) addresses are IPv4 (stored IPv4-mapped); NumPy arrays or torch tensors.

    Example:
        >>> is_ipv4(np.array([0, 0, 1]), np.array([IPV4_MAPPED | 1, 1, IPV4_MAPPED])).tolist()
        [True, False, False]
    """
    return (hi == 0) & ((lo >> 32) == 0xFFFF)


def network(hi: Words, lo: Words, level: PrefixLevel) -> tuple[Words, Words]:
    """The (hi, lo) words of each address's network at ``level``; int64 NumPy arrays or torch tensors.

    IPv4 keeps the mapped tag and its first ``level.ipv4_bits`` bits; IPv6 its first
    ``level.ipv6_bits`` bits; every other bit is cleared.

    Example:
        >>> _, hi, lo = parse_ips(["10.1.2.3", "2001:db8:1:2::3"])
        >>> format_ips(*network(hi, lo, NETWORK_LEVELS[2]))
        ['10.1.0.0', '2001:db8:1::']
    """
    is_v4 = is_ipv4(hi, lo)
    v4_lo = lo & _high_bits(32, level.ipv4_bits)
    v6_hi = hi & _high_bits(64, min(level.ipv6_bits, 64))
    v6_lo = lo & _high_bits(64, level.ipv6_bits - 64) if level.ipv6_bits > 64 else lo & 0
    return _where(is_v4, hi, v6_hi), _where(is_v4, v4_lo, v6_lo)


def _high_bits(width: int, bits: int) -> int:
    """An int64 mask that keeps the top ``bits`` of the low ``width`` bits and everything above."""
    return ~((1 << (width - bits)) - 1)


def _where(condition: Words, x: Words, y: Words) -> Words:
    """``np.where`` or ``torch.where``, whichever fits the arrays (torch is not imported here)."""
    if isinstance(condition, np.ndarray):
        return np.where(condition, x, y)
    return x.where(condition, y)


# ---------------------------------------------------------------------------------------------
# Parsing


def _parse_ipv4_runs(buf: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse dotted-decimal IPv4 in byte runs; returns (ok mask, uint32-in-int64 values).

    A valid run is four groups of 1-3 digits separated by dots, each <= 255, without leading
    zeros (``010`` is octal in some tools and decimal in others, so it is refused). The run is
    read group by group: each group's dot is one of the 2nd to 4th bytes after the group's
    start, so every check is a gather from the buffer at a known offset: about 50 vector
    passes over the rows and none over the whole buffer (94 ms instead of 178 ms for the
    prefix sums over every byte that it replaced, on 670,000 rows).
    """
    n = len(start)
    ok = (stop - start >= 7) & (stop - start <= _MAX_IPV4_TEXT)
    value = np.zeros(n, dtype=np.int64)
    if not len(buf) or not n:
        return ok & False, value
    # Every position read below is at most 16 bytes past a run's start: with 16 zero bytes
    # after the buffer no gather needs clipping, and positions fit int32 in all but huge inputs.
    padded = np.concatenate([buf, np.zeros(16, dtype=np.uint8)])
    begin = start.astype(np.int32 if len(padded) < 2**31 - 32 else np.int64)

    def digit_at(pos: np.ndarray) -> np.ndarray:  # a digit's value; any other byte is < 0 or > 9
        return padded[pos].astype(np.int16) - ord("0")

    for group in range(4):
        end: np.ndarray
        if group < 3:
            end = begin + 1
            for offset in (3, 2):  # the first dot among begin + 1 .. begin + 3
                end = np.where(padded[begin + offset] == ord("."), begin + offset, end)
            end = np.where(padded[begin + 1] == ord("."), begin + 1, end)
            ok &= padded[end] == ord(".")
        else:
            end = stop.astype(begin.dtype)
        width = end - begin
        c0, c1, c2 = digit_at(begin), digit_at(begin + 1), digit_at(begin + 2)
        ok &= (width >= 1) & (width <= 3) & (c0 >= 0) & (c0 <= 9)
        ok &= (width < 2) | ((c1 >= 0) & (c1 <= 9) & (c0 != 0))  # and no leading zero
        ok &= (width < 3) | ((c2 >= 0) & (c2 <= 9))
        octet = np.where(width == 1, c0, np.where(width == 2, c0 * 10 + c1, c0 * 100 + c1 * 10 + c2))
        ok &= octet <= 255
        value = (value << 8) | octet
        begin = np.minimum(end + 1, len(buf))  # past a bad run's end: stay inside the padding
    value[~ok] = 0
    return ok, value


def _parse_ip_texts(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse distinct IP strings with :mod:`ipaddress` (used for IPv6 and odd forms only)."""
    ok = np.zeros(len(texts), dtype=bool)
    hi = np.zeros(len(texts), dtype=np.int64)
    lo = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        if "%" in text:  # an IPv6 zone id, which ipaddress accepts and int() drops
            continue
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue
        value = IPV4_MAPPED | int(addr) if addr.version == 4 else int(addr)
        ok[i] = True
        hi[i] = np.uint64(value >> 64).astype(np.int64)
        lo[i] = np.uint64(value & 0xFFFF_FFFF_FFFF_FFFF).astype(np.int64)
    return ok, hi, lo


def parse_ip_runs(
    buf: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse IP text in byte runs; returns (ok, hi, lo). IPv4 is vectorised, IPv6 per distinct text."""
    n = len(start)
    hi = np.zeros(n, dtype=np.int64)
    lo = np.zeros(n, dtype=np.int64)
    ok4, v4 = _parse_ipv4_runs(buf, start, stop)
    lo[ok4] = IPV4_MAPPED | v4[ok4]
    ok = ok4.copy()
    rest = np.flatnonzero(~ok4 & (stop - start > 0) & (stop - start <= _MAX_IP_TEXT))
    if len(rest):
        raw = buf.tobytes()
        texts = [raw[start[i] : stop[i]] for i in rest]
        distinct, inverse = np.unique(np.array(texts, dtype=object).astype(bytes), return_inverse=True)
        decoded = [t.decode("ascii", "replace") for t in distinct]
        ok6, hi6, lo6 = _parse_ip_texts(decoded)
        ok[rest], hi[rest], lo[rest] = ok6[inverse], hi6[inverse], lo6[inverse]
    return ok, hi, lo


def parse_ips(ips: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse IP address strings (IPv4 dotted decimal or any IPv6 text form).

    Args:
        ips: Address strings; surrounding whitespace is ignored.

    Returns:
        ``(ok, hi, lo)``: (n,) bool validity and the two int64 words of each address.

    Example:
        >>> ok, hi, lo = parse_ips(["1.2.3.4", "2001:db8::1", "300.1.1.1"])
        >>> ok.tolist()
        [True, True, False]
    """
    buf, start, stop = concat_runs(list(ips))
    return parse_ip_runs(buf, start, stop)


def parse_ipv4_bytes(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, 32-bit value as int64) of (n,) ``S`` dotted IPv4 text, by the rules of :func:`parse_ips`.

    Example:
        >>> ok, v4 = parse_ipv4_bytes(np.array([b"1.2.3.4", b"1.2.3.04", b"x"]))
        >>> ok.tolist(), hex(int(v4[0]))
        ([True, False, False], '0x1020304')
    """
    text = np.ascontiguousarray(text)
    start = np.arange(len(text), dtype=np.int64) * text.dtype.itemsize
    stop = start + np.char.str_len(text)
    return _parse_ipv4_runs(text.view(np.uint8), start, stop)


# ---------------------------------------------------------------------------------------------
# Formatting


def format_ips(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """Text form of addresses given as (hi, lo) words; IPv4-mapped ones print as IPv4."""
    out = []
    for h, lw in zip(hi.astype(np.uint64).tolist(), lo.astype(np.uint64).tolist(), strict=True):
        value = (h << 64) | lw
        if h == 0 and (lw >> 32) == 0xFFFF:
            out.append(str(ipaddress.IPv4Address(lw & 0xFFFF_FFFF)))
        else:
            out.append(str(ipaddress.IPv6Address(value)))
    return out


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


def format_ipv4_bytes(addresses: np.ndarray) -> np.ndarray:
    """(n,) 32-bit integer addresses → (n,) ``S15`` dotted text, without a loop over rows.

    The bulk form of :func:`format_ips` (for millions of generated rows): the same text.
    """
    addresses = np.asarray(addresses, dtype=np.int64)
    first, last = _octet_pair_text()
    # One concatenation of two 65,536-entry tables: 3x faster than one per octet.
    return np.char.add(first[(addresses >> 16) & 0xFFFF], last[addresses & 0xFFFF]).astype("S15")


def format_ipv6_bytes(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """(n,) uint64 address words → (n,) ``S39`` text in the form ``ipaddress`` prints (RFC 5952)."""
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


# ---------------------------------------------------------------------------------------------
# Random addresses


def random_ips(
    shape: tuple[int, ...],
    generator: torch.Generator,
    *,
    ipv6_share: float = 0.0,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniformly random addresses, as (hi, lo) int64 words of ``shape`` each.

    IPv4: every octet uniform in 0..255 (the reference's random negatives). With
    ``ipv6_share > 0`` that share of the draws is instead uniform in the IPv6 global unicast
    space 2000::/3, so that a model trained on IPv6 rows also sees IPv6 negatives.

    Args:
        shape: Output shape, e.g. ``(batch, R)``.
        generator: Source of randomness (its device is used).
        ipv6_share: Probability that a draw is IPv6, in [0, 1].
        device: Where to create the tensors.

    Returns:
        ``(hi, lo)``, two int64 tensors of ``shape``.
    """
    import torch  # here, so that reading data needs no torch

    lo = torch.randint(0, 1 << 32, shape, generator=generator, device=device) | IPV4_MAPPED
    hi = torch.zeros(shape, dtype=torch.int64, device=device)
    if ipv6_share > 0:
        is_v6 = torch.rand(shape, generator=generator, device=device) < ipv6_share
        top = torch.randint(0, _TOP61, shape, generator=generator, device=device) | _GLOBAL_UNICAST_TOP
        low = torch.randint(-(1 << 63), (1 << 63) - 1, shape, generator=generator, device=device)
        hi = torch.where(is_v6, top, hi)
        lo = torch.where(is_v6, low, lo)
    return hi, lo
