import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_HP

from ipinsights import ArtifactError, IPInsights
from ipinsights.addresses import ENCODER_LEVELS


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


def test_the_recorded_prefix_levels_are_the_encoders_table(saved):
    _, out = saved
    scheme = json.loads((out / "model.json").read_text())["hash_scheme"]
    assert scheme["ip_levels_ipv4"] == [level.ipv4_bits for level in ENCODER_LEVELS] == [8, 16, 24, 32]
    assert scheme["ip_levels_ipv6"] == [level.ipv6_bits for level in ENCODER_LEVELS] == [32, 48, 56, 64]


def test_an_artifact_that_recorded_the_old_wrong_ipv6_levels_still_loads_and_scores_the_same(saved, tmp_path):
    model, out = saved
    old = tmp_path / "m"
    old.mkdir()
    meta = json.loads((out / "model.json").read_text())
    meta["hash_scheme"]["ip_levels_ipv6"] = [16, 32, 48, 64]  # what every artifact recorded before issue #12
    (old / "model.json").write_text(json.dumps(meta))
    (old / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    assert np.array_equal(IPInsights.load(old).score(*PROBE), model.score(*PROBE))


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


# -- hardening (issue 10, item 8): an edited model.json never decides what is allocated ------


def _copy(out, to, *, meta_changes=None, meta_text=None, tensors=None):
    """A copy of the artifact ``out`` with model.json edited and, with ``tensors``, the weights
    replaced and the checksum forged to match (as someone who can edit the folder could)."""
    import hashlib

    from safetensors.torch import load_file, save_file

    to.mkdir()
    meta = json.loads((out / "model.json").read_text())
    if tensors is not None:
        weights = load_file(out / "model.safetensors")
        weights.update(tensors)
        save_file(weights, to / "model.safetensors")
        meta["weights_sha256"] = hashlib.sha256((to / "model.safetensors").read_bytes()).hexdigest()
    else:
        (to / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    meta.update(meta_changes or {})
    (to / "model.json").write_text(meta_text if meta_text is not None else json.dumps(meta))
    return to


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ip_encoder": "bogus"}, "ip_encoder must be one of prefix, prefix24, prefix32, bits, got \"bogus\""),
        ({"ip_encoder": 5}, "ip_encoder must be one of"),
        ({"seed": "abc"}, "seed must be an integer, got \"abc\""),
        ({"metrics": [1, 2]}, "metrics must be a JSON object of name: number"),
        ({"history": 7}, "history must be a JSON list of metric objects"),
        ({"format_version": 0}, "format_version must be a positive integer, got 0"),
        ({"format_version": True}, "format_version must be a positive integer, got True"),
    ],
)
def test_hardening_8_a_model_json_field_of_the_wrong_type_is_named(saved, tmp_path, changes, message):
    _, out = saved
    copy = _copy(out, tmp_path / "m", meta_changes=changes)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        IPInsights.load(copy)


def test_hardening_8_a_deeply_nested_model_json_is_reported_not_a_recursion_error(saved, tmp_path):
    _, out = saved
    copy = _copy(out, tmp_path / "m", meta_text="[" * 100_000 + "]" * 100_000)
    with pytest.raises(ArtifactError, match="not readable JSON \\(nested too deeply\\)"):
        IPInsights.load(copy)


@pytest.mark.parametrize(
    ("known", "message"),
    [
        (torch.zeros(4, dtype=torch.float32), "known_entity_hashes has dtype F32, expected I64"),
        (torch.zeros(2, 2, dtype=torch.int64), "known_entity_hashes has shape (2, 2), expected one dimension"),
        (torch.tensor([5, 3], dtype=torch.int64), "known_entity_hashes is not sorted and distinct"),
    ],
)
def test_hardening_8_a_bad_known_entity_hashes_tensor_is_reported(saved, tmp_path, known, message):
    _, out = saved
    copy = _copy(out, tmp_path / "m", tensors={"known_entity_hashes": known})
    with pytest.raises(ArtifactError, match=re.escape(message)):
        IPInsights.load(copy)


def test_hardening_8_weights_of_another_dtype_or_not_finite_are_refused(saved, tmp_path):
    _, out = saved
    model, _ = saved
    entity = model.net.entity.detach().clone()
    copy = _copy(out, tmp_path / "f64", tensors={"entity": entity.double()})
    with pytest.raises(ArtifactError, match=re.escape("entity has dtype F64, expected F32")):
        IPInsights.load(copy)
    entity[0, 0] = float("nan")
    copy = _copy(out, tmp_path / "nan", tensors={"entity": entity})
    with pytest.raises(ArtifactError, match="entity holds NaN or infinite weights"):
        IPInsights.load(copy)


def test_hardening_8_huge_sizes_in_model_json_are_refused_before_allocating(saved, tmp_path):
    _, out = saved
    meta = json.loads((out / "model.json").read_text())
    hp = {**meta["hyperparameters"], "num_entity_vectors": 250_000_000, "vector_dim": 4096}
    copy = _copy(out, tmp_path / "m", meta_changes={"hyperparameters": hp})
    # 4 TB would be tried first by the old loader; now the header's shapes are compared first.
    with pytest.raises(ArtifactError, match=re.escape("entity has shape (128, 16), expected (250000000, 4096)")):
        IPInsights.load(copy)


def test_hardening_8_a_model_larger_than_the_free_memory_is_refused_naming_both(saved, tmp_path, monkeypatch):
    _, out = saved
    monkeypatch.setattr("ipinsights.artifact.available_memory_bytes", lambda device: (1000, "MemAvailable in /proc/meminfo"))
    with pytest.raises(ArtifactError, match=r"loading needs 0\.0 GB, more than the 0\.0 GB available \(MemAvailable"):
        IPInsights.load(out)


# -- hardening (issue 10, item 10): saves are crash-safe ---------------------------------------


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_hardening_10_a_save_leaves_only_the_two_files(saved, tmp_path):
    model, _ = saved
    out = model.save(tmp_path / "m")
    model.save(out)
    assert _names(out) == ["model.json", "model.safetensors"]
    assert (out / "model.json").stat().st_mode & 0o777 != 0o600  # not mkstemp's private mode


def test_hardening_10_temporaries_of_interrupted_saves_are_removed_by_the_next_save(saved, tmp_path):
    model, _ = saved
    out = tmp_path / "m"
    out.mkdir()
    (out / ".save-999999999-abc.tmp").mkdir()  # a dead process's staging folder
    (out / ".save-999999999-abc.tmp" / ".tmpAbCdEf").write_bytes(b"x" * 100)
    (out / ".model.k2j3.tmp").write_bytes(b"x")  # the names earlier versions left
    (out / ".tmpQwErTy").write_bytes(b"x")
    (out / "notes.txt").write_text("keep")
    model.save(out)
    assert _names(out) == ["model.json", "model.safetensors", "notes.txt"]


def test_hardening_10_a_failed_save_keeps_the_previous_model_and_leaves_no_temporary(saved, tmp_path, monkeypatch):
    model, _ = saved
    out = model.save(tmp_path / "m")
    before = {name: (out / name).read_bytes() for name in ("model.json", "model.safetensors")}

    def disk_full(tensors, filename):
        Path(filename).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ipinsights.artifact.save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        model.save(out)
    assert _names(out) == ["model.json", "model.safetensors"]
    assert {name: (out / name).read_bytes() for name in before} == before
    assert np.array_equal(IPInsights.load(out).score(*PROBE), model.score(*PROBE))


def test_hardening_10_a_kill_between_the_renames_gives_one_line_naming_the_new_description(saved, tmp_path, monkeypatch):
    import os

    from ipinsights import artifact

    model, _ = saved
    out = model.save(tmp_path / "m")
    new_net = copy.deepcopy(model.net)
    with torch.no_grad():
        new_net.entity += 1.0  # the next save's weights differ
    real_replace, calls = os.replace, []

    def killed_after_the_weights(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise SystemExit("killed")  # as kill -9 here: nothing after it runs
        real_replace(src, dst)

    monkeypatch.setattr(artifact.os, "replace", killed_after_the_weights)
    monkeypatch.setattr(artifact.shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(SystemExit):
        artifact.save_artifact(out, new_net, model.known_entity_hashes, hyperparameters=model.hyperparameters,
                               ip_encoder=model.ip_encoder, extra={**model.meta_, "seed": 12345})
    monkeypatch.undo()
    with pytest.raises(ArtifactError, match=r"checksum mismatch .*a save was interrupted: its matching description is .*\.save-.*model\.json \(move it to") as error:
        IPInsights.load(out)
    assert "\n" not in str(error.value)
    pending = next(out.glob(".save-*.tmp")) / "model.json"
    pending.replace(out / "model.json")  # the fix the message names
    assert IPInsights.load(out).meta_["seed"] == 12345


_SAVE_LOOP = """
import sys
import numpy as np
from ipinsights.artifact import save_artifact
from ipinsights.config import HyperParameters
from ipinsights.model import IPInsightsNet
hp = HyperParameters.from_mapping({"num_entity_vectors": 200000, "vector_dim": 16})
net = IPInsightsNet(200000, 16, 1)
for i in range(1_000_000):
    save_artifact(sys.argv[1], net, np.arange(10, dtype=np.uint64), hyperparameters=hp, ip_encoder="prefix", extra={"seed": i})
    print(i, flush=True)
"""


def test_hardening_10_kill_9_at_random_moments_of_saving_leaves_a_loadable_model(tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m"
    rng = random.Random(0)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(out)], stdout=subprocess.PIPE)
        assert proc.stdout.readline()  # one save done: a previous model exists from now on
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        try:
            IPInsights.load(out)
        except ArtifactError as exc:  # only a kill between the two renames, named with its fix
            assert "a save was interrupted" in str(exc)
        loose = [name for name in _names(out) if name not in ("model.json", "model.safetensors")]
        assert len(loose) <= 1 and all(name.startswith(".save-") for name in loose), loose


def test_saved_files_are_readable_as_the_umask_allows_not_owner_only(tmp_path, small_data):
    import os
    import stat

    from conftest import SMALL_HP

    from ipinsights import IPInsights

    model = IPInsights(**{**SMALL_HP, "epochs": 1}).fit(small_data["train"], log=None)
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "model.json"):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == 0o644, name
