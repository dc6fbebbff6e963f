import math

import numpy as np
import pandas as pd
import pytest

from ipinsights import ConfigError
from ipinsights.lab.baselines import BackoffBaseline, NewIPBaseline, PrefixCountBaseline, default_baselines
from ipinsights.lab.ranges import RangeTable


def frame(rows):
    return pd.DataFrame(rows, columns=["entity", "ip"])


TRAIN = frame(
    [
        ("alice", "10.0.0.1"),
        ("alice", "10.0.0.1"),
        ("alice", "10.0.0.9"),
        ("alice", "10.0.7.7"),
        ("alice", "2001:db8:1:2::5"),
        ("bob", "10.0.0.2"),
        ("bob", "172.16.5.5"),
    ]
)


def test_new_ip_is_one_only_for_an_ip_the_user_never_used():
    query = frame(
        [
            ("alice", "10.0.0.1"),  # hers
            ("alice", "10.0.0.2"),  # bob's, not hers
            ("alice", "2001:db8:1:2::5"),  # hers, IPv6
            ("alice", "2001:db8:1:2::6"),
            ("carol", "10.0.0.1"),  # unknown user
        ]
    )
    assert NewIPBaseline().fit(TRAIN).score(query).tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]


def test_prefix_counts_are_minus_the_users_training_logins_in_the_same_24_and_16():
    query = frame(
        [
            ("alice", "10.0.0.200"),
            ("alice", "10.0.99.1"),
            ("alice", "10.1.0.1"),
            ("bob", "10.0.0.77"),
            ("carol", "10.0.0.1"),
        ]
    )
    assert PrefixCountBaseline(24).fit(TRAIN).score(query).tolist() == [-3.0, 0.0, 0.0, -1.0, 0.0]
    assert PrefixCountBaseline(16).fit(TRAIN).score(query).tolist() == [-4.0, -4.0, 0.0, -1.0, 0.0]


def test_ipv6_prefix_counts_use_the_64_for_the_24_and_the_48_for_the_16():
    query = frame([("alice", "2001:db8:1:2::99"), ("alice", "2001:db8:1:3::1"), ("alice", "2001:db8:2::1")])
    assert PrefixCountBaseline(24).fit(TRAIN).score(query).tolist() == [-1.0, 0.0, 0.0]
    assert PrefixCountBaseline(16).fit(TRAIN).score(query).tolist() == [-1.0, -1.0, 0.0]


def test_an_ipv4_network_never_matches_an_ipv6_one():
    train = frame([("alice", "::ffff:10.0.0.1"), ("alice", "::1")])
    query = frame([("alice", "10.0.0.1"), ("alice", "::2")])
    # ::ffff:10.0.0.1 is the IPv4 address 10.0.0.1; ::1 and ::2 share their /64 but not 10.0.0.0/24.
    assert NewIPBaseline().fit(train).score(query).tolist() == [0.0, 1.0]
    assert PrefixCountBaseline(24).fit(train).score(query).tolist() == [-1.0, -1.0]


def test_backoff_ranks_same_ip_then_same_24_then_same_16_then_unrelated():
    query = frame(
        [
            ("alice", "10.0.0.1"),
            ("alice", "10.0.0.50"),
            ("alice", "10.0.200.1"),
            ("alice", "10.9.0.1"),
            ("alice", "99.0.0.1"),
        ]
    )
    scores = BackoffBaseline().fit(TRAIN).score(query)
    assert scores[0] < scores[1] < scores[2] < scores[3] < scores[4]
    v6 = (
        BackoffBaseline()
        .fit(TRAIN)
        .score(
            frame(
                [
                    ("alice", "2001:db8:1:2::5"),
                    ("alice", "2001:db8:1:2::77"),
                    ("alice", "2001:db8:1:9::1"),
                    ("alice", "2001:db8:7::1"),
                    ("alice", "2a00::1"),
                ]
            )
        )
    )
    assert v6[0] < v6[1] < v6[2] < v6[3] < v6[4]


def test_backoff_is_a_hand_computed_witten_bell_chain():
    # One user, three logins: 10.0.0.1 twice, 10.0.0.9 once; score 10.0.0.1 and 10.0.0.5.
    train = frame([("alice", "10.0.0.1"), ("alice", "10.0.0.1"), ("alice", "10.0.0.9")])
    scores = BackoffBaseline().fit(train).score(frame([("alice", "10.0.0.1"), ("alice", "10.0.0.5")]))

    g_top = (3 + 1 / 512) / (3 + 1)  # 3 logins in 10/8, 1 distinct /8; IPv4 gets half of 256 /8s
    g_net = (3 + 1 / 256) / (3 + 1)  # /16 in /8 and /24 in /16: 1 distinct child of 256
    p_top = (3 + 1 * g_top) / (3 + 1)
    p_net = (3 + 1 * g_net) / (3 + 1)
    g_ip = (2 + 2 / 256) / (3 + 2)  # 10.0.0.1: 2 of 3 logins in the /24, 2 distinct IPs
    p_ip = (2 + 2 * g_ip) / (3 + 2)
    g_new = (0 + 2 / 256) / (3 + 2)
    p_new = (0 + 2 * g_new) / (3 + 2)
    expected = [-math.log(p_top * p_net * p_net * p_ip), -math.log(p_top * p_net * p_net * p_new)]
    assert scores == pytest.approx(expected, rel=1e-12)


def test_an_unknown_user_gets_the_population_probability_and_a_likelihood_ratio_of_zero():
    query = frame([("mallory", "10.0.0.1"), ("mallory", "99.0.0.1")])
    log_p = BackoffBaseline().fit(TRAIN).score(query)
    known = BackoffBaseline().fit(TRAIN.assign(entity="everyone")).score(query.assign(entity="everyone"))
    assert log_p[0] < log_p[1]
    assert log_p[0] != known[0]  # a user with history is scored on it, not on the population
    assert BackoffBaseline(likelihood_ratio=True).fit(TRAIN).score(query) == pytest.approx(
        [0.0, 0.0], abs=1e-12
    )


def test_the_asn_level_makes_a_new_network_of_the_users_asn_less_surprising():
    a, b = int.from_bytes(bytes([10, 0, 0, 0])), int.from_bytes(bytes([10, 5, 0, 0]))
    table = RangeTable(begin=[a, b], end=[b - 1, b + (5 << 16) - 1], asn=[64500, 64501])
    train = frame([("alice", "10.0.0.1")] * 3 + [("bob", "172.16.0.1")])
    query = frame(
        [("alice", "10.3.0.1"), ("alice", "10.6.0.1")]
    )  # new /16s of alice's /8; ASN 64500 vs 64501
    by_asn = BackoffBaseline(table).fit(train).score(query)
    by_slash8 = BackoffBaseline().fit(train).score(query)
    assert by_asn[0] < by_asn[1]
    assert by_slash8[0] == by_slash8[1]
    assert BackoffBaseline(table).name == "backoff_asn"


def test_baselines_check_their_arguments_and_say_how_to_use_them():
    with pytest.raises(ConfigError, match="prefix must be 24 or 16, got prefix=8"):
        PrefixCountBaseline(8)
    with pytest.raises(ConfigError, match=r"not fitted yet; call fit\(train\) first"):
        NewIPBaseline().score(TRAIN)
    with pytest.raises(ConfigError, match=r"ranges must be an ipinsights\.lab\.RangeTable or None"):
        BackoffBaseline(ranges="asn.tsv")


def test_the_default_set_adds_the_asn_back_off_only_with_a_range_table():
    table = RangeTable(begin=[0], end=[255], asn=[1])
    assert [b.name for b in default_baselines()] == [
        "new_ip",
        "same_24_count",
        "same_16_count",
        "backoff",
        "backoff_lr",
    ]
    assert [b.name for b in default_baselines(table)][-1] == "backoff_asn"


def test_scores_do_not_depend_on_how_the_query_is_batched():
    rng = np.random.default_rng(0)
    ips = [f"10.{rng.integers(0, 3)}.{rng.integers(0, 3)}.{rng.integers(0, 5)}" for _ in range(300)]
    train = frame(list(zip([f"u{i % 7}" for i in range(300)], ips, strict=True)))
    query = train.sample(frac=1.0, random_state=1).reset_index(drop=True)
    for scorer in default_baselines():
        scorer.fit(train)
        whole = scorer.score(query)
        parts = np.concatenate([scorer.score(query.iloc[:100]), scorer.score(query.iloc[100:])])
        assert np.array_equal(whole, parts), scorer.name
