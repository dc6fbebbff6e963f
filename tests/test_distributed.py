"""Data-parallel training on torch.distributed: two CPU worker processes (gloo over loopback)."""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_HP, make_logins, write_csv

from ipinsights.distributed import DataParallel, sampling_seed
from ipinsights.metrics import METRIC_REGEXES

ROOT = Path(__file__).resolve().parent.parent
HP = {**SMALL_HP, "num_entity_vectors": 400, "epochs": 4}

# One worker as torchrun would start it: the environment says who it is.
WORKER = textwrap.dedent(
    """
    import json
    import sys
    import numpy as np
    from ipinsights import IPInsights
    from ipinsights.distributed import from_environment

    train, validation, out, hp = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    data_parallel = from_environment("cpu")
    model = IPInsights(**hp, device="cpu").fit(train, validation=validation, log=None, progress=False)
    np.savez(out, **{k: v.numpy() for k, v in model.net.state_dict().items()})
    data_parallel.close()
    """
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """200 users x 40 logins for training, 200 x 10 for validation."""
    root = tmp_path_factory.mktemp("distributed")
    return {
        "train": write_csv(root / "train.csv", make_logins(200, 40, seed=1)),
        "validation": write_csv(root / "validation.csv", make_logins(200, 10, seed=2)),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hp_args() -> list[str]:
    return [arg for k, v in HP.items() for arg in ("--hp", f"{k}={v}")]


def _aucs(log: str) -> list[float]:
    return [float(x) for x in re.findall(METRIC_REGEXES["validation:discriminator_auc"], log)]


def test_every_worker_ends_with_the_same_tables_and_layers(data, tmp_path):
    env = {
        **os.environ,
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "OMP_NUM_THREADS": "1",
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(data["train"]),
                str(data["validation"]),
                str(tmp_path / f"rank{rank}.npz"),
                json.dumps(HP),
            ],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        for rank in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    first, second = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert sorted(first.files) == sorted(second.files) and "entity" in first.files
    for name in first.files:
        assert np.array_equal(first[name], second[name]), f"{name} differs between the workers"


def test_two_workers_write_one_artifact_and_match_single_process_validation_auc(data, tmp_path):
    def train(model_dir: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "ipinsights.cli",
                "train",
                "--train",
                str(data["train"]),
                "--validation",
                str(data["validation"]),
                "--model-dir",
                str(model_dir),
                "--device",
                "cpu",
                *_hp_args(),
                *extra,
            ],
            capture_output=True,
            cwd=ROOT,
            timeout=180,
        )

    two = train(tmp_path / "two", "--nproc", "2")
    assert two.returncode == 0, two.stderr.decode()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["model.json", "model.safetensors"]
    assert "by 2 workers" in two.stderr.decode()
    aucs_two = _aucs(two.stdout.decode())
    assert len(aucs_two) == HP["epochs"]  # rank 0 alone prints the metric lines

    one = train(tmp_path / "one")
    assert one.returncode == 0, one.stderr.decode()
    aucs_one = _aucs(one.stdout.decode())
    assert abs(aucs_two[-1] - aucs_one[-1]) <= 0.005, (aucs_one, aucs_two)


def test_nproc_is_refused_under_torchrun_and_must_be_positive(data, tmp_path):
    base = [
        sys.executable,
        "-m",
        "ipinsights.cli",
        "train",
        "--train",
        str(data["train"]),
        "--model-dir",
        str(tmp_path / "m"),
        *_hp_args(),
    ]
    zero = subprocess.run([*base, "--nproc", "0"], capture_output=True, cwd=ROOT, timeout=60)
    assert zero.returncode == 2
    assert (
        zero.stderr.decode().strip()
        == "ipinsights: error: --nproc must be a positive number of worker processes, got --nproc 0"
    )
    nested = subprocess.run(
        [*base, "--nproc", "2"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "WORLD_SIZE": "2"},
    )
    assert nested.returncode == 2
    assert "under torchrun leave it out" in nested.stderr.decode()


def test_each_worker_draws_its_own_negatives_from_the_seed():
    seeds = {sampling_seed(7, rank) for rank in range(4)}
    assert len(seeds) == 4 and 7 not in seeds
    assert sampling_seed(7, 1) == sampling_seed(7, 1)
    assert DataParallel(rank=0, world_size=2).is_main and not DataParallel(rank=1, world_size=2).is_main
