import dataclasses

import pytest
import torch

from ipinsights.addresses import random_ips
from ipinsights.kernels import (
    HAND_DERIVED_RULE,
    block_gradients,
    block_rows,
    block_unit,
    candidate_rows,
    candidate_scores,
    choose_mix,
    draw_candidates,
    hand_derived_gradients,
    split_batch,
    step_gradients,
)
from ipinsights.metrics import loss_and_accuracy
from ipinsights.model import IPInsightsNet
from ipinsights.sampling import Kernel, NegativeMix


def test_ipv4_only_scoring_matches_the_general_path_in_scores_and_gradients():
    torch.manual_seed(3)
    net = IPInsightsNet(50, 16, 1)
    g = torch.Generator().manual_seed(4)
    hi, lo = random_ips((20,), g)
    rows = candidate_rows(10, 3, 1, g, "cpu")
    results = []
    for ipv4_only in (False, True):
        net.zero_grad(set_to_none=True)
        entity = net.embed_entities(torch.arange(10))
        scores = candidate_scores(net, entity, hi, lo, rows, ipv4_only=ipv4_only)
        scores.square().sum().backward()
        results.append(
            (
                scores.detach(),
                net.entity.grad.to_dense(),
                net.ip.tables[1].grad.to_dense(),
                net.ip.bits.weight.grad[:, :32],
            )
        )
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b)


def test_hand_derived_gradients_equal_autograd_for_zero_and_one_encoder_layers():
    g = torch.Generator().manual_seed(5)
    for layers in (0, 1):
        for design in ("prefix", "prefix32"):
            torch.manual_seed(layers)
            net = IPInsightsNet(40, 8, layers, ip_encoder=design)
            entity_rows = torch.tensor([3, 7, 3, 39, 0, 7])  # repeated rows: their gradients add up
            hi, lo = random_ips((12,), g)
            lo[3] = lo[0]  # a repeated address too
            rows = candidate_rows(6, 3, 2, g, "cpu")
            scores = candidate_scores(net, net.embed_entities(entity_rows), hi, lo, rows)
            loss, accuracy = loss_and_accuracy(scores[:, 0], scores[:, 1:])
            params = list(net.parameters())
            expected = torch.autograd.grad(loss * 0.75, params)
            got, got_loss, got_accuracy = hand_derived_gradients(net, entity_rows, lo, rows, 0.75)
            torch.testing.assert_close(got_loss, loss.detach())
            assert got_accuracy == accuracy
            assert set(got) == set(params)
            for p, grad in zip(params, expected, strict=True):
                assert got[p].is_sparse == grad.is_sparse
                if grad.is_sparse:
                    assert got[p].is_coalesced()
                torch.testing.assert_close(
                    got[p].to_dense() if got[p].is_sparse else got[p],
                    grad.to_dense() if grad.is_sparse else grad,
                )


def test_block_negatives_equal_the_general_path_on_the_same_candidates():
    g = torch.Generator().manual_seed(6)
    for layers, r, s, k in (
        (1, 5, 1, 1),
        (0, 3, 2, 1),
        (1, 0, 3, 1),
        (1, 4, 0, 1),
        (1, 5, 1, 4),
        (0, 2, 2, 3),
    ):
        torch.manual_seed(r + s)
        net = IPInsightsNet(30, 8, layers)
        m = 2 * block_unit(r, s, k)
        entity_rows = torch.randint(0, 30, (m,), generator=g)
        _hi, lo = random_ips((m + (m // k if r else 0),), g)
        rows = block_rows(m, r, s, k)
        assert rows.shape == (m, 1 + r + s)
        assert all(
            len(set(row[1 + r :].tolist()) | {i}) == s + 1 for i, row in enumerate(rows)
        )  # S others, never itself
        expected, loss, accuracy = hand_derived_gradients(net, entity_rows, lo, rows, 0.5)
        got, got_loss, got_accuracy = block_gradients(net, entity_rows, lo, r, s, 0.5, k)
        torch.testing.assert_close(got_loss, loss)
        torch.testing.assert_close(got_accuracy.float(), accuracy)
        assert set(got) == set(expected)
        for p, grad in expected.items():
            torch.testing.assert_close(
                got[p].to_dense() if got[p].is_sparse else got[p], grad.to_dense() if grad.is_sparse else grad
            )


def test_the_kernel_is_chosen_by_data_depth_and_nearby_negatives():
    shallow, deep = IPInsightsNet(10, 4, 1), IPInsightsNet(10, 4, 2)
    assert choose_mix(shallow, 5, 1, 0, ipv4_data=True).kernel is Kernel.BLOCKS
    assert choose_mix(IPInsightsNet(10, 4, 0), 5, 1, 0, ipv4_data=True).kernel is Kernel.BLOCKS
    assert choose_mix(shallow, 5, 1, 2, ipv4_data=True).kernel is Kernel.HAND_DERIVED
    assert (
        choose_mix(shallow, 1000, 4, 0, ipv4_data=True).kernel is Kernel.HAND_DERIVED
    )  # block unit > STEP_CHUNK
    assert choose_mix(deep, 5, 1, 0, ipv4_data=True).kernel is Kernel.AUTOGRAD
    assert choose_mix(shallow, 5, 1, 0, ipv4_data=False).kernel is Kernel.AUTOGRAD
    ipv6_negatives = choose_mix(shallow, 5, 1, 0, ipv4_data=True, ipv6_share=0.1)
    assert ipv6_negatives.kernel is Kernel.AUTOGRAD and not ipv6_negatives.ipv4_only
    assert choose_mix(deep, 5, 1, 0, ipv4_data=True).ipv4_only  # autograd still uses IPv4-only features


@pytest.mark.parametrize("layers", [2, 3])
def test_the_hand_derived_kernels_refuse_more_than_one_encoder_layer(layers):
    # They treat the first layer as the last: with two or more their gradients would be wrong.
    net = IPInsightsNet(30, 8, layers)
    g = torch.Generator().manual_seed(1)
    m = 2 * block_unit(2, 1, 1)
    entity_rows = torch.randint(0, 30, (m,), generator=g)
    _hi, lo = random_ips((2 * m,), g)
    rule = f"support {HAND_DERIVED_RULE}, got num_ip_encoder_layers={layers}"
    assert HAND_DERIVED_RULE == "at most one IP encoder layer; IPv4 addresses only"
    with pytest.raises(ValueError, match=rule):
        hand_derived_gradients(net, entity_rows, lo, candidate_rows(m, 2, 1, g, "cpu"), 1.0)
    with pytest.raises(ValueError, match=rule):
        block_gradients(net, entity_rows, lo, 2, 1, 1.0)
    mix = NegativeMix(num_random=2, num_shuffled=1, num_nearby=0, kernel=Kernel.BLOCKS, ipv4_only=True)
    with pytest.raises(ValueError, match=rule):
        step_gradients(net, mix, draw_candidates(mix, entity_rows, _hi[:m], lo[:m], g))


def test_block_gradients_refuse_a_chunk_that_is_not_a_multiple_of_the_block_unit():
    net = IPInsightsNet(30, 8, 1)
    g = torch.Generator().manual_seed(2)
    _hi, lo = random_ips((20,), g)
    with pytest.raises(ValueError, match=r"multiple of block_unit\(R=2, S=1, k=4\) = 8 pairs, got 10"):
        block_gradients(net, torch.zeros(10, dtype=torch.int64), lo[:12], 2, 1, 1.0, 4)


def test_the_step_equals_autograd_whichever_kernel_runs_on_the_same_candidates():
    torch.manual_seed(0)
    net = IPInsightsNet(30, 8, 1)
    g = torch.Generator().manual_seed(3)
    hi, lo = random_ips((24,), g)
    entity_rows = torch.randint(0, 30, (24,), generator=g)
    general = NegativeMix(num_random=2, num_shuffled=1, num_nearby=1, kernel=Kernel.AUTOGRAD, ipv4_only=True)
    candidates = draw_candidates(general, entity_rows, hi, lo, g)
    assert candidates.rows.shape == (24, 1 + 2 + 1 + 1) and len(candidates.ip_lo) == 24 + 24 + 24
    expected = step_gradients(net, general, candidates, 0.5)
    got = step_gradients(net, dataclasses.replace(general, kernel=Kernel.HAND_DERIVED), candidates, 0.5)
    torch.testing.assert_close(got.loss, expected.loss.detach())
    assert set(got.grads) == set(expected.grads)
    for p, grad in expected.grads.items():
        torch.testing.assert_close(got.grads[p].to_dense(), grad.to_dense())


def test_a_batch_splits_into_block_chunks_and_a_remainder(monkeypatch):
    import ipinsights.kernels

    monkeypatch.setattr(ipinsights.kernels, "STEP_CHUNK", 20)
    blocks = NegativeMix(
        num_random=2, num_shuffled=1, num_nearby=0, kernel=Kernel.BLOCKS, ipv4_only=True
    )  # unit 8
    assert [len(p) for p in split_batch(torch.arange(43), blocks)] == [16, 16, 8, 3]
    general = NegativeMix(num_random=2, num_shuffled=1, num_nearby=0, kernel=Kernel.AUTOGRAD)
    assert [len(p) for p in split_batch(torch.arange(43), general)] == [20, 20, 3]
    assert split_batch(torch.arange(0), blocks) == []
