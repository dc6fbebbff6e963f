"""The login simulator: the public IP Insights example's generative model, reproducible and fast.

* **Per user:** ``home`` is a uniformly random row of the range table
  (:class:`~ipinsights.lab.ranges.RangeTable`); ``work = home + U[-50000, 50000)`` rows (mod
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

The argument checks shared by the lab's generator modules live here too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ipinsights.addresses import format_ipv4_bytes, format_ipv6_bytes
from ipinsights.errors import ConfigError
from ipinsights.lab._text import _text_array
from ipinsights.lab.ranges import RangeTable, _table

__all__ = ["DEFAULT_START", "generate_logins"]

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

_SECONDS_PER_DAY = 86_400


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
    ip[~ipv6] = format_ipv4_bytes(address[~ipv6])
    if ipv6.any():
        ip[ipv6] = format_ipv6_bytes(hi[order][ipv6], lo[order][ipv6])
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


def _grouped_order(values: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of integers in [0, bound): sorts unique keys by value (SIMD), 3x faster."""
    num = len(values)
    if bound > np.iinfo(np.int64).max // max(num, 1):
        return np.argsort(values, kind="stable")
    keys = values.astype(np.int64) * num + np.arange(num)
    keys.sort()
    return keys % num
