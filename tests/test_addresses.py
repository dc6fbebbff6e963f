import ipaddress

import numpy as np
import pytest
import torch
from scipy import stats

from ipinsights.addresses import (
    ENCODER_LEVELS,
    IPV4_MAPPED,
    NETWORK_LEVELS,
    format_ips,
    format_ipv4_bytes,
    format_ipv6_bytes,
    is_ipv4,
    network,
    parse_ips,
    parse_ipv4_bytes,
    random_ips,
)


def test_ipv4_addresses_parse_to_their_ipv4_mapped_words():
    ok, hi, lo = parse_ips(["0.0.0.0", "1.2.3.4", "255.255.255.255", " 10.0.0.1 "])
    assert ok.all()
    assert hi.tolist() == [0, 0, 0, 0]
    assert lo.tolist() == [IPV4_MAPPED, IPV4_MAPPED | 0x01020304, IPV4_MAPPED | 0xFFFFFFFF, IPV4_MAPPED | 0x0A000001]


@pytest.mark.parametrize(
    "text",
    ["256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.04", "01.2.3.4", "1.2.3.4a", "a.b.c.d", "", "1.2.3.-4", "1234.1.1.1", "1.2.3.4/24"],
)
def test_malformed_ipv4_text_is_rejected(text):
    ok, _, _ = parse_ips([text])
    assert not ok[0]


def test_ipv6_addresses_parse_in_every_text_form_and_ipv4_mapped_ones_equal_ipv4():
    ok, hi, lo = parse_ips(["2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "::ffff:1.2.3.4", "1.2.3.4", "::1", "2001:db8:::1"])
    assert ok.tolist() == [True, True, True, True, True, False]
    assert (hi[0], lo[0]) == (hi[1], lo[1])
    assert (hi[2], lo[2]) == (hi[3], lo[3])
    assert format_ips(hi[:5], lo[:5]) == ["2001:db8::1", "2001:db8::1", "1.2.3.4", "1.2.3.4", "::1"]


def test_ipv6_words_cover_addresses_with_the_top_bit_set():
    ok, hi, lo = parse_ips(["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])
    assert ok[0] and hi[0] == -1 and lo[0] == -1
    assert format_ips(hi, lo) == ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]


def test_random_negatives_are_ipv4_with_every_octet_uniform():
    g = torch.Generator().manual_seed(0)
    hi, lo = random_ips((200_000,), g)
    assert hi.shape == (200_000,) and (hi == 0).all()
    assert ((lo >> 32) == (IPV4_MAPPED >> 32)).all()
    v4 = (lo & 0xFFFFFFFF).numpy()
    for shift in (24, 16, 8, 0):
        counts = np.bincount((v4 >> shift) & 255, minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-4


def test_random_negatives_keep_the_requested_shape_and_are_seeded():
    a = random_ips((7, 5), torch.Generator().manual_seed(3))
    b = random_ips((7, 5), torch.Generator().manual_seed(3))
    assert a[0].shape == a[1].shape == (7, 5)
    assert torch.equal(a[1], b[1])


def test_an_ipv6_share_draws_that_share_from_global_unicast_space():
    hi, lo = random_ips((100_000,), torch.Generator().manual_seed(1), ipv6_share=0.3)
    v6 = ~is_ipv4(hi, lo)
    assert abs(v6.float().mean().item() - 0.3) < 0.01
    top3 = (hi[v6] >> 61) & 0b111
    assert (top3 == 0b001).all()  # 2000::/3


def test_the_ipv4_mapped_test_agrees_on_numpy_int64_uint64_and_torch():
    _, hi, lo = parse_ips(["1.2.3.4", "::ffff:0:1", "::1.2.3.4", "2001:db8::1", "0.0.0.0", "::1:ffff:102:304"])
    expected = [True, True, False, False, True, False]
    assert is_ipv4(hi, lo).tolist() == expected
    assert is_ipv4(hi.astype(np.uint64), lo.astype(np.uint64)).tolist() == expected
    assert is_ipv4(torch.from_numpy(hi), torch.from_numpy(lo)).tolist() == expected


def test_odd_text_takes_the_ipaddress_fallback_and_bad_text_is_refused():
    texts = ["::ffff:1.2.3.4", "2001:DB8::1", "::", " 1.2.3.4\t", "1.2.3.4 5", "x" * 60, "1.2.3.4%eth0", "fe80::1%eth0", "é"]
    ok, hi, lo = parse_ips(texts)
    assert ok.tolist() == [True, True, True, True, False, False, False, False, False]
    assert format_ips(hi[:4], lo[:4]) == ["1.2.3.4", "2001:db8::1", "::", "1.2.3.4"]
    assert (hi[~ok] == 0).all() and (lo[~ok] == 0).all()


def test_formatting_round_trips_through_parsing_and_agrees_with_ipaddress():
    g = torch.Generator().manual_seed(0)
    hi, lo = (t.numpy() for t in random_ips((5000,), g, ipv6_share=0.5))
    hi, lo = np.append(hi, [0, 0, 0x20010DB8 << 32]), np.append(lo, [0, 1, 0])  # "::", "::1", "2001:db8::"
    texts = format_ips(hi, lo)
    assert texts == [str(ipaddress.ip_address(t)) for t in texts]
    ok, hi2, lo2 = parse_ips(texts)
    assert ok.all() and np.array_equal(hi, hi2) and np.array_equal(lo, lo2)
    v4 = is_ipv4(hi, lo)
    assert format_ipv4_bytes(lo[v4] & 0xFFFF_FFFF).astype(str).tolist() == [t for t, m in zip(texts, v4, strict=True) if m]
    six = format_ipv6_bytes(hi[~v4].astype(np.uint64), lo[~v4].astype(np.uint64)).astype(str).tolist()
    assert six == [t for t, m in zip(texts, v4, strict=True) if not m]


def test_the_bytes_parser_follows_the_rules_of_parse_ips():
    texts = ["1.2.3.4", "255.255.255.255", "0.0.0.0", "1.2.3.04", "256.1.1.1", "1.2.3", "", "1.2.3.4 "]
    ok, v4 = parse_ipv4_bytes(np.array([t.encode() for t in texts]))
    ok_ips, _, lo = parse_ips([t.strip() if t != "1.2.3.4 " else t + "x" for t in texts])
    assert ok.tolist() == [True, True, True, False, False, False, False, False]
    assert ok[:3].tolist() == ok_ips[:3].tolist() and (v4[:3] == (lo[:3] & 0xFFFF_FFFF)).all()


def test_the_level_tables_nest_and_say_the_same_network_in_each_family():
    for levels in (ENCODER_LEVELS, NETWORK_LEVELS[::-1]):  # coarse to fine
        assert [lv.ipv4_bits for lv in levels] == sorted(lv.ipv4_bits for lv in levels)
        assert [lv.ipv6_bits for lv in levels] == sorted(lv.ipv6_bits for lv in levels)
    assert [(lv.ipv4_bits, lv.ipv6_bits) for lv in ENCODER_LEVELS] == [(8, 32), (16, 48), (24, 56), (32, 64)]
    assert [(lv.name, lv.ipv4_bits, lv.ipv6_bits) for lv in NETWORK_LEVELS] == [
        ("ip", 32, 128), ("24", 24, 64), ("16", 16, 48), ("8", 8, 32)
    ]


@pytest.mark.parametrize("level", NETWORK_LEVELS + ENCODER_LEVELS, ids=lambda lv: f"{lv.ipv4_bits}-{lv.ipv6_bits}")
def test_network_keeps_the_level_prefix_of_each_family(level):
    texts = ["203.0.113.77", "2001:db8:abcd:1234:5678:9abc:def0:1234"]
    _, hi, lo = parse_ips(texts)
    net_hi, net_lo = network(hi, lo, level)
    expected = [
        str(ipaddress.ip_network(f"{texts[0]}/{level.ipv4_bits}", strict=False).network_address),
        str(ipaddress.ip_network(f"{texts[1]}/{level.ipv6_bits}", strict=False).network_address),
    ]
    assert format_ips(net_hi, net_lo) == expected
    torch_hi, torch_lo = network(torch.from_numpy(hi), torch.from_numpy(lo), level)
    assert torch_hi.tolist() == net_hi.tolist() and torch_lo.tolist() == net_lo.tolist()


def test_ipv6_bytes_text_matches_the_ipaddress_module_including_zero_runs() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 1 << 16, size=(400, 8))
    groups[rng.random((400, 8)) < 0.4] = 0  # many zero runs of every length
    lo = (groups[:, 4:].astype(np.uint64) << np.array([48, 32, 16, 0], dtype=np.uint64)).sum(axis=1)
    hi = (groups[:, :4].astype(np.uint64) << np.array([48, 32, 16, 0], dtype=np.uint64)).sum(axis=1)
    expected = [
        str(ipaddress.IPv6Address((int(h) << 64) | int(lo_))).encode() for h, lo_ in zip(hi, lo, strict=True)
    ]
    assert format_ipv6_bytes(hi, lo).tolist() == expected


def test_parsing_dotted_bytes_accepts_ipv4_and_rejects_everything_else() -> None:
    text = np.array(
        [b"1.2.3.4", b"255.255.255.255", b"0.0.0.0", b"1.2.3", b"1.2.3.4.5", b"256.1.1.1", b"1..2.3", b"::1", b"a.b.c.d"]
    )
    ok, address = parse_ipv4_bytes(text)
    assert ok.tolist() == [True, True, True, False, False, False, False, False, False]
    assert address[:3].tolist() == [0x01020304, 0xFFFFFFFF, 0]
