"""How many PyTorch threads a command uses: every core when the machine is idle, one when busy.

A training step is ~150 small operations; OpenMP splits each at a loss and its threads spin-wait
when other jobs share the cores. On the 2-core benchmark machine two threads train 1.2x faster
than one when idle and 3-10x slower when another job shares the cores (docs/performance.md);
``ipinsights demo`` took 306 s instead of ~45 s on a busy machine before it applied this rule.
``train``, ``demo`` and ``evaluate`` share it through ``--threads N|auto``.
"""

from __future__ import annotations

import os

from ipinsights.errors import ConfigError

__all__ = ["THREADS_HELP", "choose_threads", "usable_cores", "use_threads"]

#: The ``--threads`` help text of every command that takes it.
THREADS_HELP = (
    "PyTorch threads; auto: every core when the machine is otherwise idle (1-minute load average at "
    "most cores - 1), else 1 (OpenMP threads that share busy cores slow a step 3-10x; see "
    "docs/performance.md); OMP_NUM_THREADS, when set, wins over auto"
)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container's
    cpuset), else every core the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def choose_threads(spec: str | int = "auto") -> int | None:
    """The thread count ``--threads spec`` asks for, or ``None`` to leave PyTorch's own setting.

    Args:
        spec: A positive number, or ``"auto"``: every usable core when the 1-minute load
            average is at most ``cores - 1`` (nothing else runs), else 1; ``None`` when
            ``OMP_NUM_THREADS`` is set (the user chose already).

    Raises:
        ConfigError: ``spec`` is neither ``auto`` nor a positive integer.

    Example:
        >>> choose_threads("3")
        3
    """
    if spec != "auto":
        try:
            threads = int(spec)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ConfigError(f"--threads must be a positive number or auto, got --threads {spec}")
        return threads
    if "OMP_NUM_THREADS" in os.environ:
        return None
    cores = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float(cores)
    return cores if cores > 1 and load <= cores - 1 else 1


def use_threads(threads: int | None) -> None:
    """Apply a count from :func:`choose_threads` to PyTorch (``None`` leaves it as it is)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
