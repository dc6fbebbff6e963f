"""The worker loop that runs a tuning job's trials, from any number of processes and machines.

How a job spends its budget without duplicates, from any number of workers:

- The budget is ``MaxNumberOfTrainingJobs`` *slots*. A slot is a waiting Optuna trial marked
  ``Slot``; workers create them as needed (Grid creates one per combination up front) and take
  them with ``study.ask()``, which hands each waiting trial to exactly one worker (an atomic
  state change in the storage). A slot's number in the budget is its rank among slots; a slot
  ranked past the budget (two workers topping up at once) is discarded unused.
- The worker samples the slot's hyperparameters (``ask`` with this job's distributions: TPE with
  the constant liar for Bayesian, so running trials are accounted for; random sampling for Random
  and Hyperband; fixed values for Grid), names the training job, and starts a trial process
  (:mod:`ipinsights.tune._trial`) with its share of the cores.
- A trial process that dies without a result (SIGKILL, out of memory) leaves its trial running;
  its worker records it as a ``RetryableError`` and queues the same configuration again under the
  same slot (``RetryStrategy.MaximumRetryAttempts`` times; then ``NonRetryableError``). Trials of
  a worker that is gone (same machine: its process has ended; elsewhere: no heartbeat for 60 s)
  are handled the same way by any other worker, or by the same command run again: that is how a
  killed job resumes. Finished trials are never run again, and the budget counts slots, so a job
  ends with exactly ``MaxNumberOfTrainingJobs`` counted training jobs however often it resumed.
- The job ends when every slot is finished, when a completion criterion or the runtime limit is
  met (running trials are stopped), when ``ipinsights tune stop`` asks (``Stopping`` →
  ``Stopped``), or when the first training jobs all fail for a reason that retrying cannot fix.

Samplers are re-seeded for every trial from ``RandomSeed`` and the trial's number, so the same
seed gives the same configurations, and a resumed job does not repeat the draws of its first run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ipinsights.errors import ConfigError, IPInsightsError
from ipinsights.threads import usable_cores
from ipinsights.tune._attributes import JobAttributes, JobKey, TrialAttributes, TrialKey
from ipinsights.tune._completion import FinishedJob, check_completion
from ipinsights.tune._job import TuningJob, _now_iso, finish_trial, training_job_name
from ipinsights.tune._records import TrainingJob, summarize
from ipinsights.tune._space import decode, distributions, hyperparameters, seed_for
from ipinsights.tune._storage import (
    EXIT_DISK_FULL,
    HEARTBEAT_SECONDS,
    RDB_MODULES,
    STALE_SECONDS,
    DiskFullError,
    WorkerInfo,
    is_disk_full,
    is_rdb,
)
from ipinsights.tune._trial import TrialSpec, run_trial
from ipinsights.tune._types import (
    FailureKind,
    JobStatus,
    StoppedBy,
    Strategy,
    TrainingJobStatus,
    TuningJobConfig,
    bounded,
)

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.tune._report import Progress

__all__ = ["Worker", "run_job"]

#: Seconds a trial gets to stop after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 30.0
#: The job fails when this many training jobs failed for good and none succeeded.
FAIL_AFTER = 3
#: Draws in a row for one slot that may be rejected (R + S = 0) before the slot fails.
MAX_REJECTED_DRAWS = 100
@dataclass
class _Child:
    process: Any
    trial: FrozenTrial
    name: str
    started: float
    stopping: float | None = None


class Worker:
    """Runs trials of one job in this process's children until the job ends.

    Args:
        job: The job.
        max_parallel: Trials this worker runs at once (default ``MaxParallelTrainingJobs``;
            the job-wide limit applies too).
        channels: Data paths on this machine (default: the job's).
        trainer: ``module:function`` stand-in for the real trainer (tests).
        on_event: Called with a line of text for every trial that starts or ends.
        poll_seconds: How often the storage is read.
    """

    def __init__(
        self,
        job: TuningJob,
        *,
        max_parallel: int | None = None,
        channels: dict[str, str] | None = None,
        trainer: str | None = None,
        on_event: Callable[[str], None] | None = None,
        on_tick: Callable[[TuningJob, list[TrainingJob]], None] | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.job = job
        self.config = job.config
        limit = job.config.resource_limits.max_parallel_training_jobs
        self.max_parallel = min(limit, max_parallel) if max_parallel else limit
        self.channels = dict(channels or job.config.channels)
        self.trainer = trainer
        self.on_event = on_event or (lambda line: None)
        self.on_tick = on_tick or (lambda job, jobs: None)
        self.poll = poll_seconds if poll_seconds is not None else (1.0 if is_rdb(job.storage_url) else 0.25)
        self.info = WorkerInfo.this_process()
        self.children: dict[int, _Child] = {}
        self.distributions = distributions(job.config.ranges)
        self.threads = max(1, usable_cores() // self.max_parallel)
        self._last_heartbeat = 0.0
        self._not_improving: int | None = None
        self._context: Any = None
        self._disk_full: str | None = None

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> str:
        """Run until the job ends; returns its final status.

        Raises:
            KeyboardInterrupt: On Ctrl-C or SIGTERM, after recording the running trials as
                retryable so that running the command again resumes the job.
            DiskFullError: The disk filled up (in a trial or in the storage); the running
                trials were queued again without spending budget or attempts, and the job is
                still InProgress: running the command again resumes it once space is freed.
        """
        job = self.job
        self._heartbeat(force=True)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            while True:
                self._heartbeat()
                self._reap()
                if self._disk_full is not None:
                    raise DiskFullError(self._disk_full)
                trials = job.trials()
                self._reclaim(trials)
                jobs = job.training_jobs(trials)
                self.on_tick(job, jobs)
                status = job.status()
                if status.ended or status is JobStatus.STOPPING:
                    if self._wind_down(status, trials, jobs):
                        break
                else:
                    decision = self._decide(jobs)
                    if decision is not None:
                        final, reason = decision
                        job.set_status(final, reason)
                        self.on_event(f"{job.config.name}: {final} ({reason})")
                        continue
                    self._launch(trials)
                sentinels = [c.process.sentinel for c in self.children.values()]
                if sentinels:
                    wait(sentinels, timeout=self.poll)
                else:
                    time.sleep(self.poll)
        except BaseException as exc:
            full = is_disk_full(exc)
            self._abandon(
                "the disk is full" if full else "the worker was interrupted", spend_attempt=not full
            )
            if not full:
                raise
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DiskFullError(
                f"the disk of tuning job {job.config.name} is full ({bounded(detail, 200)}); its running trials "
                "were queued again without spending budget: free space, then run the same command again "
                "to resume",
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            with contextlib.suppress(OSError):  # a full disk: the pid check tells others it is gone
                self._heartbeat(force=True, stopped=True)
        return job.status()

    def _wind_down(self, status: JobStatus, trials: list[FrozenTrial], jobs: list[TrainingJob]) -> bool:
        """Stop this worker's trials; True once the job may end for this worker."""
        reason = job_reason = JobAttributes(self.job.attrs()).status_reason or status
        stopped_by = StoppedBy.STOP_REQUEST if status in (JobStatus.STOPPING, JobStatus.STOPPED) else job_reason
        self._stop_children(str(stopped_by))
        if self.children:
            return False
        if status is JobStatus.STOPPING:
            live = {k for k, w in self.job.workers().items() if w.alive()}
            if any(t.state is TrialState.RUNNING and self._is_live_trial(t, live) for t in trials):
                return False
            self.job.set_status(JobStatus.STOPPED, StoppedBy.STOP_REQUEST)
            self.on_event(f"{self.job.config.name}: Stopped ({reason})")
        return True

    def _decide(self, jobs: list[TrainingJob]) -> tuple[JobStatus, str] | None:
        config = self.config
        summary = summarize(config, jobs)
        budget = config.resource_limits.max_number_of_training_jobs
        hard_failures = [
            j for j in jobs if j.status is TrainingJobStatus.FAILED and j.failure_kind is FailureKind.NON_RETRYABLE
        ]
        succeeded = [j for j in jobs if j.objective_status == "Succeeded"]
        if len(hard_failures) >= min(FAIL_AFTER, budget) and not succeeded:
            return (
                JobStatus.FAILED,
                f"the first {len(hard_failures)} training jobs failed; first reason: {hard_failures[0].failure_reason}",
            )
        limit = config.resource_limits.max_runtime_in_seconds
        if limit is not None and self.job.consumed_seconds() >= limit:
            return JobStatus.COMPLETED, "MaxRuntimeInSeconds reached"
        finished = sorted(
            (j for j in jobs if j.finished_with_value),
            key=lambda j: (j.end_time or dt.datetime.max, j.number),
        )
        completion = check_completion(
            config.completion,
            [FinishedJob(j.value, j.status is TrainingJobStatus.COMPLETED) for j in finished if j.value is not None],
            maximize=config.objective.maximize,
        )
        if finished and completion.jobs_not_improving != self._not_improving:
            self._not_improving = completion.jobs_not_improving
            self.job.study.set_user_attr(JobKey.NOT_IMPROVING, completion.jobs_not_improving)
        if completion.reason is not None:
            if completion.converged:
                self.job.study.set_user_attr(JobKey.CONVERGENCE_TIME, _now_iso())
            return JobStatus.COMPLETED, completion.reason
        if summary.counted >= budget:
            return JobStatus.COMPLETED, "MaxNumberOfTrainingJobs reached"
        return None

    # -- starting trials ------------------------------------------------------------------------

    def _launch(self, trials: list[FrozenTrial]) -> None:
        config = self.config
        budget = config.resource_limits.max_number_of_training_jobs
        while len(self.children) < self.max_parallel:
            running = sum(1 for t in trials if t.state is TrialState.RUNNING)
            if running >= config.resource_limits.max_parallel_training_jobs:
                return
            waiting = [t for t in trials if t.state is TrialState.WAITING]
            if not waiting:
                slots = sum(1 for t in trials if t.user_attrs.get(TrialKey.SLOT))
                if slots >= budget:
                    return
                self.job.study.enqueue_trial({}, user_attrs={TrialKey.SLOT: True, TrialKey.ATTEMPT: 1})
            self._start_one()
            trials = self.job.trials()

    def _start_one(self) -> None:
        study = self.job.study
        config = self.config
        trials = self.job.trials()
        study.sampler = _sampler(config, len(trials))
        trial = study.ask(self.distributions)
        frozen = self.job.storage.get_trial(trial._trial_id)
        attrs = frozen.user_attrs
        if TrialKey.TRAINING_JOB_INDEX in attrs:
            index = int(attrs[TrialKey.TRAINING_JOB_INDEX])
        elif attrs.get(TrialKey.SLOT):
            index = 1 + sum(1 for t in trials if t.user_attrs.get(TrialKey.SLOT) and t.number < frozen.number)
        else:
            index = 0
        if not 1 <= index <= config.resource_limits.max_number_of_training_jobs:
            finish_trial(self.job.storage, frozen, TrialState.FAIL, {TrialKey.DISCARDED: "the budget was already spent"})
            return
        attempt = int(attrs.get(TrialKey.ATTEMPT, 1))
        try:
            values = decode(config.ranges, frozen.params)
            hp = hyperparameters(config, values)
        except ConfigError as exc:
            self._reject(frozen, index, attempt, str(exc))
            return
        name = training_job_name(config.name, index, frozen.number)
        trial_dir = self.job.job_dir / "trials" / name
        storage = self.job.storage
        # TrainingJobName last: it marks a training job, whose other attributes are then all set
        # (a full disk can stop this loop half-way).
        for key, value in {
            TrialKey.TRAINING_JOB_INDEX: index,
            TrialKey.ATTEMPT: attempt,
            TrialKey.WORKER: self.info.id,
            TrialKey.HOST: self.info.host,
            TrialKey.HYPERPARAMETERS: hp.to_dict(),
            TrialKey.TRAINING_LOG: str((trial_dir / "train.log").resolve()),
            TrialKey.TRAINING_JOB_NAME: name,
        }.items():
            storage.set_trial_user_attr(frozen._trial_id, key, value)
        spec = TrialSpec(
            storage_url=self.job.storage_url,
            study_name=config.name,
            trial_id=frozen._trial_id,
            config=config,
            trial_dir=str(trial_dir.resolve()),
            threads=self.threads,
            channels=self.channels,
            trainer=self.trainer,
            worker_pid=self.info.pid,
            worker_pid_start=self.info.pid_start,
        )
        process = self._mp().Process(target=run_trial, args=(spec,), name=name, daemon=False)
        with _main_module_hidden():
            process.start()
        # A trainer faster than this line (the tests' stand-ins take milliseconds) may have finished
        # the trial already; its process id is only needed to watch a running one.
        with contextlib.suppress(UpdateFinishedTrialError):
            storage.set_trial_user_attr(frozen._trial_id, TrialKey.PID, process.pid)
        self.children[frozen._trial_id] = _Child(process, frozen, name, time.time())
        tuned = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
        self.on_event(f"{name}: started ({tuned})")

    def _reject(self, trial: FrozenTrial, index: int, attempt: int, reason: str) -> None:
        draws = int(trial.user_attrs.get(TrialKey.DRAW, 1))
        storage = self.job.storage
        if draws >= MAX_REJECTED_DRAWS:
            name = training_job_name(self.config.name, index, trial.number)
            finish_trial(
                storage,
                trial,
                TrialState.FAIL,
                {
                    TrialKey.TRAINING_JOB_NAME: name,
                    TrialKey.TRAINING_JOB_INDEX: index,
                    TrialKey.ATTEMPT: attempt,
                    TrialKey.FAILURE_KIND: FailureKind.NON_RETRYABLE.value,
                    TrialKey.FAILURE_REASON: f"no valid configuration in {draws} draws: {reason}",
                },
            )
            return
        if finish_trial(storage, trial, TrialState.FAIL, {TrialKey.REJECTED: reason, TrialKey.TRAINING_JOB_INDEX: index}):
            self.job.study.enqueue_trial(
                {}, user_attrs={TrialKey.TRAINING_JOB_INDEX: index, TrialKey.ATTEMPT: attempt, TrialKey.DRAW: draws + 1}
            )

    def _mp(self) -> Any:
        if self._context is None:
            context = multiprocessing.get_context("forkserver")
            preload = ["ipinsights.tune._trial"]
            if self.trainer:
                preload.append(self.trainer.partition(":")[0])
            else:
                # torch.optim imports torch._dynamo on first use: 2 to 5 s per trial unless preloaded.
                preload += ["ipinsights.estimator", "torch._dynamo"]
            if is_rdb(self.job.storage_url):
                preload += list(RDB_MODULES)
            context.set_forkserver_preload(preload)
            self._context = context
        return self._context

    # -- watching trials ------------------------------------------------------------------------

    def _reap(self) -> None:
        for trial_id, child in list(self.children.items()):
            if child.process.exitcode is None:
                if child.stopping is not None and time.time() - child.stopping > STOP_GRACE_SECONDS:
                    child.process.kill()
                continue
            child.process.join()
            code = child.process.exitcode
            del self.children[trial_id]
            trial = self.job.storage.get_trial(trial_id)
            if trial.state is TrialState.RUNNING:
                if child.stopping is not None:
                    finish_trial(self.job.storage, trial, TrialState.PRUNED, {})
                elif code == EXIT_DISK_FULL:
                    self._disk_full = f"{child.name} ran out of disk space; see its train.log"
                    self._fail_and_retry(trial, self._disk_full, spend_attempt=False)
                else:
                    self._fail_and_retry(trial, _exit_reason(code))
                trial = self.job.storage.get_trial(trial_id)
            self.on_event(_describe_end(child.name, trial))

    def _fail_and_retry(self, trial: FrozenTrial, reason: str, *, spend_attempt: bool = True) -> None:
        """Record ``trial`` as failed and queue its configuration again while attempts are left.

        ``spend_attempt=False`` (a full disk: no fault of the configuration) always queues it
        again, under the same attempt number.
        """
        attrs = trial.user_attrs
        attempt = int(attrs.get(TrialKey.ATTEMPT, 1))
        retry = not spend_attempt or attempt <= self.config.max_retry_attempts
        kind = (FailureKind.RETRYABLE if retry else FailureKind.NON_RETRYABLE).value
        text = reason if retry else f"{reason}; no retries left after {attempt} attempts"
        if (
            finish_trial(self.job.storage, trial, TrialState.FAIL, {TrialKey.FAILURE_KIND: kind, TrialKey.FAILURE_REASON: text})
            and retry
        ):
            self.job.study.enqueue_trial(
                dict(trial.params),
                user_attrs={
                    TrialKey.TRAINING_JOB_INDEX: int(attrs[TrialKey.TRAINING_JOB_INDEX]),
                    TrialKey.ATTEMPT: attempt + 1 if spend_attempt else attempt,
                    TrialKey.RETRY_OF: attrs.get(TrialKey.TRAINING_JOB_NAME, ""),
                },
            )

    def _requeue_unstarted(self, trial: FrozenTrial, trials: list[FrozenTrial], reason: str) -> None:
        """A trial taken by a lost worker before it became a training job: queue it again."""
        attrs = trial.user_attrs
        if TrialKey.TRAINING_JOB_INDEX in attrs:
            index = int(attrs[TrialKey.TRAINING_JOB_INDEX])
        elif attrs.get(TrialKey.SLOT):
            index = 1 + sum(1 for t in trials if t.user_attrs.get(TrialKey.SLOT) and t.number < trial.number)
        else:
            finish_trial(self.job.storage, trial, TrialState.FAIL, {TrialKey.DISCARDED: reason})
            return
        if finish_trial(self.job.storage, trial, TrialState.FAIL, {TrialKey.DISCARDED: reason}):
            self.job.study.enqueue_trial(
                dict(trial.params),
                user_attrs={TrialKey.TRAINING_JOB_INDEX: index, TrialKey.ATTEMPT: int(attrs.get(TrialKey.ATTEMPT, 1))},
            )

    def _is_live_trial(self, trial: FrozenTrial, live: set[str] | None = None) -> bool:
        owner = trial.user_attrs.get(TrialKey.WORKER)
        if owner == self.info.id:
            return trial._trial_id in self.children
        if live is None:
            live = {k for k, w in self.job.workers().items() if w.alive()}
        if owner is None:
            others = live - {self.info.id}
            started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
            return bool(others) and time.time() - started < STALE_SECONDS
        return owner in live

    def _reclaim(self, trials: list[FrozenTrial]) -> None:
        running = [t for t in trials if t.state is TrialState.RUNNING and t._trial_id not in self.children]
        if not running:
            return
        all_workers = self.job.workers()
        live = {k for k, w in all_workers.items() if w.alive()}
        for t in running:
            if self._is_live_trial(t, live):
                continue
            owner = all_workers.get(t.user_attrs.get(TrialKey.WORKER, ""))
            lost = (
                f"its worker (host {owner.host}, pid {owner.pid}) stopped" if owner else "its worker was lost"
            )
            if TrialKey.TRAINING_JOB_NAME in t.user_attrs and TrialKey.TRAINING_JOB_INDEX in t.user_attrs:
                self._fail_and_retry(t, f"the trial process was lost: {lost}")
                self.on_event(
                    f"{t.user_attrs[TrialKey.TRAINING_JOB_NAME]}: Failed (RetryableError: {lost}); queued again"
                )
            else:
                self._requeue_unstarted(t, trials, lost)

    def _stop_children(self, reason: str) -> None:
        for child in self.children.values():
            if child.stopping is None:
                with contextlib.suppress(UpdateFinishedTrialError):
                    self.job.storage.set_trial_user_attr(child.trial._trial_id, TrialKey.STOPPED_BY, reason)
                child.process.terminate()
                child.stopping = time.time()

    def _abandon(self, reason: str, *, spend_attempt: bool = True) -> None:
        """On interrupt: kill this worker's trials and queue them again (retryable).

        A trial that cannot be recorded now (a full disk) stays running in the storage; the
        next worker finds its worker gone and queues it again.
        """
        for trial_id, child in list(self.children.items()):
            child.process.kill()
            child.process.join()
            with contextlib.suppress(OSError):
                trial = self.job.storage.get_trial(trial_id)
                if trial.state is TrialState.RUNNING:
                    self._fail_and_retry(trial, reason, spend_attempt=spend_attempt)
        self.children.clear()

    def _heartbeat(self, *, force: bool = False, stopped: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.info.heartbeat = now
        if stopped:
            self.info.stopped = now
        self.job.storage.set_study_system_attr(self.job.study._study_id, self.info.key, self.info.to_dict())
        self._last_heartbeat = now


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Keep multiprocessing from running the caller's ``__main__`` in the trial process.

    The trial's entry point is importable on its own; a script without an
    ``if __name__ == "__main__"`` guard would otherwise start the whole job again in every trial.
    """
    main = sys.modules.get("__main__")
    saved: dict[str, Any] = {
        k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__
    }
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _sampler(config: TuningJobConfig, number: int) -> optuna.samplers.BaseSampler:
    seed = seed_for(config.random_seed, "sampler", number)
    if config.strategy is Strategy.BAYESIAN:
        budget = config.resource_limits.max_number_of_training_jobs
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=max(3, min(10, budget // 5)),
            multivariate=True,
            constant_liar=True,
        )
    return optuna.samplers.RandomSampler(seed=seed)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the trial process was killed by {name}"
    return f"the trial process exited with status {code} without a result"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _describe_end(name: str, trial: FrozenTrial) -> str:
    attrs = trial.user_attrs
    if trial.state is TrialState.COMPLETE:
        return f"{name}: Completed, objective {trial.value:.6g}"
    if trial.state is TrialState.PRUNED:
        value = f", objective {trial.value:.6g}" if trial.value is not None else ""
        return f"{name}: Stopped by {attrs.get(TrialKey.STOPPED_BY, 'request')} after {len(trial.intermediate_values)} epochs{value}"
    kind = TrialAttributes(attrs).failure_kind or FailureKind.NON_RETRYABLE
    again = "; queued again" if kind is FailureKind.RETRYABLE else ""
    return f"{name}: Failed ({kind}: {attrs.get(TrialKey.FAILURE_REASON, 'unknown')}){again}"


def run_job(
    job: TuningJob,
    *,
    max_parallel: int | None = None,
    channels: dict[str, str] | None = None,
    trainer: str | None = None,
    progress: Progress | None = None,
    plots: bool = True,
) -> str:
    """Run ``job`` with a worker in this process until it ends, then write its reports.

    Args:
        job: From :meth:`TuningJob.create_or_resume` or :meth:`TuningJob.open`.
        max_parallel: Trials this process runs at once.
        channels: Data paths on this machine.
        trainer: Stand-in trainer ``module:function`` (tests).
        progress: A :class:`ipinsights.tune._report.Progress` (or None for silence).
        plots: Also write the PNG plots (a few seconds: matplotlib and the importance model).

    Returns:
        The job's final status.
    """
    from ipinsights.tune._report import write_outputs

    worker = Worker(
        job,
        max_parallel=max_parallel,
        channels=channels,
        trainer=trainer,
        on_event=progress.event if progress is not None else None,
        on_tick=progress.tick if progress is not None else None,
    )
    try:
        if progress is not None:
            progress.start(job)
        status = worker.run()
    finally:
        if progress is not None:
            progress.stop()
    try:
        write_outputs(job, plots=plots)
    except (OSError, IPInsightsError) as exc:
        print(f"ipinsights tune: could not write the reports: {exc}")
    return status
