"""The inference path: folded encoder against the network, chunking, the history score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SMALL_HP

from ipinsights import IPInsights
from ipinsights.addresses import parse_ips
from ipinsights.entities import entity_rows, hash_entities
from ipinsights.model import IPInsightsNet
from ipinsights.scoring import Scorer

NUM_ENTITY_VECTORS = 500


def _net(design: str, layers: int, seed: int = 0) -> IPInsightsNet:
    torch.manual_seed(seed)
    net = IPInsightsNet(NUM_ENTITY_VECTORS, 32, layers, ip_encoder=design)
    with torch.no_grad():
        for p in net.parameters():  # not the zero biases of a fresh network: every term counts
            p.normal_(0.0, 0.3)
    return net


def _pairs(n: int, seed: int, *, ipv6_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random entities with IPv4 addresses and a share of IPv6 ones (any 128 bits)."""
    rng = np.random.default_rng(seed)
    entity = rng.integers(0, 2**63, n, dtype=np.uint64)
    hi = np.zeros(n, np.int64)
    lo = (0xFFFF << 32) | rng.integers(0, 2**32, n)
    six = rng.random(n) < ipv6_share
    hi[six] = rng.integers(-(2**63), 2**63 - 1, int(six.sum()))
    lo[six] = rng.integers(-(2**63), 2**63 - 1, int(six.sum()))
    return entity, hi, lo


def _network_scores(net: IPInsightsNet, entity, hi, lo) -> np.ndarray:
    rows = torch.from_numpy(entity_rows(entity, NUM_ENTITY_VECTORS))
    return net.score(rows, torch.from_numpy(hi), torch.from_numpy(lo)).dot_product.numpy()


def _scorer(net: IPInsightsNet, **kwargs) -> Scorer:
    return Scorer(
        net, num_entity_vectors=NUM_ENTITY_VECTORS, known_entity_hashes=np.zeros(0, np.uint64), **kwargs
    )


@pytest.mark.parametrize("design", ["prefix", "prefix24", "prefix32", "bits"])
@pytest.mark.parametrize("layers", [0, 1])
@pytest.mark.parametrize("ipv6_share", [0.0, 0.4, 1.0])
def test_a_linear_encoder_folds_into_tables_that_give_the_networks_scores_to_float32_rounding(
    design, layers, ipv6_share
):
    net = _net(design, layers)
    entity, hi, lo = _pairs(3000, seed=1, ipv6_share=ipv6_share)
    scorer = _scorer(net)
    got = scorer.score(entity, hi, lo, embeddings=True)
    want = _network_scores(net, entity, hi, lo)
    assert scorer.folded
    # 1e-5 relative to the size of the score: |e| |v| bounds what float32 rounding of the
    # 32 products can move it (a score near 0 is a cancellation, where |score| alone is no scale).
    scale = np.linalg.norm(got.entity_embedding, axis=1) * np.linalg.norm(got.ip_embedding, axis=1)
    assert np.all(np.abs(got.dot_product - want) <= 1e-5 * np.maximum(np.abs(want), scale))
    assert np.abs(want).mean() > 1.0  # scores of a meaningful size, not all near zero
    ip_vectors = net.embed_ips(torch.from_numpy(hi), torch.from_numpy(lo)).detach().numpy()
    np.testing.assert_allclose(got.ip_embedding, ip_vectors, rtol=1e-5, atol=1e-5 * np.abs(ip_vectors).max())


def test_a_deep_encoder_is_not_folded_and_encodes_repeated_addresses_once_with_the_same_scores():
    net = _net("prefix", 2)
    entity, hi, lo = _pairs(400, seed=2, ipv6_share=0.3)
    hi, lo = np.concatenate([hi, hi[:100], hi[:50]]), np.concatenate([lo, lo[:100], lo[:50]])  # repeats
    entity = np.concatenate([entity, entity[200:300], entity[:50]])
    scorer = _scorer(net)
    assert not scorer.folded
    got = scorer.score(entity, hi, lo).dot_product
    np.testing.assert_allclose(got, _network_scores(net, entity, hi, lo), rtol=1e-5, atol=1e-5)
    assert np.array_equal(got[-50:], got[:50])  # the same pair, the same score


def test_a_pairs_score_does_not_depend_on_the_chunk_it_is_scored_in():
    net = _net("prefix", 1)
    entity, hi, lo = _pairs(1000, seed=3, ipv6_share=0.3)
    whole = _scorer(net).score(entity, hi, lo).dot_product
    for chunk in (1, 7, 256):
        assert np.array_equal(_scorer(net, chunk=chunk).score(entity, hi, lo).dot_product, whole)
    assert np.array_equal(
        _scorer(net).score(entity[500:501], hi[500:501], lo[500:501]).dot_product, whole[500:501]
    )


def test_unfolded_scoring_is_available_for_comparison():
    net = _net("prefix", 1)
    entity, hi, lo = _pairs(50, seed=4, ipv6_share=0.5)
    scorer = _scorer(net, fold=False)
    assert not scorer.folded
    np.testing.assert_allclose(
        scorer.score(entity, hi, lo).dot_product, _network_scores(net, entity, hi, lo), rtol=1e-6, atol=1e-6
    )


@pytest.fixture(scope="module")
def model(small_data):
    return IPInsights(**SMALL_HP, seed=0).fit(
        small_data["train"], validation=small_data["validation"], log=None
    )


def test_the_combined_score_scored_in_chunks_equals_the_history_score_of_all_pairs_at_once(model):
    rng = np.random.default_rng(5)
    users = [f"user_{u}" for u in rng.integers(0, 70, 3000)]
    ips = [
        f"{11 + (u * 7) % 200}.{(u * 13) % 256}.{c}.{d}"
        for u, c, d in zip(
            rng.integers(0, 70, 3000), rng.integers(0, 256, 3000), rng.integers(1, 255, 3000), strict=True
        )
    ]
    _, hi, lo = parse_ips(ips)
    entity = hash_entities(users)
    scorer = Scorer(
        model.net,
        num_entity_vectors=SMALL_HP["num_entity_vectors"],
        known_entity_hashes=model.known_entity_hashes,
        history=model.history,
        history_score=model.history_score,
        chunk=100,
    )
    got = scorer.score(entity, hi, lo)
    assert model.history is not None and model.history_score is not None
    want = model.history_score(model.history.features(entity, hi, lo, got.dot_product))
    np.testing.assert_allclose(got.score, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    one_by_one = [
        scorer.score(entity[i : i + 1], hi[i : i + 1], lo[i : i + 1]).score[0] for i in range(0, 3000, 37)
    ]
    assert np.array_equal(one_by_one, got.score[::37])  # a pair's score does not depend on its chunk
    assert np.array_equal(got.known_entity, model.known_hashes(entity))


def test_the_estimator_rebuilds_its_scorer_when_the_weights_change(model):
    _, hi, lo = parse_ips(["46.65.1.1"])
    entity = hash_entities(["user_5"])
    before = model.score_hashed(entity, hi, lo).dot_product
    with torch.no_grad():
        model.net.ip.layers[0].bias.add_(1.0)
    try:
        after = model.score_hashed(entity, hi, lo).dot_product
        assert not np.allclose(before, after)
        np.testing.assert_allclose(after, _network_like(model, entity, hi, lo), rtol=1e-5, atol=1e-5)
    finally:
        with torch.no_grad():
            model.net.ip.layers[0].bias.sub_(1.0)


def _network_like(model: IPInsights, entity, hi, lo) -> np.ndarray:
    rows = torch.from_numpy(entity_rows(entity, SMALL_HP["num_entity_vectors"]))
    return model.net.score(rows, torch.from_numpy(hi), torch.from_numpy(lo)).dot_product.numpy()


@pytest.mark.parametrize("num_keys", [0, 1, 7, 5000])
def test_known_entities_are_found_exactly_by_the_hash_set(num_keys):
    from ipinsights.scoring import _HashSet

    rng = np.random.default_rng(num_keys)
    keys = np.unique(rng.integers(0, 2**64, num_keys, dtype=np.uint64, endpoint=False))
    keys = np.concatenate([keys, np.array([0, 2**64 - 1], dtype=np.uint64)[: min(2, num_keys)]])
    queries = np.concatenate(
        [keys, rng.integers(0, 2**64, 3000, dtype=np.uint64, endpoint=False), keys + np.uint64(1)]
    )
    sorted_keys = np.unique(keys)
    want = np.isin(queries, sorted_keys)
    assert np.array_equal(_HashSet(sorted_keys).contains(queries), want)
    assert want[: len(keys)].all()
