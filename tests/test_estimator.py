import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_HP

from ipinsights import ConfigError, DataError, IPInsights


@pytest.fixture(scope="module")
def model(small_data):
    return IPInsights(**SMALL_HP, seed=0).fit(small_data["train"], validation=small_data["validation"], log=None)


def test_hyperparameters_are_validated_when_the_estimator_is_made():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'vectordim'; did you mean 'vector_dim'"):
        IPInsights(num_entity_vectors=10, vectordim=8)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        IPInsights(num_entity_vectors=10, vector_dim=8, seed=-1)


def test_scores_are_raw_dot_products_that_rank_a_users_own_network_above_others(model):
    own = model.score(["user_5"] * 3, ["46.65.1.1", "46.65.200.7", "46.65.9.9"])
    other = model.score(["user_5"] * 3, ["200.1.1.1", "99.12.3.4", "150.150.150.150"])
    assert own.dtype == np.float32 and own.shape == (3,)
    assert own.min() > other.max()


def test_scoring_an_unknown_entity_works_and_is_detectable(model):
    assert model.known_entities(["user_1", "mallory", " user_2 "]).tolist() == [True, False, True]
    assert np.isfinite(model.score(["mallory"], ["1.2.3.4"])).all()


def test_invalid_addresses_in_score_name_the_first_bad_one(model):
    with pytest.raises(DataError, match=r"ips\[1\]: '1.2.3' is not an IP address \(1 invalid in all\)"):
        model.score(["a", "b"], ["1.2.3.4", "1.2.3"])
    with pytest.raises(DataError, match="2 entities but 1 IP"):
        model.score(["a", "b"], ["1.2.3.4"])


def test_embeddings_have_vector_dim_and_their_dot_product_is_the_score(model):
    e = model.embed_entities(["user_1"])
    v = model.embed_ips(["1.2.3.4"])
    assert e.shape == v.shape == (1, SMALL_HP["vector_dim"])
    assert np.isclose((e * v).sum(), model.score(["user_1"], ["1.2.3.4"])[0], atol=1e-5)


def test_fit_accepts_a_two_column_dataframe(small_data):
    frame = pd.read_csv(small_data["train"], header=None, names=["user", "address"])
    model = IPInsights(**SMALL_HP, seed=0).fit(frame, log=None)
    from_file = IPInsights(**SMALL_HP, seed=0).fit(small_data["train"], log=None)
    probe = (["user_1", "user_9"], ["1.2.3.4", "46.65.1.1"])
    assert np.array_equal(model.score(*probe), from_file.score(*probe))
    with pytest.raises(DataError, match="exactly 2 columns"):
        IPInsights(**SMALL_HP).fit(frame.assign(extra=1), log=None)


def test_an_untrained_model_says_so():
    with pytest.raises(ConfigError, match="not trained yet"):
        IPInsights(num_entity_vectors=10, vector_dim=8).score(["a"], ["1.2.3.4"])


def test_a_model_trained_with_validation_has_a_combined_score_that_survives_save_and_load(model, tmp_path):
    from ipinsights.addresses import parse_ips
    from ipinsights.entities import hash_entities

    _, hi, lo = parse_ips(["46.65.1.1", "200.1.1.1", "1.2.3.4"])
    entity = hash_entities(["user_5", "user_5", "mallory"])
    before = model.score_hashed(entity, hi, lo)
    assert before.score is not None and before.score.shape == (3,)
    assert before.score[0] > before.score[1]  # the user's own /16 above a far address
    model.save(tmp_path / "m")
    after = IPInsights.load(tmp_path / "m").score_hashed(entity, hi, lo)
    assert np.array_equal(before.score, after.score) and np.array_equal(before.dot_product, after.dot_product)


def test_the_reference_faithful_model_has_no_combined_score(small_data, tmp_path):
    plain = IPInsights(**SMALL_HP, history_score=False).fit(
        small_data["train"], validation=small_data["validation"], log=None
    )
    assert plain.score_hashed(np.zeros(1, np.uint64), np.zeros(1, np.int64), np.full(1, 0xFFFF01020304)).score is None
    plain.save(tmp_path / "p")
    assert IPInsights.load(tmp_path / "p").history is None
