"""The one-thread-when-busy rule shared by train, demo and evaluate."""

import os

import pytest

from ipinsights import ConfigError
from ipinsights.threads import choose_threads


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)

    def at_load(load: float) -> None:
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))

    return at_load


def test_hardening_7_auto_takes_every_core_when_the_machine_is_otherwise_idle(four_cores):
    four_cores(0.2)
    assert choose_threads("auto") == 4
    four_cores(3.0)  # at most cores - 1: this process alone would fill the last core
    assert choose_threads("auto") == 4


def test_hardening_7_auto_takes_one_thread_when_other_jobs_share_the_cores(four_cores):
    four_cores(3.5)
    assert choose_threads("auto") == 1
    four_cores(40.0)
    assert choose_threads() == 1


def test_hardening_7_omp_num_threads_wins_over_auto_and_a_number_wins_over_the_load(four_cores, monkeypatch):
    four_cores(40.0)
    assert choose_threads("3") == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert choose_threads("auto") is None


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_hardening_7_a_bad_thread_count_names_the_option_and_the_value(value):
    with pytest.raises(ConfigError, match=f"--threads must be a positive number or auto, got --threads {value}$"):
        choose_threads(value)


def test_usable_cores_is_the_affinity_mask_where_there_is_one(monkeypatch):
    import os

    from ipinsights.threads import choose_threads, usable_cores

    if hasattr(os, "sched_getaffinity"):
        assert usable_cores() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert usable_cores() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores() == 1
    # auto on one usable core is one thread, whatever the load.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert choose_threads("auto") == 1
