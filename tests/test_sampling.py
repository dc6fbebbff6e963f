import numpy as np
import pytest
import torch

from ipinsights.addresses import IPV4_MAPPED
from ipinsights.sampling import Kernel, NegativeMix, shuffled_indices


def test_shuffled_negatives_are_permutations_of_the_batch_for_each_round():
    idx = shuffled_indices(50, 3, torch.Generator().manual_seed(0))
    assert idx.shape == (50, 3)
    for s in range(3):
        assert sorted(idx[:, s].tolist()) == list(range(50))
    assert shuffled_indices(10, 0, torch.Generator()).shape == (10, 0)


def test_nearby_negatives_move_the_16_by_1_to_16_networks_inside_the_same_8():
    from ipinsights.sampling import NEARBY_MAX_SHIFT, nearby_ips

    g = torch.Generator().manual_seed(0)
    v4 = torch.randint(0, 1 << 32, (50_000,), generator=torch.Generator().manual_seed(1))
    hi, lo = torch.zeros_like(v4), v4 | IPV4_MAPPED
    new_hi, new_lo = nearby_ips(hi, lo, g)
    assert (new_hi == 0).all() and ((new_lo >> 32) == (IPV4_MAPPED >> 32)).all()
    old, new = v4.numpy(), (new_lo & 0xFFFFFFFF).numpy()
    assert ((old >> 24) == (new >> 24)).all()
    shift = (((new >> 16) & 255).astype(np.int64) - ((old >> 16) & 255)) % 256
    distance = np.minimum(shift, 256 - shift)
    assert distance.min() == 1 and distance.max() == NEARBY_MAX_SHIFT
    assert 0.45 < (shift <= NEARBY_MAX_SHIFT).mean() < 0.55  # either way, fairly


def test_nearby_24_negatives_move_the_24_inside_the_same_16_and_ipv6_the_64_inside_the_48():
    from ipinsights.addresses import parse_ips
    from ipinsights.sampling import NEARBY_MAX_SHIFT, nearby_ips

    v4 = torch.randint(0, 1 << 32, (20_000,), generator=torch.Generator().manual_seed(1))
    hi, lo = torch.zeros_like(v4), v4 | IPV4_MAPPED
    new_hi, new_lo = nearby_ips(hi, lo, torch.Generator().manual_seed(2), level="24")
    assert (new_hi == 0).all() and ((new_lo >> 32) == (IPV4_MAPPED >> 32)).all()
    old, new = v4.numpy(), (new_lo & 0xFFFFFFFF).numpy()
    assert ((old >> 16) == (new >> 16)).all()
    shift = (((new >> 8) & 255).astype(np.int64) - ((old >> 8) & 255)) % 256
    assert np.minimum(shift, 256 - shift).min() == 1 and np.minimum(shift, 256 - shift).max() == NEARBY_MAX_SHIFT
    assert len(np.unique(new & 255)) > 200  # the last octet is drawn afresh

    _, hi6, lo6 = parse_ips(["2001:db8:1234:5678::1"] * 1000)
    new_hi, _ = nearby_ips(torch.from_numpy(hi6), torch.from_numpy(lo6), torch.Generator().manual_seed(3), level="24")
    assert ((new_hi.numpy() >> 16) == (hi6 >> 16)).all()
    group = new_hi.numpy() & 0xFFFF
    assert (group != 0x5678).all() and (np.abs(group.astype(np.int64) - 0x5678) <= NEARBY_MAX_SHIFT).all()


def test_populated_negatives_land_in_the_given_networks_with_the_rest_drawn():
    from ipinsights.addresses import NETWORK_LEVELS, network, parse_ips
    from ipinsights.sampling import populated_ips

    _, hi, lo = parse_ips(["10.1.0.0", "192.168.0.0", "2001:db8:1::"])
    new_hi, new_lo = populated_ips(torch.from_numpy(hi), torch.from_numpy(lo), 3000, torch.Generator().manual_seed(4))
    net_hi, net_lo = network(new_hi, new_lo, NETWORK_LEVELS[2])
    nets = set(zip(net_hi.tolist(), net_lo.tolist(), strict=True))
    assert nets == set(zip(hi.tolist(), lo.tolist(), strict=True))  # every network drawn, no other
    assert len(set(new_lo.tolist())) > 2900  # the host part is drawn


def test_nearby_negatives_of_ipv6_move_the_48_inside_the_same_32_and_are_seeded():
    from ipinsights.addresses import parse_ips
    from ipinsights.sampling import nearby_ips

    _, hi, lo = parse_ips(["2001:db8:1234::1"] * 1000)
    a = nearby_ips(torch.from_numpy(hi), torch.from_numpy(lo), torch.Generator().manual_seed(3))
    b = nearby_ips(torch.from_numpy(hi), torch.from_numpy(lo), torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    top32 = (a[0].numpy() >> 32) & 0xFFFFFFFF
    assert (top32 == 0x20010DB8).all()
    group = (a[0].numpy() >> 16) & 0xFFFF
    assert (group != 0x1234).all() and (np.abs(group.astype(np.int64) - 0x1234) <= 16).all()


def test_a_negative_mix_refuses_ipv6_for_hand_derived_kernels_and_nearby_negatives_for_blocks():
    with pytest.raises(
        ValueError, match="the hand-derived kernel scores IPv4 addresses only, got ipv4_only=False"
    ):
        NegativeMix(num_random=1, num_shuffled=1, num_nearby=0, kernel=Kernel.HAND_DERIVED)
    with pytest.raises(
        ValueError, match="the blocks kernel scores IPv4 addresses only, got ipv4_only=True, ipv6_share=0.5"
    ):
        NegativeMix(
            num_random=1, num_shuffled=1, num_nearby=0, kernel=Kernel.BLOCKS, ipv4_only=True, ipv6_share=0.5
        )
    with pytest.raises(ValueError, match="the block kernels draw no nearby negatives, got num_nearby=2"):
        NegativeMix(num_random=1, num_shuffled=1, num_nearby=2, kernel=Kernel.BLOCKS, ipv4_only=True)


def test_a_negative_mix_logs_its_counts_and_its_kernel():
    mix = NegativeMix(num_random=5, num_shuffled=1, num_nearby=0, kernel=Kernel.BLOCKS, ipv4_only=True)
    assert mix.describe() == "negatives per observed pair: 5 random, 1 shuffled, 0 nearby (blocks kernel)"
    with pytest.raises(ValueError, match="num_nearby must be >= 0, got num_nearby=-1"):
        NegativeMix(num_random=5, num_shuffled=1, num_nearby=-1, kernel=Kernel.AUTOGRAD)
