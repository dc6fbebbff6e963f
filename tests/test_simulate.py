"""The login simulator: the example's generative model, reproducible (ipinsights.lab.simulate)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd
import pytest
from conftest import circular_gap

from ipinsights.addresses import parse_ipv4_bytes
from ipinsights.errors import ConfigError, DataError
from ipinsights.lab.ranges import RangeTable
from ipinsights.lab.simulate import HOME_WORK_DISTANCE_UNIFORM_WINDOW, _simulate, generate_logins


def test_different_seeds_give_different_logins() -> None:
    first, second = generate_logins(20, seed=1), generate_logins(20, seed=2)
    assert not first["ip"].equals(second["ip"]) and len(first) != len(second)


def test_the_same_seed_gives_equal_frames() -> None:
    pd.testing.assert_frame_equal(
        generate_logins(20, seed=9, ipv6_share=0.3), generate_logins(20, seed=9, ipv6_share=0.3)
    )


@pytest.mark.parametrize("num_users", [1, 7, 1234])
def test_user_counts_that_are_not_multiples_of_1000_work(num_users: int) -> None:
    logins = generate_logins(num_users, seed=0)
    assert set(logins["entity"]) == {f"user_{i}" for i in range(num_users)}
    assert list(logins.columns) == ["timestamp", "entity", "ip"]
    assert logins["timestamp"].dtype == "datetime64[s]"


def test_logins_are_sorted_by_time_inside_the_window() -> None:
    logins = generate_logins(30, seed=4, days=3, start="2020-02-28")
    times = logins["timestamp"]
    assert times.is_monotonic_increasing
    assert times.min() >= pd.Timestamp("2020-02-28") and times.max() < pd.Timestamp("2020-03-02")


def test_events_per_user_follow_the_examples_pareto_law() -> None:
    counts = generate_logins(2000, seed=11).groupby("entity").size()
    assert counts.min() >= 50 and counts.max() <= 10_000
    assert 90 <= counts.median() <= 110  # 50 * (Pareto(1) + 1) has median 100
    assert 200 <= counts.mean() <= 450  # and mean 50 * (1 + ln 200) ≈ 315


def test_travel_home_and_work_shares_match_the_beta_priors(table: RangeTable) -> None:
    logins = _simulate(2000, seed=12, ranges=table)
    order = np.argsort(logins.user, kind="stable")  # per-user means, as the priors are per user
    per_user = pd.DataFrame({"user": logins.user, "travel": logins.travel, "home": logins.at_home}).iloc[
        order
    ]
    means = per_user.groupby("user").mean()
    assert 0.025 <= means["travel"].mean() <= 0.040  # Beta(1, 30) has mean 1/31
    assert 0.34 <= means["home"].mean() <= 0.41  # Beta(3, 5) has mean 3/8
    assert 0.015 <= logins.travel.mean() <= 0.06


def test_home_and_work_are_distinct_rows_at_most_50000_apart(table: RangeTable) -> None:
    logins = _simulate(3000, seed=13, ranges=table)
    assert (logins.home != logins.work).all()
    assert circular_gap(logins.home, logins.work, len(table)).max() <= HOME_WORK_DISTANCE_UNIFORM_WINDOW


def test_non_travel_logins_stay_near_the_home_or_work_row(table: RangeTable) -> None:
    logins = _simulate(300, seed=14, ranges=table)
    local = ~logins.travel
    centre = np.where(logins.at_home, logins.home[logins.user], logins.work[logins.user])[local]
    gap = circular_gap(logins.row[local], centre, len(table))
    assert gap.max() <= 70  # 7 sigma
    assert 6 <= gap.mean() <= 10  # E|int(N(0, 10))| ≈ 7.5


def test_every_ip_lies_inside_the_range_row_that_was_drawn(table: RangeTable) -> None:
    logins = _simulate(200, seed=15, ranges=table)
    ok, address = parse_ipv4_bytes(logins.ip)
    assert ok.all()
    assert (table.row_of(address) == logins.row).all()


def test_a_tiny_range_table_works_and_a_one_row_table_is_refused() -> None:
    tiny = RangeTable(begin=[0x0A000000, 0x0B000000], end=[0x0A0000FF, 0x0B0000FF], asn=[1, 2])
    ips = generate_logins(5, seed=1, ranges=tiny)["ip"]
    assert ips.str.match(r"^1[01]\.0\.0\.\d+$").all()
    one = RangeTable(begin=[0x0A000000], end=[0x0A0000FF], asn=[1])
    with pytest.raises(DataError, match="at least 2 ranges, got 1"):
        generate_logins(5, ranges=one)


def test_ipv6_share_gives_valid_ipv6_home_and_work_networks() -> None:
    logins = generate_logins(40, seed=16, ipv6_share=0.25)
    addresses = [ipaddress.ip_address(ip) for ip in logins["ip"]]
    assert all(str(a) == ip for a, ip in zip(addresses, logins["ip"], strict=True))  # canonical text
    version = np.array([a.version for a in addresses])
    ipv6_users = set(logins["entity"][version == 6])
    assert len(ipv6_users) == 10
    assert all(a in ipaddress.ip_network("2000::/3") for a in addresses if a.version == 6)
    for user in ipv6_users:
        mine = [a for a, entity in zip(addresses, logins["entity"], strict=True) if entity == user]
        v6 = [int(a) for a in mine if a.version == 6]
        assert len({a >> 80 for a in v6}) <= 2  # a home and a work /48
        assert len({a >> 64 for a in v6}) <= 8  # each with at most 4 /64s
        assert len(v6) < len(mine) or len(mine) < 200  # travel logins stay IPv4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_users": 0}, "num_users must be an integer >= 1, got num_users=0"),
        ({"num_users": 5, "seed": -1}, "seed must be an integer >= 0, got seed=-1"),
        ({"num_users": 5, "days": 0}, "days must be an integer >= 1, got days=0"),
        ({"num_users": 5, "ipv6_share": 1.5}, r"ipv6_share must be a number in \[0, 1\], got ipv6_share=1.5"),
        ({"num_users": 5, "start": "yesterday-ish"}, "start must be a date or time"),
    ],
)
def test_bad_generator_arguments_raise_config_errors_that_name_the_value(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_logins(**options)
