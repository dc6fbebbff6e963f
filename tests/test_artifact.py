import json

import numpy as np
import pytest
import torch
from conftest import SMALL_HP

from ipinsights import ArtifactError, IPInsights


@pytest.fixture(scope="module")
def saved(small_data, tmp_path_factory):
    model = IPInsights(**SMALL_HP).fit(small_data["train"], validation=small_data["validation"], log=None)
    out = tmp_path_factory.mktemp("artifact") / "model"
    model.save(out)
    return model, out


PROBE = (["user_1", "user_2", "stranger"], ["46.65.1.1", "2001:db8::1", "8.8.8.8"])


def test_save_then_load_gives_bit_identical_scores_and_metadata(saved):
    model, out = saved
    loaded = IPInsights.load(out)
    assert np.array_equal(model.score(*PROBE), loaded.score(*PROBE))
    assert all(torch.equal(a, b) for a, b in zip(model.net.state_dict().values(), loaded.net.state_dict().values(), strict=True))
    assert loaded.known_entities(PROBE[0]).tolist() == [True, True, False]
    assert loaded.hyperparameters == model.hyperparameters
    assert loaded.metrics_ == pytest.approx(model.metrics_)


def test_the_description_records_provenance(saved):
    _, out = saved
    meta = json.loads((out / "model.json").read_text())
    assert meta["hyperparameters"]["vector_dim"] == SMALL_HP["vector_dim"]
    assert set(meta["versions"]) >= {"ipinsights", "torch", "numpy", "python"}
    assert meta["training_data"]["rows"] == 2400 and meta["training_data"]["distinct_entities"] == 60
    assert "FNV-1a" in meta["hash_scheme"]["entity"]
    assert "validation:discriminator_auc" in meta["metrics"]


def test_a_truncated_weights_file_is_reported(saved, tmp_path):
    _, out = saved
    copy = tmp_path / "m"
    copy.mkdir()
    (copy / "model.json").write_bytes((out / "model.json").read_bytes())
    data = (out / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="checksum mismatch .* damaged, truncated or from another model"):
        IPInsights.load(copy)


def test_a_damaged_description_or_missing_file_is_reported(saved, tmp_path):
    _, out = saved
    copy = tmp_path / "m"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    with pytest.raises(ArtifactError, match="model.json is missing"):
        IPInsights.load(copy)
    (copy / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not readable JSON"):
        IPInsights.load(copy)
    with pytest.raises(ArtifactError, match="no such model directory"):
        IPInsights.load(tmp_path / "nowhere")


def test_weights_that_do_not_match_the_hyperparameters_are_reported(saved, tmp_path):
    _, out = saved
    copy = tmp_path / "m"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    meta = json.loads((out / "model.json").read_text())
    meta["hyperparameters"]["vector_dim"] = 32
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"weights do not match the hyperparameters .*entity has shape \(128, 16\), expected \(128, 32\)"):
        IPInsights.load(copy)


def test_an_artifact_from_a_newer_format_is_refused(saved, tmp_path):
    _, out = saved
    copy = tmp_path / "m"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    meta = json.loads((out / "model.json").read_text())
    meta["format_version"] = 99
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="format version 99 is newer"):
        IPInsights.load(copy)
