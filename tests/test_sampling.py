import numpy as np
import torch
from scipy import stats

from ipinsights.data import IPV4_MAPPED
from ipinsights.sampling import random_ips, shuffled_indices


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
    v6 = ~((hi == 0) & ((lo >> 32) == 0xFFFF))
    assert abs(v6.float().mean().item() - 0.3) < 0.01
    top3 = (hi[v6] >> 61) & 0b111
    assert (top3 == 0b001).all()  # 2000::/3


def test_shuffled_negatives_are_permutations_of_the_batch_for_each_round():
    idx = shuffled_indices(50, 3, torch.Generator().manual_seed(0))
    assert idx.shape == (50, 3)
    for s in range(3):
        assert sorted(idx[:, s].tolist()) == list(range(50))
    assert shuffled_indices(10, 0, torch.Generator()).shape == (10, 0)
