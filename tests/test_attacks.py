"""Synthetic attack sets built from the training logins (ipinsights.lab.attacks)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import circular_gap, ipv4_int

from ipinsights.errors import ConfigError, DataError
from ipinsights.lab.attacks import (
    ATTACKS,
    NEARBY_EXCLUSION_ROWS,
    NEARBY_MAX_ROWS,
    make_attacks,
    nearby_ranges_attack,
    write_attacks,
)
from ipinsights.lab.datasets import split_by_time
from ipinsights.lab.ranges import RangeTable
from ipinsights.lab.simulate import generate_logins


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return split_by_time(generate_logins(150, seed=5, ipv6_share=0.2))[0]


@pytest.mark.parametrize("name", ATTACKS)
def test_every_attack_set_pairs_known_users_only_and_is_seeded(name: str, train: pd.DataFrame) -> None:
    attacks = make_attacks(name, train, 300, seed=1)
    assert list(attacks.columns) == ["entity", "ip"] and len(attacks) == 300
    assert set(attacks["entity"]) <= set(train["entity"])
    assert all(ipaddress.ip_address(ip) for ip in attacks["ip"])
    pd.testing.assert_frame_equal(attacks, make_attacks(name, train, 300, seed=1))
    assert not attacks["ip"].equals(make_attacks(name, train, 300, seed=2)["ip"])


def test_random_range_attacks_come_from_the_range_table(train: pd.DataFrame, table: RangeTable) -> None:
    ips = make_attacks("random_range", train, 500, seed=3)["ip"]
    assert (table.row_of([ipv4_int(ip) for ip in ips]) >= 0).all()


def test_random_ipv4_attacks_cover_all_of_ipv4(train: pd.DataFrame, table: RangeTable) -> None:
    addresses = np.array([ipv4_int(ip) for ip in make_attacks("random_ipv4", train, 2000, seed=3)["ip"]])
    assert addresses.min() < 1 << 28 and addresses.max() > 15 << 28
    assert (table.row_of(addresses) < 0).mean() > 0.1  # unlike random_range, also unrouted space


def test_other_users_attacks_reuse_other_users_ips_never_the_victims(train: pd.DataFrame) -> None:
    attacks = make_attacks("other_users", train, 500, seed=4)
    pairs = set(zip(train["entity"], train["ip"], strict=True))
    users_of_ip = train.groupby("ip")["entity"].agg(set)
    for entity, ip in zip(attacks["entity"], attacks["ip"], strict=True):
        assert (entity, ip) not in pairs
        assert users_of_ip[ip] - {entity}


def rows_and_networks(frame: pd.DataFrame, table: RangeTable) -> tuple[np.ndarray, np.ndarray]:
    """Range row of each IPv4 login (-1 for IPv6) and /48 of each IPv6 login (-1 for IPv4)."""
    addresses = [ipaddress.ip_address(ip) for ip in frame["ip"]]
    ipv4 = np.array([a.version == 4 for a in addresses])
    rows = np.full(len(frame), -1)
    rows[ipv4] = table.row_of([int(a) for a in addresses if a.version == 4])
    nets = np.array([-1 if a.version == 4 else int(a) >> 80 for a in addresses])
    return rows, nets


@pytest.mark.parametrize("max_rows", [NEARBY_MAX_ROWS, 80])
def test_nearby_range_attacks_avoid_the_victims_rows_but_stay_close(
    train: pd.DataFrame, table: RangeTable, max_rows: int
) -> None:
    attacks = nearby_ranges_attack(train, 400, seed=5, max_rows=max_rows)
    train_rows, train_nets = rows_and_networks(train, table)
    attack_rows, attack_nets = rows_and_networks(attacks, table)
    used = pd.DataFrame({"entity": train["entity"], "row": train_rows, "net": train_nets})
    rows_of = used[used["row"] >= 0].groupby("entity")["row"].agg(lambda r: np.unique(r.to_numpy()))
    nets_of = used[used["net"] >= 0].groupby("entity")["net"].agg(set)
    for entity, row, net in zip(attacks["entity"], attack_rows, attack_nets, strict=True):
        if net >= 0:  # an IPv6 victim's anchor: another /48 of the same /32
            assert net not in nets_of[entity]
            assert any(net >> 16 == mine >> 16 for mine in nets_of[entity])
            continue
        gap = circular_gap(rows_of[entity], row, len(table))
        assert NEARBY_EXCLUSION_ROWS < gap.min() <= max_rows
    assert 0 < (attack_nets >= 0).sum() < 400


def test_nearby_range_attacks_need_room_beyond_the_exclusion_zone(train: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="max_rows must be an integer >= 31, got max_rows=30"):
        nearby_ranges_attack(train, 10, max_rows=30)


def test_unknown_attack_names_and_empty_training_logins_are_refused(train: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match="unknown attack set 'typo'; choose one of random_range, random_ipv4, other_users, nearby_ranges",
    ):
        make_attacks("typo", train, 5)
    with pytest.raises(DataError, match="training frame has 0 rows"):
        make_attacks("random_range", train.iloc[:0], 5)
    with pytest.raises(ConfigError, match="n must be an integer >= 0, got n=-1"):
        make_attacks("random_range", train, -1)


def test_write_attacks_writes_one_headerless_csv_per_set(tmp_path: Path, train: pd.DataFrame) -> None:
    paths = write_attacks(tmp_path, train, 25, seed=7)
    assert list(paths) == list(ATTACKS)
    for name, path in paths.items():
        assert path.name == f"attack_{name}.csv"
        written = pd.read_csv(path, header=None, names=["entity", "ip"], dtype=str)
        expected = make_attacks(name, train, 25, seed=7).astype(object)
        pd.testing.assert_frame_equal(written, expected, check_dtype=False)
