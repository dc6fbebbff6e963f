"""train --auto-size: sizes chosen from the data, with the reason (ipinsights.autosize)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_logins, write_csv

from ipinsights import ConfigError
from ipinsights.autosize import auto_requested, auto_size, choose_sizes
from ipinsights.config import HyperParameters

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_log_gets_about_100_steps_per_epoch_and_twice_its_entities_in_table_rows():
    hp, choices = auto_size(10_000, 500)
    assert (hp.mini_batch_size, hp.num_entity_vectors, hp.vector_dim) == (100, 1000, 128)
    assert -(-10_000 // hp.mini_batch_size) == 100
    assert hp.warnings_for(10_000, 500) == []
    assert str(choices[0]) == (
        "mini_batch_size=100 (10000 rows / 100 steps per epoch; the default 10000 gives 1 step)"
    )


def test_a_large_log_keeps_sagemakers_batch_of_10000():
    hp, choices = auto_size(5_000_000, 100_000)
    assert hp.mini_batch_size == 10_000 and hp.num_entity_vectors == 200_000
    assert str(choices[0]) == "mini_batch_size=10000 (SageMaker's default: 500 steps per epoch)"


def test_the_boundary_is_100_steps_with_the_default_batch():
    assert choose_sizes(1_000_000, 10)[0].value == 10_000  # exactly 100 steps
    assert choose_sizes(990_000, 10)[0].value == 9_900  # 99 steps with 10000


def test_values_the_user_gave_are_kept_and_every_other_default_is_sagemakers():
    hp, choices = auto_size(10_000, 500, {"mini_batch_size": "512", "vector_dim": "32", "epochs": "2"})
    assert [c.name for c in choices] == ["num_entity_vectors"]
    assert (hp.mini_batch_size, hp.vector_dim, hp.epochs) == (512, 32, 2)
    defaults = HyperParameters(num_entity_vectors=1000, vector_dim=32, mini_batch_size=512, epochs=2)
    assert hp == defaults


def test_a_tiny_log_still_gets_valid_sizes():
    hp, _ = auto_size(1, 1)
    assert hp.mini_batch_size == 1 and hp.num_entity_vectors == 2


def test_a_bad_given_value_is_still_reported():
    with pytest.raises(ConfigError, match="epochs"):
        auto_size(10_000, 500, {"epochs": "0"})


def test_train_auto_size_says_what_it_chose_and_trains_without_warnings(tmp_path):
    train = write_csv(tmp_path / "train.csv", make_logins(50, 60, seed=1))
    result = subprocess.run(
        [sys.executable, "-m", "ipinsights.cli", "train", "--train", str(train), "--model-dir", str(tmp_path / "m"),
         "--auto-size", "--hp", "vector_dim=8", "--hp", "epochs=1", "--threads", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "ipinsights train: --auto-size chose mini_batch_size=30 (3000 rows / 100 steps per epoch; the default "
        "10000 gives 1 step); num_entity_vectors=100 (2 x 50 distinct entities, SageMaker's advice)\n"
    ) in result.stderr
    assert "warning" not in result.stderr
    assert '"num_entity_vectors": 100' in (tmp_path / "m" / "model.json").read_text()


def test_train_auto_size_checks_the_other_values_before_reading_the_data(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ipinsights.cli", "train", "--train", str(tmp_path / "missing.csv"),
         "--model-dir", str(tmp_path / "m"), "--auto-size", "--hp", "epochs=0"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("ipinsights: error: epochs must be")


def test_auto_as_a_value_asks_for_that_size_alone():
    values = {"mini_batch_size": "AUTO", "num_entity_vectors": "64", "vector_dim": "16", "epochs": "2"}
    given, names = auto_requested(values, False)
    assert names == {"mini_batch_size"} and given == {
        k: v for k, v in values.items() if k != "mini_batch_size"
    }
    hp, choices = auto_size(3000, 50, given, names=names)
    assert [c.name for c in choices] == ["mini_batch_size"]
    assert (hp.mini_batch_size, hp.num_entity_vectors, hp.epochs) == (30, 64, 2)
    # --auto-size: every size not given; a given value always wins.
    assert auto_requested({"vector_dim": "16"}, True)[1] == {"mini_batch_size", "num_entity_vectors"}


def test_auto_for_a_value_the_data_cannot_choose_is_an_error_with_the_fix():
    with pytest.raises(
        ConfigError,
        match=r"^epochs=auto: only mini_batch_size, num_entity_vectors, vector_dim can be chosen from the data; give epochs a value$",
    ):
        auto_requested({"epochs": "auto"}, False)


def test_train_hp_name_auto_in_process_chooses_that_size_and_says_so(tmp_path, capsys):
    from ipinsights import cli

    train = write_csv(tmp_path / "train.csv", make_logins(50, 60, seed=1))
    argv = ["train", "--train", str(train), "--model-dir", str(tmp_path / "m"), "--hp", "mini_batch_size=auto",
            "--hp", "num_entity_vectors=100", "--hp", "vector_dim=8", "--hp", "epochs=1", "--threads", "1"]  # fmt: skip
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert (
        "ipinsights train: auto chose mini_batch_size=30 (3000 rows / 100 steps per epoch; the default 10000 "
        "gives 1 step)\n"
    ) in err
    assert "warning" not in err
    assert cli.main([*argv[:-2], "--hp", "epochs=auto"]) == 2
    assert "ipinsights: error: epochs=auto: only mini_batch_size" in capsys.readouterr().err
