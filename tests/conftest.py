"""Shared fixtures: small, seeded login data sets written as headerless entity,ip CSV.

Also the ``slow`` marker (``scripts/test.sh --fast`` leaves those tests out): a test is slow when
it starts another process (the CLI, a server, a trial, a torchrun worker: each new Python imports
PyTorch, seconds on a shared 2-core machine), directly, through a helper or fixture of the test
suite, or through one of :data:`SLOW_FIXTURES` (PostgreSQL, real servers, fresh installs, SDK
tuning jobs); or when it is marked ``pytest.mark.slow`` itself. The rule reads the tests' code,
so a new test that starts a process is slow without anyone marking it.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path

import numpy as np
import pytest

#: Fixtures whose setup alone takes seconds to minutes; every test using one is ``slow``.
SLOW_FIXTURES = frozenset(
    {
        "postgres_url",  # test_tune_postgres: a real PostgreSQL server
        "servers",  # test_serve: two real `ipinsights serve` processes (and all that use them)
        "bare",  # test_extras: a fresh virtual environment with pip installs
        "sdk_job",  # test_tune_sdk: SageMaker SDK requests run as tuning jobs of the real trainer
        "walkthrough",  # test_from_logs: a model trained, evaluated and scored per log format
    }
)
#: What starting another process looks like in a test's code (a new Python imports torch: seconds).
_SPAWN_NAMES = frozenset({"subprocess", "Popen", "spawn", "forkserver", "multiprocessing", "ProcessPoolExecutor"})


def _spawns(code: types.CodeType, namespace: dict, seen: set[int]) -> bool:
    """Whether ``code``, a function it defines, or a test-suite function it calls starts a process."""
    if id(code) in seen:
        return False
    seen.add(id(code))
    if _SPAWN_NAMES.intersection(code.co_names):
        return True
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and _spawns(const, namespace, seen):
            return True
    for name in code.co_names:
        called = namespace.get(name)
        func = getattr(called, "__wrapped__", called)
        if inspect.isfunction(func) and _in_tests(func) and _spawns(func.__code__, func.__globals__, seen):
            return True
    return False


def _in_tests(func: types.FunctionType) -> bool:
    return Path(inspect.getfile(func)).resolve().parent == Path(__file__).resolve().parent


def _is_slow(item: pytest.Item) -> bool:
    if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    func = getattr(item, "function", None)
    if func is None:  # a doctest: quick
        return False
    seen: set[int] = set()
    if _spawns(func.__code__, func.__globals__, seen):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        for fixturedef in defs:
            fixture = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
            if inspect.isfunction(fixture) and _in_tests(fixture) and _spawns(fixture.__code__, fixture.__globals__, seen):
                return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` what needs a server, PostgreSQL, a fresh install or another process."""
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


def make_logins(num_users: int, rows_per_user: int, seed: int, *, ipv6_users: int = 0) -> list[tuple[str, str]]:
    """Each user logs in from one /16 of their own (IPv4) or one /48 (IPv6), with a little travel."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        if u < ipv6_users:
            net = f"2001:db8:{u:x}"
            for _ in range(rows_per_user):
                rows.append((f"user_{u}", f"{net}:{rng.integers(0, 16):x}::{rng.integers(1, 65535):x}"))
            continue
        a, b = 11 + (u * 7) % 200, (u * 13) % 256
        for _ in range(rows_per_user):
            if rng.random() < 0.03:
                ip = ".".join(str(x) for x in rng.integers(1, 255, 4))
            else:
                ip = f"{a}.{b}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
            rows.append((f"user_{u}", ip))
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{e},{ip}\n" for e, ip in rows))
    return path


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """60 users x 40 logins for training, 60 x 10 for validation."""
    root = tmp_path_factory.mktemp("small_data")
    return {
        "train": write_csv(root / "train.csv", make_logins(60, 40, seed=1)),
        "validation": write_csv(root / "validation.csv", make_logins(60, 10, seed=2)),
    }


SMALL_HP = {
    "num_entity_vectors": 128,
    "vector_dim": 16,
    "epochs": 3,
    "mini_batch_size": 128,
    "learning_rate": 0.02,
    "random_negative_sampling_rate": 2,
    "shuffled_negative_sampling_rate": 1,
    "batch_metrics_publish_interval": 5,
}


# -- the lab's range table, for the simulator, attack and range-table tests ---------------------


def ipv4_int(text: str) -> int:
    """``"1.2.3.4"`` as the integer the range table holds."""
    import ipaddress

    return int(ipaddress.IPv4Address(text))


def circular_gap(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Distance between row numbers on a table of ``size`` rows that wraps around."""
    gap = np.abs(a - b) % size
    return np.minimum(gap, size - gap)


@pytest.fixture(scope="session")
def table():
    """The built-in range table (loaded once)."""
    from ipinsights.lab.ranges import RangeTable

    return RangeTable.builtin()
