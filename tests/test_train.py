import io
import re
import subprocess
import sys

import numpy as np
import torch
from conftest import SMALL_HP

from ipinsights import IPInsights
from ipinsights.metrics import METRIC_REGEXES
from ipinsights.train import VALIDATION_METRICS


def test_training_prints_every_reference_metric_line_and_learns(small_data):
    log = io.StringIO()
    model = IPInsights(**SMALL_HP).fit(small_data["train"], validation=small_data["validation"], log=log)
    text = log.getvalue()
    for name, rx in METRIC_REGEXES.items():
        assert re.search(rx, text), f"no {name} line in the log"
    aucs = [float(x) for x in re.findall(METRIC_REGEXES["validation:discriminator_auc"], text)]
    assert len(aucs) == SMALL_HP["epochs"]
    assert aucs[-1] > 0.9
    progress = re.findall(METRIC_REGEXES["train:progress"], text)
    assert progress[-1] == "100.0"
    assert (
        model.metrics_["validation:discriminator_auc"] == aucs[-1]
        or abs(model.metrics_["validation:discriminator_auc"] - aucs[-1]) < 1e-6
    )


def test_batch_metrics_are_published_every_interval_batches(small_data):
    log = io.StringIO()
    hp = {**SMALL_HP, "epochs": 1, "batch_metrics_publish_interval": 4, "mini_batch_size": 100}
    IPInsights(**hp).fit(small_data["train"], log=log)
    batches = re.findall(r"epoch=0, batch=(\d+) train binary_classification_cross_entropy", log.getvalue())
    assert batches == ["4", "8", "12", "16", "20", "24"]  # 2400 rows / 100 = 24 batches


def test_a_callback_returning_true_stops_training_after_that_epoch(small_data):
    seen = []

    def stop_after_two(epoch, metrics):
        seen.append((epoch, sorted(metrics)))
        return epoch == 2

    model = IPInsights(**{**SMALL_HP, "epochs": 5}).fit(
        small_data["train"], validation=small_data["validation"], callbacks=[stop_after_two], log=None
    )
    assert [e for e, _ in seen] == [1, 2]
    assert "validation:discriminator_auc" in seen[0][1]
    assert len(model.history_) == 2


def _weights(model):
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def test_the_same_seed_and_data_give_the_same_weights_and_metrics(small_data):
    a = IPInsights(**SMALL_HP, seed=5).fit(small_data["train"], validation=small_data["validation"], log=None)
    b = IPInsights(**SMALL_HP, seed=5).fit(small_data["train"], validation=small_data["validation"], log=None)
    c = IPInsights(**SMALL_HP, seed=6).fit(small_data["train"], validation=small_data["validation"], log=None)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a.history_ == [
        {**h, "train:throughput": a.history_[i]["train:throughput"]} for i, h in enumerate(b.history_)
    ]


def test_the_same_seed_gives_the_same_scores_in_a_fresh_process(small_data, tmp_path):
    code = (
        "import sys, numpy as np; sys.path.insert(0, 'tests'); from conftest import SMALL_HP; from ipinsights import IPInsights;"
        f"m = IPInsights(**SMALL_HP, seed=3).fit({str(small_data['train'])!r}, log=None);"
        "np.save(sys.argv[1], m.score(['user_1', 'user_2', 'nobody'], ['1.2.3.4', '2001:db8::1', '9.9.9.9']))"
    )
    for name in ("a.npy", "b.npy"):
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / name)],
            check=True,
            cwd=str(__import__("pathlib").Path(__file__).parent.parent),
        )
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_ipv6_rows_train_and_score(tmp_path):
    from conftest import make_logins, write_csv

    train = write_csv(tmp_path / "train.csv", make_logins(40, 40, seed=4, ipv6_users=20))
    model = IPInsights(**SMALL_HP, seed=1).fit(train, log=None)
    own = model.score(["user_3"] * 2, ["2001:db8:3:5::77", "2001:db8:3:1::9"])
    other = model.score(["user_3"] * 2, ["2001:db8:11:5::77", "2001:db8:12:1::9"])
    assert own.mean() > other.mean()


def test_either_negative_rate_may_be_zero_when_the_other_is_not(small_data):
    for r, s in ((0, 2), (3, 0)):
        hp = {
            **SMALL_HP,
            "epochs": 1,
            "random_negative_sampling_rate": r,
            "shuffled_negative_sampling_rate": s,
        }
        model = IPInsights(**hp).fit(small_data["train"], validation=small_data["validation"], log=None)
        assert len(model.history_) == 1 and model.metrics_["validation:discriminator_auc"] > 0.5


def test_batches_larger_than_a_chunk_are_scored_in_chunks_and_train_as_well(small_data, monkeypatch):
    import ipinsights.kernels

    hp = {**SMALL_HP, "mini_batch_size": 400, "epochs": 6, "learning_rate": 0.05}
    whole = IPInsights(**hp).fit(small_data["train"], validation=small_data["validation"], log=None)
    monkeypatch.setattr(ipinsights.kernels, "STEP_CHUNK", 64)  # 7 chunks per step
    chunked = IPInsights(**hp).fit(small_data["train"], validation=small_data["validation"], log=None)
    for model in (whole, chunked):
        assert model.metrics_["validation:discriminator_auc"] > 0.85
        assert 0 < model.metrics_["train:binary_classification_cross_entropy:epoch"] < 0.69
    assert (
        abs(whole.metrics_["validation:discriminator_auc"] - chunked.metrics_["validation:discriminator_auc"])
        < 0.05
    )


def test_hardening_1_a_last_batch_shorter_than_the_negative_block_trains(small_data):
    # 2,400 rows: batches of 2,399 leave a last batch of one pair, shorter than the block of
    # R k = 4 pairs that share random negatives (the default R = S = 1): it used to divide by zero.
    for batch in (2399, 2398, 1000):
        hp = {
            **SMALL_HP,
            "epochs": 1,
            "mini_batch_size": batch,
            "random_negative_sampling_rate": 1,
            "shuffled_negative_sampling_rate": 1,
        }
        model = IPInsights(**hp).fit(small_data["train"], log=None)
        assert np.isfinite(model.metrics_["train:binary_classification_cross_entropy:epoch"])


def test_every_epoch_prints_the_hard_attacker_validation_metrics_beside_the_reference_one(small_data):
    log = io.StringIO()
    IPInsights(**SMALL_HP).fit(small_data["train"], validation=small_data["validation"], log=log)
    text = log.getvalue()
    for name in VALIDATION_METRICS:
        values = [float(x) for x in re.findall(METRIC_REGEXES[name], text)]
        assert len(values) == SMALL_HP["epochs"], name
        assert all(0.0 <= v <= 1.0 for v in values), (name, values)
    last = {
        n: float(re.findall(METRIC_REGEXES[n], text)[-1])
        for n in METRIC_REGEXES
        if n.startswith("validation:")
    }
    kinds = [n for n in VALIDATION_METRICS if n != "validation:detection_auc"]
    assert len(kinds) == 6
    assert abs(last["validation:detection_auc"] - sum(last[n] for n in kinds) / len(kinds)) < 2e-6
    assert "negatives per observed pair: 2 random, 1 shuffled, 0 nearby (blocks kernel)" in text


def test_validation_negatives_are_fixed_and_never_the_entitys_own_networks(small_data):
    from ipinsights.addresses import NETWORK_LEVELS, network
    from ipinsights.data import read_pairs
    from ipinsights.train import ValidationSet, _pair_keys

    model = IPInsights(**SMALL_HP)
    train, val = (model._tensors(read_pairs(small_data[k])) for k in ("train", "validation"))
    a, b = ValidationSet.build(val, train), ValidationSet.build(val, train)
    for kind in ("random", "other_users", "nearby", "nearby_24", "populated", "roaming"):
        assert torch.equal(getattr(a, kind).ip_lo, getattr(b, kind).ip_lo)
        assert torch.equal(getattr(a, kind).ip_hi, getattr(b, kind).ip_hi)
    own = set(_pair_keys(train.entity_rows, train.ip_hi, train.ip_lo).tolist())
    other = _pair_keys(a.other_users.entity_rows, a.other_users.ip_hi, a.other_users.ip_lo).tolist()
    assert not own.intersection(other)
    own16 = set(_pair_keys(train.entity_rows, *network(train.ip_hi, train.ip_lo, NETWORK_LEVELS[2])).tolist())
    near16 = _pair_keys(a.nearby.entity_rows, *network(a.nearby.ip_hi, a.nearby.ip_lo, NETWORK_LEVELS[2])).tolist()
    assert not own16.intersection(near16)
    # One step finer: another /24 of the pair's own /16, never one of the entity's /24s.
    own24 = set(_pair_keys(train.entity_rows, *network(train.ip_hi, train.ip_lo, NETWORK_LEVELS[1])).tolist())
    near24 = a.nearby_24
    assert not own24.intersection(_pair_keys(near24.entity_rows, *network(near24.ip_hi, near24.ip_lo, NETWORK_LEVELS[1])).tolist())
    same16 = network(near24.ip_hi, near24.ip_lo, NETWORK_LEVELS[2])
    pair16 = network(val.ip_hi, val.ip_lo, NETWORK_LEVELS[2])
    assert torch.equal(same16[0], pair16[0]) and torch.equal(same16[1], pair16[1])
    # Inhabited /16s: someone's training /16, never the entity's own.
    pop = a.populated
    pop16 = network(pop.ip_hi, pop.ip_lo, NETWORK_LEVELS[2])
    assert not own16.intersection(_pair_keys(pop.entity_rows, *pop16).tolist())
    train16 = set(zip(*(w.tolist() for w in network(train.ip_hi, train.ip_lo, NETWORK_LEVELS[2])), strict=True))
    assert set(zip(*(w.tolist() for w in pop16), strict=True)) <= train16
    # Roaming: another entity's validation login from a /16 that entity never used in training.
    roam = a.roaming
    roam16 = network(roam.ip_hi, roam.ip_lo, NETWORK_LEVELS[2])
    assert not own16.intersection(_pair_keys(roam.entity_rows, *roam16).tolist())
    used = set(_pair_keys(train.entity_rows, train.ip_hi, train.ip_lo).tolist()) | set(_pair_keys(val.entity_rows, val.ip_hi, val.ip_lo).tolist())
    assert not used.intersection(_pair_keys(roam.entity_rows, roam.ip_hi, roam.ip_lo).tolist())
    away = ~torch.tensor([k in own16 for k in _pair_keys(val.entity_rows, *network(val.ip_hi, val.ip_lo, NETWORK_LEVELS[2])).tolist()])
    roaming_logins = set(zip(val.ip_hi[away].tolist(), val.ip_lo[away].tolist(), strict=True))
    drawn = set(zip(roam.ip_hi.tolist(), roam.ip_lo.tolist(), strict=True))
    assert drawn <= roaming_logins and len(drawn) > 1


def test_nearby_negatives_train_and_raise_the_nearby_validation_auc(small_data):
    hp = {**SMALL_HP, "epochs": 3}
    plain = IPInsights(**hp).fit(small_data["train"], validation=small_data["validation"], log=None)
    log = io.StringIO()
    near = IPInsights(**hp, nearby_negative_sampling_rate=2).fit(
        small_data["train"], validation=small_data["validation"], log=log
    )
    assert "2 nearby (hand-derived kernel)" in log.getvalue()
    assert near.metrics_["validation:nearby_auc"] > plain.metrics_["validation:nearby_auc"]
    assert near.metrics_["validation:discriminator_auc"] > 0.9
