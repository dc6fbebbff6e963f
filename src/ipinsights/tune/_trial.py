"""One trial: a separate process that trains one model through the public API.

The worker starts it (``multiprocessing``'s forkserver, so that ``torch`` is imported once per
worker, not once per trial) with a :class:`TrialSpec`. The process reads its hyperparameters
from the Optuna trial, calls ``IPInsights(...).fit(...)`` with an epoch callback that reports
the objective (``trial.report``) and asks the pruner (``trial.should_prune``: the median rule or
Hyperband), saves the model into ``trials/<TrainingJobName>/model/`` and tells Optuna the
result. Everything it prints, the trainer's metric lines included, goes to ``train.log`` next
to the model.

Exit status: 0 when the result was recorded (completed, stopped or failed by training); a
process that dies without recording (killed, out of memory) leaves its trial running, and the
worker records it as a ``RetryableError`` and runs the configuration again. A full disk (ENOSPC
or EDQUOT, while training, saving or recording) is not the configuration's fault: the process
exits with ``EXIT_DISK_FULL`` without recording (that would need the disk too), and the worker
queues the trial again without spending an attempt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import optuna

from ipinsights.config import HyperParameters
from ipinsights.errors import IPInsightsError, TrainingDivergedError
from ipinsights.tune._attributes import TrialKey
from ipinsights.tune._early_stopping import MedianRulePruner
from ipinsights.tune._storage import EXIT_DISK_FULL, is_disk_full, open_storage, pid_alive
from ipinsights.tune._types import EarlyStoppingType, FailureKind, InputFormat, StoppedBy, TuningJobConfig

__all__ = ["Trainer", "TrialSpec", "fit_ipinsights", "make_pruner", "run_trial"]

#: ``trainer(hp, *, seed, device, channels, input_format, callback, log, model_dir,
#: max_bad_fraction, threads) -> history``: trains, saves into ``model_dir``, returns one metrics dict per epoch.
Trainer = Callable[..., list[dict[str, float]]]


@dataclass(frozen=True)
class TrialSpec:
    """What a trial process needs (pickled to it)."""

    storage_url: str
    study_name: str
    trial_id: int
    config: TuningJobConfig
    trial_dir: str
    threads: int
    channels: dict[str, str]
    trainer: str | None = None
    worker_pid: int | None = None
    worker_pid_start: str | None = None


class _StopRequested(Exception):
    """SIGTERM from the worker: stop now (a stop request, a completion criterion, a time limit)."""


def fit_ipinsights(
    hp: HyperParameters,
    *,
    seed: int,
    device: str,
    channels: dict[str, str],
    input_format: InputFormat,
    callback: Callable[[int, dict[str, float]], bool | None],
    log: TextIO,
    model_dir: Path,
    max_bad_fraction: float,
    threads: int,
) -> list[dict[str, float]]:
    """The trainer of every trial: the public ``IPInsights`` API, nothing else."""
    import torch

    from ipinsights.estimator import IPInsights

    torch.set_num_threads(threads)
    model = IPInsights(hp, seed=seed, device=device)
    model.fit(
        channels["train"],
        validation=channels.get("validation"),
        callbacks=[callback],
        log=log,
        max_bad_fraction=max_bad_fraction,
        progress=False,
        format=input_format.format,
        entity_field=input_format.entity_field,
        ip_field=input_format.ip_field,
    )
    model.save(model_dir)
    return model.history_


def load_trainer(spec: str | None) -> Trainer:
    """``module:function`` (a stand-in trainer for tests), or the real one."""
    if not spec:
        return fit_ipinsights
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def make_pruner(config: TuningJobConfig) -> optuna.pruners.BasePruner:
    """The pruner every trial consults after each epoch."""
    if config.hyperband is not None:
        low, high = config.hyperband
        return optuna.pruners.HyperbandPruner(min_resource=low, max_resource=high, reduction_factor=3)
    if config.early_stopping is EarlyStoppingType.AUTO:
        return MedianRulePruner()
    return optuna.pruners.NopPruner()


def _die_with_worker(pid: int | None, start_time: str | None) -> None:
    """End this process when the worker that started it is gone (killed, crashed).

    The parent is the worker's forkserver, which lives as long as any trial does, so the
    kernel's parent-death signal alone is not enough: a thread watches the worker's pid.
    Without this, a killed job would leave trials running that its next run also starts.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
    if pid is None:
        return

    def watch() -> None:
        while pid_alive(pid, start_time):
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="watch-worker", daemon=True).start()


def _now() -> str:
    return dt.datetime.now().isoformat()


def run_trial(spec: TrialSpec) -> None:
    """The trial process's entry point (exits with the status described in the module doc)."""
    _die_with_worker(spec.worker_pid, spec.worker_pid_start)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
    try:
        trial_dir = Path(spec.trial_dir)
        trial_dir.mkdir(parents=True, exist_ok=True)
        log = open(trial_dir / "train.log", "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        code = _train(spec, log, trial_dir)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        with contextlib.suppress(Exception):
            print(f"ipinsights tune: the disk is full: {type(exc).__name__}: {exc}", flush=True)
        os._exit(EXIT_DISK_FULL)  # not sys.exit: flushing a buffer on a full disk would fail again
    sys.exit(code)


def _train(spec: TrialSpec, log: TextIO, trial_dir: Path) -> int:
    config = spec.config
    storage = open_storage(spec.storage_url, existing=True)
    study = optuna.load_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(),
        pruner=make_pruner(config),
    )
    trial = optuna.trial.Trial(study, spec.trial_id)
    frozen = storage.get_trial(spec.trial_id)
    hp = HyperParameters.from_mapping(frozen.user_attrs[TrialKey.HYPERPARAMETERS])  # set by the worker
    metric = config.objective.metric_name
    state: dict[str, Any] = {"in_callback": False, "stop": False, "stopped_by": None}

    def on_sigterm(signum: int, frame: Any) -> None:
        if state["in_callback"]:
            state["stop"] = True
        else:
            raise _StopRequested

    signal.signal(signal.SIGTERM, on_sigterm)

    def callback(epoch: int, metrics: dict[str, float]) -> bool | None:
        state["in_callback"] = True
        try:
            value = metrics.get(metric)
            if value is None:
                raise IPInsightsError(
                    f"the trainer did not report the objective metric {metric} (it reported {', '.join(metrics)})"
                )
            if not math.isfinite(value):
                raise TrainingDivergedError(f"{metric} is {value} after epoch {epoch}")
            trial.report(float(value), epoch)
            if epoch < hp.epochs and trial.should_prune():
                state["stopped_by"] = (StoppedBy.HYPERBAND if config.hyperband is not None else StoppedBy.EARLY_STOPPING).value
                return True
            return None
        finally:
            state["in_callback"] = False
            if state["stop"]:
                raise _StopRequested

    storage.set_trial_user_attr(spec.trial_id, TrialKey.TRAINING_START_TIME, _now())
    print(f"ipinsights tune: trial {spec.trial_id} hyperparameters {hp.to_dict()}", flush=True)
    model_dir = trial_dir / "model"
    try:
        history = load_trainer(spec.trainer)(
            hp,
            seed=config.seed,
            device=config.device,
            channels=spec.channels,
            input_format=config.input_format,
            callback=callback,
            log=log,
            model_dir=model_dir,
            max_bad_fraction=config.max_bad_fraction,
            threads=spec.threads,
        )
    except _StopRequested:
        # The worker already recorded why (StoppedBy) before it sent SIGTERM.
        storage.set_trial_user_attr(spec.trial_id, TrialKey.TRAINING_END_TIME, _now())
        study.tell(frozen.number, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
        return 0
    except Exception as exc:
        if is_disk_full(exc):
            raise
        if not isinstance(exc, (IPInsightsError, FloatingPointError)):
            traceback.print_exc()
        reason = str(exc) if isinstance(exc, IPInsightsError) else f"{type(exc).__name__}: {exc}"
        print(f"ipinsights tune: training failed: {reason}", flush=True)
        storage.set_trial_user_attr(spec.trial_id, TrialKey.FAILURE_KIND, FailureKind.NON_RETRYABLE.value)
        storage.set_trial_user_attr(spec.trial_id, TrialKey.FAILURE_REASON, reason)
        storage.set_trial_user_attr(spec.trial_id, TrialKey.TRAINING_END_TIME, _now())
        study.tell(frozen.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        return 0
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    storage.set_trial_user_attr(spec.trial_id, TrialKey.TRAINING_END_TIME, _now())
    storage.set_trial_user_attr(spec.trial_id, TrialKey.FINAL_METRICS, dict(history[-1]) if history else {})
    if model_dir.is_dir():
        storage.set_trial_user_attr(spec.trial_id, TrialKey.MODEL_ARTIFACTS, str(model_dir.resolve()))
    if state["stopped_by"]:
        storage.set_trial_user_attr(spec.trial_id, TrialKey.STOPPED_BY, state["stopped_by"])
        study.tell(frozen.number, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
    else:
        study.tell(frozen.number, float(history[-1][metric]), skip_if_finished=True)
    return 0
