"""Synthetic attack sets: users known from the training logins, paired with an attacker's IP.

Each set (:data:`ATTACKS`) draws from its own stream of one seed, ``PCG64([seed, index + 1])``,
so the sets are reproducible and independent of each other; the ``*_attack`` functions say how
each one picks the IP, from the easiest (``random_ipv4``) to the hardest (``nearby_ranges``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ipinsights.addresses import format_ipv4_bytes, format_ipv6_bytes, parse_ips, parse_ipv4_bytes
from ipinsights.data import contains_sorted
from ipinsights.errors import ConfigError, DataError
from ipinsights.lab._text import (
    _output_dir,
    _text_array,
    _utf8_bytes,
    _write_lines,
)
from ipinsights.lab.ranges import RangeTable, _table
from ipinsights.lab.simulate import HOME_WORK_LOCALITY_WINDOW_SIGMA, _check_int, _grouped_order

__all__ = [
    "ATTACKS",
    "make_attacks",
    "nearby_ranges_attack",
    "other_users_attack",
    "random_ipv4_attack",
    "random_range_attack",
    "write_attacks",
]

#: Names of the attack sets, in the order ``write_attacks`` writes them.
ATTACKS = ("random_range", "random_ipv4", "other_users", "nearby_ranges")


#: A nearby-range attack stays this many rows (3 sigma) away from every row the victim used.
NEARBY_EXCLUSION_ROWS = 3 * HOME_WORK_LOCALITY_WINDOW_SIGMA
NEARBY_MAX_ROWS = 200

_MAX_REDRAWS = 100


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
    """(ok, /48 prefix as uint64) of (n,) ``S`` IPv6 text, read as :func:`parse_ips` reads it."""
    ok, hi, _ = parse_ips(np.char.decode(text, "utf-8", "replace").tolist())
    return ok, hi.view(np.uint64) >> np.uint64(16)


def _random_range(train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    rng, table, known = _attack_rng(seed, "random_range"), _table(ranges), _known(train)
    victim = rng.integers(len(known.users), size=n)
    row = rng.integers(len(table), size=n)
    address = table.begin[row].astype(np.int64) + rng.integers(0, table.length[row])
    return _Attack(known.users[victim], format_ipv4_bytes(address))


def _random_ipv4(train: pd.DataFrame, n: int, seed: int, ranges: RangeTable | None) -> _Attack:
    rng, known = _attack_rng(seed, "random_ipv4"), _known(train)
    victim = rng.integers(len(known.users), size=n)
    octets = rng.integers(0, 256, size=(n, 4))
    return _Attack(known.users[victim], format_ipv4_bytes(octets @ np.array([1 << 24, 1 << 16, 1 << 8, 1])))


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
    ipv4, address = parse_ipv4_bytes(text)
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
    ip[~ipv6_out] = format_ipv4_bytes(lo_out[~ipv6_out].astype(np.int64))
    if ipv6_out.any():
        ip[ipv6_out] = format_ipv6_bytes(hi_out[ipv6_out], lo_out[ipv6_out])
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
        >>> from ipinsights.lab.simulate import generate_logins
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
        >>> from ipinsights.lab.simulate import generate_logins
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
        >>> from ipinsights.lab.simulate import generate_logins
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
        >>> from ipinsights.lab.simulate import generate_logins
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
        >>> from ipinsights.lab.simulate import generate_logins
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
        >>> from ipinsights.lab.simulate import generate_logins
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
