"""Attack sets made from the user's own logs (ipinsights.lab.log_attacks)."""

import ipaddress

import numpy as np
import pytest
from conftest import make_logins

from ipinsights import ConfigError, DataError
from ipinsights.addresses import format_ips
from ipinsights.data import pairs_from_columns
from ipinsights.entities import hash_entities
from ipinsights.lab.log_attacks import LOG_ATTACKS, make_log_attacks


def _pairs(rows, source):
    return pairs_from_columns([e for e, _ in rows], [ip for _, ip in rows], source=source)


@pytest.fixture(scope="module")
def logs():
    train_rows = make_logins(40, 30, seed=1, ipv6_users=5)
    normal_rows = [*make_logins(40, 8, seed=2, ipv6_users=5), ("newcomer", "192.0.2.1")]
    return train_rows, normal_rows, _pairs(train_rows, "train.log"), _pairs(normal_rows, "test.log")


def _used(rows):
    """{entity hash: set of its addresses} over the given rows."""
    used = {}
    for (_entity, ip), h in zip(rows, hash_entities([e for e, _ in rows]).tolist(), strict=True):
        used.setdefault(h, set()).add(ipaddress.ip_address(ip))
    return used


def _attack_rows(attack):
    pairs = attack.pairs
    ips = [ipaddress.ip_address(text) for text in format_ips(pairs.ip_hi, pairs.ip_lo)]
    return list(zip(pairs.entity_hash.tolist(), ips, strict=True))


def _net(address, v4_bits, v6_bits):
    bits = v4_bits if address.version == 4 else v6_bits
    return ipaddress.ip_network(f"{address}/{bits}", strict=False)


def test_the_same_seed_gives_the_same_attacks_and_another_seed_others(logs):
    _, _, train, normal = logs
    first = make_log_attacks(train, normal, 300, seed=7)
    again = make_log_attacks(train, normal, 300, seed=7)
    other = make_log_attacks(train, normal, 300, seed=8)
    assert list(first) == list(LOG_ATTACKS)
    for name in LOG_ATTACKS:
        a, b, c = first[name].pairs, again[name].pairs, other[name].pairs
        assert len(a) == 300 and first[name].seed == 7
        assert np.array_equal(a.entity_hash, b.entity_hash) and np.array_equal(a.ip_lo, b.ip_lo)
        assert not np.array_equal(a.ip_lo, c.ip_lo)
        assert a.report.source == f"{name} from train.log (seed 7)"


def test_victims_are_users_of_the_normal_logins_known_from_training(logs):
    _, _, train, normal = logs
    known = set(train.entity_hash.tolist())
    newcomer = int(hash_entities(["newcomer"])[0])
    for attack in make_log_attacks(train, normal, 500, seed=1).values():
        victims = set(attack.pairs.entity_hash.tolist())
        assert victims <= known and newcomer not in victims
        assert len(victims) > 30  # spread over the users, not one victim


def test_nearby_attacks_are_new_networks_next_to_the_victims_own(logs):
    train_rows, normal_rows, train, normal = logs
    trained, everywhere = _used(train_rows), _used(train_rows + normal_rows)
    sets = make_log_attacks(train, normal, 400, seed=3, names=["nearby_24", "nearby_16"])
    for name, (new_v4, new_v6), (parent_v4, parent_v6) in (
        ("nearby_24", (24, 64), (16, 48)),
        ("nearby_16", (16, 48), (8, 32)),
    ):
        num_ipv6 = 0
        for victim, ip in _attack_rows(sets[name]):
            num_ipv6 += ip.version == 6
            parent = _net(ip, parent_v4, parent_v6)
            assert any(a.version == ip.version and a in parent for a in trained[victim]), (name, ip)
            new = _net(ip, new_v4, new_v6)
            assert not any(a.version == ip.version and a in new for a in everywhere[victim]), (name, ip)
        assert num_ipv6 > 0  # IPv6 users get IPv6 neighbours


def test_other_users_attacks_take_an_address_another_user_logged_in_from(logs):
    train_rows, normal_rows, train, normal = logs
    trained, everywhere = _used(train_rows), _used(train_rows + normal_rows)
    for victim, ip in _attack_rows(
        make_log_attacks(train, normal, 400, seed=4, names=["other_users"])["other_users"]
    ):
        assert ip not in everywhere[victim]
        assert any(ip in addresses for user, addresses in trained.items() if user != victim)


def test_random_attacks_are_ipv4_and_random_ranges_lie_in_the_builtin_table(logs):
    from ipinsights.lab.ranges import RangeTable

    _, _, train, normal = logs
    sets = make_log_attacks(train, normal, 200, seed=5, names=["random_range", "random_ipv4"])
    table = RangeTable.builtin()
    in_range = sets["random_range"].pairs.ip_lo & 0xFFFF_FFFF
    assert (table.row_of(in_range) >= 0).all()
    assert sets["random_ipv4"].pairs.report.num_ipv6_rows == 0


def test_logs_without_a_common_user_or_bad_options_are_one_line_errors(logs):
    _, _, train, _ = logs
    strangers = _pairs([("someone_else", "192.0.2.9")], "other.log")
    with pytest.raises(DataError, match="no entity of the normal logins appears in the training logins"):
        make_log_attacks(train, strangers, 10)
    with pytest.raises(ConfigError, match="unknown attack set 'nearby'; choose from nearby_24"):
        make_log_attacks(train, train, 10, names=["nearby"])
    with pytest.raises(ConfigError, match="must be a positive integer, got 0"):
        make_log_attacks(train, train, 0)
