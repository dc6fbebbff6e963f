import numpy as np
import pytest

from ipinsights.addresses import parse_ips
from ipinsights.entities import hash_entities
from ipinsights.history import DEFAULT_FEATURES, FEATURES, EntityHistory, HistoryScore


def _history():
    entities = ["alice"] * 3 + ["bob"]
    _, hi, lo = parse_ips(["10.1.2.3", "10.1.2.3", "10.1.9.9", "10.7.0.1"])
    return EntityHistory.build(hash_entities(entities), hi, lo, backoff=True)


def test_history_counts_the_entitys_logins_per_level_and_everybodys_per_network():
    history = _history()
    _, hi, lo = parse_ips(["10.1.2.3", "10.1.200.1", "10.9.0.1", "11.0.0.1"])
    f = history.features(hash_entities(["alice"] * 4), hi, lo, np.arange(4.0))
    col = {name: f[:, i] for i, name in enumerate(FEATURES)}
    assert np.allclose(np.expm1(col["log1p_count_ip"]), [2, 0, 0, 0])
    assert np.allclose(np.expm1(col["log1p_count_24"]), [2, 0, 0, 0])
    assert np.allclose(np.expm1(col["log1p_count_16"]), [3, 3, 0, 0])
    assert np.allclose(np.expm1(col["log1p_count_8"]), [3, 3, 3, 0])
    assert np.allclose(np.expm1(col["log1p_entity_logins"]), 3)
    assert np.allclose(np.expm1(col["log1p_busy_8"]), [4, 4, 4, 0])
    assert np.allclose(col["in_known_16"], [1, 1, 0, 0]) and np.allclose(col["in_known_8_only"], [0, 0, 1, 0])
    # The dot product goes to exactly one of its three columns: known /16, known /8 only, far.
    assert np.allclose(col["dot_in_known_16"] + col["dot_in_known_8_only"] + col["dot_outside_known_8"], np.arange(4.0))
    assert col["dot_in_known_8_only"][2] == 2 and col["dot_outside_known_8"][3] == 3
    # 10.9/16 is 8 networks from alice's 10.1/16; measured only next door (known /8, new /16).
    assert np.allclose(np.expm1(col["log1p_distance_16_in_known_8"]), [0, 0, 8, 0])
    # 10.1.200/24 is 191 /24s from alice's nearest, 10.1.9/24; measured only in a new /24 of a known /16.
    assert np.allclose(np.expm1(col["log1p_distance_24_in_known_16"]), [0, 191, 0, 0])


def test_the_24_distance_is_per_entity_and_ipv6_measures_64s_inside_the_48():
    entities = ["alice", "alice", "bob"]
    _, hi, lo = parse_ips(["2001:db8:1:5::1", "10.1.2.3", "2001:db8:1:9::1"])
    history = EntityHistory.build(hash_entities(entities), hi, lo)
    _, qhi, qlo = parse_ips(["2001:db8:1:8::7", "2001:db8:1:8::7", "10.1.4.4"])
    f = history.features(hash_entities(["alice", "bob", "alice"]), qhi, qlo, np.zeros(3))
    # alice's nearest /64 in 2001:db8:1::/48 is :5 (3 away), bob's :9 (1 away); 10.1.4/24 is 2 from 10.1.2.
    assert np.allclose(np.expm1(f[:, FEATURES.index("log1p_distance_24_in_known_16")]), [3, 1, 2])


def test_an_unknown_entity_has_no_history_of_its_own():
    _, hi, lo = parse_ips(["10.1.2.3"])
    f = _history().features(hash_entities(["carol"]), hi, lo, np.zeros(1))[0]
    assert f[FEATURES.index("log1p_count_16")] == 0 and f[FEATURES.index("log1p_entity_logins")] == 0
    assert f[FEATURES.index("log1p_busy_16")] > 0


def test_history_round_trips_through_its_tensors():
    history = _history()
    again = EntityHistory.from_tensors(history.to_tensors())
    _, hi, lo = parse_ips(["10.1.2.3", "10.7.0.9"])
    ent = hash_entities(["alice", "bob"])
    assert np.array_equal(history.features(ent, hi, lo, np.ones(2)), again.features(ent, hi, lo, np.ones(2)))
    assert EntityHistory.from_tensors({}) is None
    broken = history.to_tensors()
    broken["history.entity_16.counts"] = broken["history.entity_16.counts"][:1]
    with pytest.raises(ValueError, match="entity_16"):
        EntityHistory.from_tensors(broken)


def test_history_score_learns_that_history_means_normal_and_round_trips():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(500, len(FEATURES))) + 1.0
    neg = rng.normal(size=(1500, len(FEATURES)))
    score = HistoryScore.fit(pos, neg)
    assert score(pos).mean() > score(neg).mean()
    assert HistoryScore.from_dict(score.to_dict()) == score
    with pytest.raises(ValueError):
        HistoryScore.from_dict({"features": ["x"], "weights": [1.0], "bias": 0.0})
    with pytest.raises(ValueError):
        HistoryScore((float("nan"),) * len(DEFAULT_FEATURES), 0.0, 1)


def test_the_degree_2_score_adds_every_pairwise_product_in_polynomial_order():
    from sklearn.preprocessing import PolynomialFeatures

    from ipinsights.history import expand

    x = np.random.default_rng(1).normal(size=(7, len(FEATURES)))
    assert np.allclose(expand(x, 2), PolynomialFeatures(2, include_bias=False).fit_transform(x))
    assert expand(x, 1) is x
    rng = np.random.default_rng(2)
    pos, neg = rng.normal(size=(300, len(FEATURES))) + 0.5, rng.normal(size=(900, len(FEATURES)))
    score = HistoryScore.fit(pos, neg)
    k = len(DEFAULT_FEATURES)
    assert score.degree == 2 and len(score.weights) == k * (k + 3) // 2
    assert HistoryScore.from_dict(score.to_dict()) == score
    linear = HistoryScore.fit(pos, neg, degree=1)
    assert HistoryScore.from_dict({k: v for k, v in linear.to_dict().items() if k != "degree"}) == linear
    with pytest.raises(ValueError, match="degree-2 history score needs"):
        HistoryScore(linear.weights, 0.0, 2)


def test_the_back_off_features_are_the_back_off_baselines_log_probabilities():
    from ipinsights.data import Pairs, ReadReport
    from ipinsights.lab.baselines import BackoffBaseline

    rng = np.random.default_rng(3)
    n = 3000
    users = rng.integers(0, 40, size=n).astype(str)
    home = rng.integers(1, 6, size=n)
    ips = [f"10.{h}.{rng.integers(0, 4)}.{rng.integers(0, 50)}" if rng.random() < 0.9 else f"{rng.integers(1, 224)}.{rng.integers(0, 256)}.1.1"
           for h in home]
    ips[:5] = ["2001:db8::1", "2001:db8::1", "2001:db8:0:1::5", "2001:db9::1", "10.1.0.1"]
    _, hi, lo = parse_ips(ips)
    ent = hash_entities(list(users))
    history = EntityHistory.build(ent, hi, lo, backoff=True)
    train = Pairs(ent, hi, lo, ReadReport("train"))
    query_ips = ["10.1.0.1", "10.1.3.77", "10.2.9.9", "10.99.0.1", "200.1.1.1", "2001:db8::1", "2001:db8:5::1", "2a00::1"]
    _, qhi, qlo = parse_ips(query_ips * 2)
    qent = hash_entities(["3"] * len(query_ips) + ["nobody"] * len(query_ips))
    f = history.features(qent, qhi, qlo, np.zeros(len(qent)))
    log_p, log_g = f[:, FEATURES.index("log_p_backoff")], f[:, FEATURES.index("log_g_backoff")]
    query = Pairs(qent, qhi, qlo, ReadReport("query"))
    # Both are given relative to the address's uniform prior (2**-33 IPv4, 2**-129 IPv6 here).
    uniform = np.where(np.array([":" in ip for ip in query_ips * 2]), -129 * np.log(2.0), -33 * np.log(2.0))
    assert np.allclose(log_p + uniform, -BackoffBaseline().fit(train).score(query), rtol=1e-9)
    assert np.allclose(log_g - log_p, BackoffBaseline(likelihood_ratio=True).fit(train).score(query), rtol=1e-9)
    # An entity never seen gets the population's probability.
    assert np.allclose(log_p[len(query_ips):], log_g[len(query_ips):])


def test_a_score_saved_before_the_back_off_features_still_loads_and_scores():
    history = _history()
    tensors = {k: v for k, v in history.to_tensors().items()
               if not any(k.startswith(f"history.{t}.") for t in ("busy_ip", "busy_24", "busy_root", "entity_24_in_16"))
               and "_distinct_" not in k}
    old = EntityHistory.from_tensors(tensors)
    _, hi, lo = parse_ips(["10.1.2.3", "10.7.0.9"])
    ent = hash_entities(["alice", "bob"])
    f = old.features(ent, hi, lo, np.ones(2))
    assert np.isnan(f[:, FEATURES.index("log_p_backoff")]).all()
    assert np.isnan(f[:, FEATURES.index("log1p_distance_24_in_known_16")]).all()
    first13 = FEATURES[: FEATURES.index("log_p_backoff")]
    rng = np.random.default_rng(4)
    score = HistoryScore.fit(rng.normal(size=(200, len(FEATURES))) + 1, rng.normal(size=(200, len(FEATURES))),
                             degree=1, features=first13)
    again = HistoryScore.from_dict(score.to_dict())
    assert again == score and np.isfinite(again(f)).all()


def test_the_score_clips_each_feature_to_what_it_saw_in_fitting():
    rng = np.random.default_rng(6)
    pos = rng.normal(size=(400, len(FEATURES))) + 1.0
    neg = rng.normal(size=(400, len(FEATURES)))
    score = HistoryScore.fit(pos, neg)
    assert score.bounds is not None and len(score.bounds) == len(DEFAULT_FEATURES)
    far = pos[:1].copy()
    far[0, score.columns[5]] = 1e6  # never seen: scored as the largest value seen
    edge = pos[:1].copy()
    edge[0, score.columns[5]] = score.bounds[5][1]
    assert score(far)[0] == score(edge)[0]
    assert HistoryScore.from_dict(score.to_dict()) == score
    old = {k: v for k, v in score.to_dict().items() if k != "bounds"}  # saved before bounds existed
    assert HistoryScore.from_dict(old).bounds is None
    with pytest.raises(ValueError, match="bounds"):
        HistoryScore.from_dict({**score.to_dict(), "bounds": [[1.0, 0.0]] * len(DEFAULT_FEATURES)})


def test_kind_weights_share_the_negatives_weight_and_cover_every_validation_kind():
    from ipinsights.history import KIND_WEIGHTS
    from ipinsights.train import VALIDATION_METRICS

    # Every kind of validation negative has a weight in the default fit (and nothing else does).
    kinds = [name.split(":")[1] for name in VALIDATION_METRICS if name != "validation:detection_auc"]
    assert list(KIND_WEIGHTS) == kinds
    rng = np.random.default_rng(3)
    pos = rng.normal(size=(400, len(FEATURES))) + 0.6
    # Two kinds of negatives that differ from the positives along different features.
    a, b = rng.normal(size=(400, len(FEATURES))), rng.normal(size=(400, len(FEATURES))) + 0.6
    a[:, 0] += 0.6
    b[:, 1] -= 1.5

    def auc(score, neg):
        from sklearn.metrics import roc_auc_score

        return roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[score(pos), score(neg)])

    # Equal shares of kinds of equal size are the class-balanced fit of one array.
    assert HistoryScore.fit(pos, [a, b], degree=1) == HistoryScore.fit(pos, np.concatenate([a, b]), degree=1)
    # A kind with more of the weight is separated better than with less.
    more_b = HistoryScore.fit(pos, [a, b], degree=1, kind_weights=[1, 9])
    more_a = HistoryScore.fit(pos, [a, b], degree=1, kind_weights=[9, 1])
    assert auc(more_b, b) > auc(more_a, b) and auc(more_a, a) > auc(more_b, a)
    for bad in ([1], [1, -1], [0, 0], [1, float("nan")]):
        with pytest.raises(ValueError, match="kind_weights"):
            HistoryScore.fit(pos, [a, b], kind_weights=bad)
