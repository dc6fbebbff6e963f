"""Tests of the synthetic login generator, the splits, the files and the attack sets."""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipinsights.errors import ConfigError, DataError
from ipinsights.lab.generate import (
    ATTACKS,
    ATTRIBUTION,
    HOME_WORK_DISTANCE_UNIFORM_WINDOW,
    NEARBY_EXCLUSION_ROWS,
    NEARBY_MAX_ROWS,
    RangeTable,
    _format_ipv6,
    _parse_ipv4_bytes,
    _simulate,
    add_generate_arguments,
    generate_logins,
    make_attacks,
    nearby_ranges_attack,
    run_generate,
    split_by_time,
    write_attacks,
    write_dataset,
)


def ipv4_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def circular_gap(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    gap = np.abs(a - b) % size
    return np.minimum(gap, size - gap)


@pytest.fixture(scope="module")
def table() -> RangeTable:
    return RangeTable.builtin()


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return split_by_time(generate_logins(150, seed=5, ipv6_share=0.2))[0]


# ---------------------------------------------------------------------------------------------
# Reproducibility


def read_all(paths: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in paths.items()}


def test_the_same_seed_writes_byte_identical_files_in_two_calls(tmp_path: Path) -> None:
    options = dict(num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30)
    first = read_all(write_dataset(tmp_path / "a", **options))
    second = read_all(write_dataset(tmp_path / "b", **options))
    assert sorted(first) == sorted(
        ["train", "validation", "test", "access_log", *(f"attack_{name}" for name in ATTACKS)]
    )
    assert first == second
    assert all(first.values())


def test_a_fresh_process_writes_the_same_bytes(tmp_path: Path) -> None:
    options = "num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30"
    script = f"from ipinsights.lab.generate import write_dataset; write_dataset({str(tmp_path / 'child')!r}, {options})"
    subprocess.run([sys.executable, "-c", script], check=True)
    here = write_dataset(
        tmp_path / "parent", num_users=40, seed=3, ipv6_share=0.25, apache_log=True, attacks=30
    )
    assert len(here) == 8
    for path in here.values():
        assert (tmp_path / "child" / path.name).read_bytes() == path.read_bytes()


def test_different_seeds_give_different_logins() -> None:
    first, second = generate_logins(20, seed=1), generate_logins(20, seed=2)
    assert not first["ip"].equals(second["ip"]) and len(first) != len(second)


def test_the_same_seed_gives_equal_frames() -> None:
    pd.testing.assert_frame_equal(
        generate_logins(20, seed=9, ipv6_share=0.3), generate_logins(20, seed=9, ipv6_share=0.3)
    )


# ---------------------------------------------------------------------------------------------
# The generative model


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
    ok, address = _parse_ipv4_bytes(logins.ip)
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


def test_ipv6_text_matches_the_ipaddress_module_including_zero_runs() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 1 << 16, size=(400, 8))
    groups[rng.random((400, 8)) < 0.4] = 0  # many zero runs of every length
    lo = (groups[:, 4:].astype(np.uint64) << np.array([48, 32, 16, 0], dtype=np.uint64)).sum(axis=1)
    hi = (groups[:, :4].astype(np.uint64) << np.array([48, 32, 16, 0], dtype=np.uint64)).sum(axis=1)
    expected = [
        str(ipaddress.IPv6Address((int(h) << 64) | int(lo_))).encode() for h, lo_ in zip(hi, lo, strict=True)
    ]
    assert _format_ipv6(hi, lo).tolist() == expected


def test_parsing_dotted_text_accepts_ipv4_and_rejects_everything_else() -> None:
    text = np.array(
        [
            b"1.2.3.4",
            b"255.255.255.255",
            b"0.0.0.0",
            b"1.2.3",
            b"1.2.3.4.5",
            b"256.1.1.1",
            b"1..2.3",
            b"::1",
            b"a.b.c.d",
        ]
    )
    ok, address = _parse_ipv4_bytes(text)
    assert ok.tolist() == [True, True, True, False, False, False, False, False, False]
    assert address[:3].tolist() == [0x01020304, 0xFFFFFFFF, 0]


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


# ---------------------------------------------------------------------------------------------
# Splits and files


def test_split_by_time_cuts_whole_days_and_keeps_known_users_in_test() -> None:
    logins = generate_logins(60, seed=21)
    train, validation, test = split_by_time(logins, 7, 1, 2)
    start = pd.Timestamp("2018-11-04")
    assert train["timestamp"].max() < start + pd.Timedelta(days=7)
    assert validation["timestamp"].min() >= start + pd.Timedelta(days=7)
    assert validation["timestamp"].max() < start + pd.Timedelta(days=8)
    assert test["timestamp"].min() >= start + pd.Timedelta(days=8)
    assert set(test["entity"]) <= set(train["entity"])
    everyone = split_by_time(logins, 7, 1, 2, known_users_only=False)[2]
    assert len(train) + len(validation) + len(everyone) == len(logins)


def test_split_by_time_leaves_out_logins_after_the_last_period() -> None:
    logins = generate_logins(10, seed=22)
    _, validation, test = split_by_time(logins, 2, 0, 1)
    assert validation.empty
    assert test["timestamp"].max() < pd.Timestamp("2018-11-07")


def test_written_files_equal_the_split_of_the_generated_frame(tmp_path: Path) -> None:
    paths = write_dataset(tmp_path, num_users=30, seed=23, ipv6_share=0.2)
    expected = split_by_time(generate_logins(30, seed=23, ipv6_share=0.2))
    for name, frame in zip(("train", "validation", "test"), expected, strict=True):
        written = pd.read_csv(paths[name], header=None, names=["entity", "ip"], dtype=str)
        pd.testing.assert_frame_equal(written, frame[["entity", "ip"]].astype(object), check_dtype=False)


def test_days_must_equal_the_sum_of_the_periods(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"days must equal train_days \+ validation_days \+ test_days = 7 \+ 1 \+ 2 = 10, got days=12",
    ):
        write_dataset(tmp_path, num_users=3, days=12)


def test_the_apache_log_has_one_combined_format_line_per_login(tmp_path: Path) -> None:
    paths = write_dataset(tmp_path, num_users=8, seed=24, apache_log=True, ipv6_share=0.5)
    lines = paths["access_log"].read_text().splitlines()
    total = sum(len(path.read_text().splitlines()) for name, path in paths.items() if name != "access_log")
    assert len(lines) >= total
    pattern = re.compile(
        r"^(\S+) - (user_\d+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] "
        r'"GET /login_success HTTP/1\.1" 200 \d+ "-" "Mozilla/5\.0 [^"]+"$'
    )
    matches = [pattern.match(line) for line in lines]
    assert all(matches)
    assert matches[0].group(3).startswith("04/Nov/2018:")
    assert all(ipaddress.ip_address(m.group(1)) for m in matches)
    frame = generate_logins(8, seed=24, ipv6_share=0.5)
    assert [m.group(2) for m in matches] == frame["entity"].tolist()
    assert [m.group(3) for m in matches] == frame["timestamp"].dt.strftime("%d/%b/%Y:%H:%M:%S").tolist()


# ---------------------------------------------------------------------------------------------
# Attack sets


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


# ---------------------------------------------------------------------------------------------
# Range tables


def test_the_builtin_table_is_sorted_disjoint_and_ships_its_attribution(table: RangeTable) -> None:
    assert len(table) == 411_960
    assert (table.begin[1:] > table.end[:-1]).all()
    data = resources.files("ipinsights.lab") / "data"
    assert ATTRIBUTION in (data / "ATTRIBUTION.txt").read_text()
    for name in ("DBIP-LICENSE", "NRO_LICENSE", "ROUTEVIEWS-LICENSE"):
        assert "Creative Commons Attribution 4.0" in (data / name).read_text()


def test_an_iptoasn_tsv_loads_without_its_unrouted_rows(tmp_path: Path) -> None:
    path = tmp_path / "ip2asn-v4.tsv"
    path.write_text(
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
        "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
        "1.0.4.0\t1.0.7.255\t38803\tAU\tWPL-AS-AP Wirefreebroadband Pty Ltd\n"
    )
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [13335, 38803]
    assert table.begin.tolist() == [ipv4_int("1.0.0.0"), ipv4_int("1.0.4.0")]
    assert table.length.tolist() == [256, 1024]


def test_an_ip_location_db_csv_loads_in_integer_or_dotted_form_with_quoted_names(tmp_path: Path) -> None:
    path = tmp_path / "asn-ipv4-num.csv"
    path.write_text('16778240,16779263,38803,"Wirefree, Pty"\n16777216,16777471,13335,Cloudflare\n')
    dotted = tmp_path / "asn-ipv4.csv"
    dotted.write_text("start,end,asn,org\n1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.4.0,1.0.7.255,AS38803,x\n")
    assert RangeTable.from_file(path).asn.tolist() == [13335, 38803]  # sorted by address
    assert RangeTable.from_file(dotted).asn.tolist() == [13335, 38803]  # header skipped


def test_crlf_line_ends_spaces_and_non_ascii_names_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ranges.csv"
    path.write_bytes(
        ' 1.0.0.0 , "1.0.0.255", 3352 ,"Telefónica, S.A."\r\n1.0.1.0,1.0.1.255,AS7,x\r\n'.encode()
    )
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [3352, 7] and table.end.tolist() == [
        ipv4_int("1.0.0.255"),
        ipv4_int("1.0.1.255"),
    ]


def test_a_gzipped_table_and_a_saved_npz_load_back_equal(tmp_path: Path) -> None:
    text = "1.0.0.0,1.0.0.255,13335\n1.0.4.0,1.0.7.255,38803\n9.9.9.0,9.9.9.255,19281\n"
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    table = RangeTable.from_file(tmp_path / "t.csv.gz")
    again = RangeTable.from_file(table.save(tmp_path / "t.npz"))
    for name in ("begin", "end", "asn"):
        assert (getattr(table, name) == getattr(again, name)).all()


def test_overlapping_ranges_in_a_file_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "overlap.csv"
    path.write_text("10.0.0.0,10.0.0.255,1\n10.0.0.128,10.0.1.255,2\n10.0.2.0,10.0.2.255,3\n")
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [1, 3] and table.num_dropped_overlaps == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "1.0.0.0,1.0.0.255,13335\n1.0.1.0,1.0.1.300,7\n",
            r"line 2: end '1\.0\.1\.300' is not an IPv4 address",
        ),
        ("1.0.0.0,1.0.0.255,13335\n\n1.0.1.0,1.0.1.255\n", "line 3: expected at least 3 columns"),
        (
            "1.0.0.0,1.0.0.255,x13335\n1.0.1.0,1.0.1.255,y\n",
            r"line 1: AS number 'x13335' is not an integer .* \(1 more bad line\)",
        ),
        (
            "1.0.1.0,1.0.0.255,13335\n",
            r"line 1: the range ends \(1\.0\.0\.255\) before it begins \(1\.0\.1\.0\)",
        ),
        ("no separators here\n", "line 1: no tab or comma"),
    ],
)
def test_bad_lines_raise_data_errors_naming_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "ranges.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=f"{re.escape(str(path))} {message}"):
        RangeTable.from_file(path)


def test_a_missing_table_file_is_a_data_error_with_the_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist; expected an iptoasn TSV"):
        RangeTable.from_file(tmp_path / "nope.tsv")


def test_a_table_built_from_overlapping_arrays_is_refused() -> None:
    with pytest.raises(DataError, match=r"range 1 .* starts at or before the end of range 0"):
        RangeTable(begin=[0, 10], end=[20, 30], asn=[1, 2])


# ---------------------------------------------------------------------------------------------
# Command line


def parse(*argv: str) -> argparse.Namespace:
    return add_generate_arguments(argparse.ArgumentParser(prog="ipinsights generate")).parse_args(list(argv))


def test_the_command_writes_the_files_and_prints_paths_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_generate(
        parse("--users", "12", "--seed", "2", "--out", str(tmp_path), "--attacks", "5", "--apache-log")
    )
    output = capsys.readouterr().out
    assert code == 0
    assert "ranges: built-in table, 411,960 IPv4 ranges (IP to ASN data by RouteViews" in output
    train_rows = len((tmp_path / "train.csv").read_text().splitlines())
    assert re.search(rf"train\s+{re.escape(str(tmp_path / 'train.csv'))}\s+{train_rows:,} rows", output)
    assert re.search(r"attack_nearby_ranges\s+\S+attack_nearby_ranges\.csv\s+5 rows", output)
    assert re.search(r"simulated [\d,]+ logins of 12 users in [\d.]+ s", output)


def test_the_command_reads_a_range_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ranges = tmp_path / "r.tsv"
    ranges.write_text("10.0.0.0\t10.0.0.255\t1\tZZ\ta\n10.1.0.0\t10.1.0.255\t2\tZZ\tb\n")
    run_generate(parse("--users", "3", "--out", str(tmp_path / "out"), "--ranges", str(ranges)))
    assert f"ranges: 2 IPv4 ranges from {ranges}" in capsys.readouterr().out
    assert all(
        line.split(",")[1].startswith("10.")
        for line in (tmp_path / "out" / "train.csv").read_text().splitlines()
    )


@pytest.mark.parametrize("formatter", [argparse.HelpFormatter, argparse.ArgumentDefaultsHelpFormatter])
def test_the_command_help_shows_every_default_once(formatter: type[argparse.HelpFormatter]) -> None:
    text = add_generate_arguments(argparse.ArgumentParser(formatter_class=formatter)).format_help()
    text = " ".join(text.split())
    for option in (
        "--users",
        "--seed",
        "--days",
        "--train-days",
        "--validation-days",
        "--test-days",
        "--ipv6-share",
        "--attacks",
    ):
        assert option in text
    assert text.count("(default: ") == 10
    assert "(default: builtin)" in text and "(default: 10000)" in text


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["--users", "0"], ConfigError, "--users must be an integer >= 1, got --users=0"),
        (
            ["--ipv6-share", "2"],
            ConfigError,
            r"--ipv6-share must be a number in \[0, 1\], got --ipv6-share=2.0",
        ),
        (["--test-days", "-1"], ConfigError, "--test-days must be an integer >= 0, got --test-days=-1"),
        (
            ["--days", "12"],
            ConfigError,
            "--days must equal --train-days \\+ --validation-days \\+ --test-days = 10, got --days=12",
        ),
        (
            ["--ranges", "/nonexistent/ranges.tsv"],
            DataError,
            "range table /nonexistent/ranges.tsv does not exist",
        ),
    ],
)
def test_the_command_raises_one_line_errors_for_bad_options(
    tmp_path: Path, argv: list[str], error: type, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        run_generate(parse("--out", str(tmp_path), *argv))
    assert "\n" not in str(caught.value)
