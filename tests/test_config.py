import dataclasses

import pytest

from ipinsights import ConfigError, HyperParameters

REQUIRED = {"num_entity_vectors": 100, "vector_dim": 8}
EDGES = [
    ("num_entity_vectors", 1, 250_000_000, 0, 250_000_001),
    ("vector_dim", 4, 4096, 3, 4097),
    ("batch_metrics_publish_interval", 1, 10**9, 0, None),
    ("epochs", 1, 10**6, 0, None),
    ("learning_rate", 1e-6, 10.0, 9e-7, 10.5),
    ("mini_batch_size", 1, 500_000, 0, 500_001),
    ("num_ip_encoder_layers", 0, 100, -1, 101),
    ("random_negative_sampling_rate", 0, 500, -1, 501),
    ("shuffled_negative_sampling_rate", 0, 500, -1, 501),
    ("weight_decay", 0.0, 10.0, -0.1, 10.01),
    ("nearby_negative_sampling_rate", 0, 500, -1, 501),
]


def make(**changes):
    """Valid hyperparameters with ``changes``; the other negative rate keeps R + S in [1, 500]."""
    values = {**REQUIRED, "random_negative_sampling_rate": 1, "shuffled_negative_sampling_rate": 0}
    for name, other in (("random_negative_sampling_rate", "shuffled_negative_sampling_rate"),
                        ("shuffled_negative_sampling_rate", "random_negative_sampling_rate")):
        if name in changes:
            values[other] = 1 if changes[name] == 0 else 0
    values.update(changes)
    return HyperParameters(**values)


def test_defaults_are_the_reference_defaults():
    hp = HyperParameters(**REQUIRED)
    assert (hp.batch_metrics_publish_interval, hp.epochs, hp.learning_rate, hp.mini_batch_size) == (1000, 10, 0.001, 10000)
    assert (hp.num_ip_encoder_layers, hp.random_negative_sampling_rate, hp.shuffled_negative_sampling_rate) == (1, 1, 1)
    assert hp.weight_decay == 0.00001


@pytest.mark.parametrize(("name", "low", "high", "below", "above"), EDGES)
def test_each_hyperparameter_accepts_its_edges_and_rejects_beyond_them(name, low, high, below, above):
    assert getattr(make(**{name: low}), name) == low
    assert getattr(make(**{name: high}), name) == high
    with pytest.raises(ConfigError, match=rf"^{name} must be .*got {name}="):
        make(**{name: below})
    if above is not None:
        with pytest.raises(ConfigError, match=rf"^{name} must be "):
            make(**{name: above})


def test_the_error_message_names_the_field_the_rule_and_the_value():
    with pytest.raises(ConfigError) as info:
        HyperParameters(num_entity_vectors=10, vector_dim=5000)
    assert str(info.value) == "vector_dim must be an integer in [4, 4096], got vector_dim=5000"


def test_required_hyperparameters_are_required():
    with pytest.raises(ConfigError, match="missing required hyperparameter.*vector_dim"):
        HyperParameters.from_mapping({"num_entity_vectors": 10})


def test_negative_sampling_rates_must_sum_to_between_1_and_500():
    with pytest.raises(ConfigError, match=r"\[1, 500\], got 0 \+ 0 = 0"):
        HyperParameters(**REQUIRED, random_negative_sampling_rate=0, shuffled_negative_sampling_rate=0)
    with pytest.raises(ConfigError, match="got 300 \\+ 201 = 501"):
        HyperParameters(**REQUIRED, random_negative_sampling_rate=300, shuffled_negative_sampling_rate=201)
    assert HyperParameters(**REQUIRED, random_negative_sampling_rate=250, shuffled_negative_sampling_rate=250)


def test_string_values_from_a_sagemaker_hyperparameters_json_are_accepted():
    hp = HyperParameters.from_mapping(
        {"num_entity_vectors": "20000", "vector_dim": " 128 ", "learning_rate": "1e-3", "epochs": "5.0", "weight_decay": "0"}
    )
    assert (hp.num_entity_vectors, hp.vector_dim, hp.learning_rate, hp.epochs, hp.weight_decay) == (20000, 128, 0.001, 5, 0.0)
    assert isinstance(hp.weight_decay, float) and isinstance(hp.epochs, int)


@pytest.mark.parametrize("value", ["abc", "5.5", "", "nan", True])
def test_values_that_are_not_integers_are_rejected_for_integer_fields(value):
    with pytest.raises(ConfigError, match="^epochs must be an integer"):
        HyperParameters.from_mapping({**REQUIRED, "epochs": value})


def test_unknown_names_suggest_the_closest_valid_name():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'learning_rte'; did you mean 'learning_rate'"):
        HyperParameters.from_mapping({**REQUIRED, "learning_rte": "0.1"})
    with pytest.raises(ConfigError, match="valid names: num_entity_vectors"):
        HyperParameters.from_mapping({**REQUIRED, "zzz": "1"})


def test_errors_are_also_value_errors():
    with pytest.raises(ValueError):
        HyperParameters(num_entity_vectors=0, vector_dim=8)


def test_hyperparameters_are_frozen_and_replace_revalidates():
    hp = HyperParameters(**REQUIRED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.epochs = 3  # type: ignore[misc]
    assert hp.replace(epochs=3).epochs == 3
    with pytest.raises(ConfigError):
        hp.replace(epochs=0)


def test_describe_lists_the_reference_ten_hyperparameters_and_ours_with_ranges_and_help():
    rows = HyperParameters.describe()
    assert [r["name"] for r in rows] == HyperParameters.names()
    assert len(rows) == 11 and rows[-1]["name"] == "nearby_negative_sampling_rate"
    assert all(r["help"] for r in rows)
    assert [r["name"] for r in rows if r["required"]] == ["num_entity_vectors", "vector_dim"]


def test_no_warning_when_the_data_fit_the_hyperparameters():
    hp = HyperParameters(num_entity_vectors=2000, vector_dim=16, mini_batch_size=100)
    assert hp.warnings_for(num_rows=10_000, num_entities=1000) == []


def test_a_10000_row_log_with_the_default_batch_warns_one_step_per_epoch_with_the_fix():
    (warning,) = HyperParameters(num_entity_vectors=1000, vector_dim=16).warnings_for(10_000, 500)
    assert warning == (
        "mini_batch_size=10000 gives 1 step per epoch on 10000 rows (fewer than 100 steps: the model barely "
        "trains); set --hp mini_batch_size=100 or lower"
    )


def test_a_table_smaller_than_the_entities_warns_of_hash_collisions():
    (warning,) = HyperParameters(num_entity_vectors=100, vector_dim=16, mini_batch_size=10).warnings_for(10_000, 500)
    assert warning.startswith("num_entity_vectors=100 is below the 500 distinct entities")
    assert warning.endswith("set --hp num_entity_vectors=1000")


def test_a_table_over_ten_times_the_entities_warns_and_ten_times_does_not():
    hp = HyperParameters(num_entity_vectors=5001, vector_dim=16, mini_batch_size=10)
    (warning,) = hp.warnings_for(10_000, 500)
    assert "is over 10x the 500 distinct entities" in warning
    assert hp.replace(num_entity_vectors=5000).warnings_for(10_000, 500) == []


def test_each_hyperparameter_has_one_constraint_that_its_validation_and_the_tuner_share():
    from ipinsights.config import Constraint

    for row in HyperParameters.describe():
        constraint = HyperParameters.constraint(row["name"])
        assert isinstance(constraint, Constraint)
        assert (constraint.kind.__name__, constraint.low, constraint.high) == (row["kind"], row["low"], row["high"])
    dim = HyperParameters.constraint("vector_dim")
    assert dim.parse("vector_dim", " 128 ") == 128 and dim.parse("vector_dim", 4096.0) == 4096
    with pytest.raises(ConfigError, match=r"^vector_dim must be an integer in \[4, 4096\], got vector_dim=5000$"):
        dim.parse("vector_dim", "5000")
    with pytest.raises(ConfigError, match=r"^vector_dim must be an integer in \[4, 4096\], got vector_dim=5000$"):
        HyperParameters(num_entity_vectors=10, vector_dim=5000)  # the same message from the dataclass
    rate = HyperParameters.constraint("random_negative_sampling_rate")
    assert rate.parse("random_negative_sampling_rate", "0") == 0  # alone it may be 0; R + S is the set's rule
    assert HyperParameters.constraint("learning_rate").parse("learning_rate", 1) == 1.0
    with pytest.raises(ConfigError, match="unknown hyperparameter 'vector_dims'; did you mean 'vector_dim'"):
        HyperParameters.constraint("vector_dims")
