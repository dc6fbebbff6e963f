"""Address text as byte-string columns, formatted and parsed without a loop (ipinsights.lab._text)."""

from __future__ import annotations

import ipaddress

import numpy as np

from ipinsights.lab._text import _format_ipv6, _parse_ipv4_bytes


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
