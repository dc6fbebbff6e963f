"""A tuning job as stored: its configuration, status and trials, in an Optuna study.

:class:`TuningJob` creates the study (or finds it again, refusing a different configuration
under the same name), imports warm-start parents, queues Grid's combinations, and reads and
sets the job's status; :mod:`ipinsights.tune._worker` runs its trials.
"""


from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ipinsights.errors import ConfigError
from ipinsights.tune._attributes import JobAttributes, JobKey, TrialKey
from ipinsights.tune._parse import parse_job_config
from ipinsights.tune._records import TrainingJob, training_jobs
from ipinsights.tune._space import grid
from ipinsights.tune._storage import (
    WorkerInfo,
    connect_url,
    consumed_seconds,
    default_job_dir,
    is_rdb,
    open_storage,
    redact_url,
    resolve_storage_url,
    workers,
    write_private,
)
from ipinsights.tune._types import JobStatus, StoppedBy, Strategy, TuningJobConfig

__all__ = ["TuningJob", "finish_trial", "training_job_name"]




def _now_iso() -> str:
    return dt.datetime.now().isoformat()


class TuningJob:
    """A tuning job as stored: its configuration, trials, training jobs and status.

    Open one with :meth:`create_or_resume` (``ipinsights tune``) or :meth:`open` (``describe``,
    ``list``, ``stop``, ``worker``).
    """

    def __init__(
        self, config: TuningJobConfig, storage: Any, storage_url: str, study: optuna.Study, job_dir: Path
    ) -> None:
        self.config = config
        self.storage = storage
        self.storage_url = storage_url
        self.study = study
        self.job_dir = job_dir

    # -- opening --------------------------------------------------------------------------------

    @classmethod
    def create_or_resume(
        cls, config: TuningJobConfig, *, job_dir: Path | None = None, storage_url: str | None = None
    ) -> TuningJob:
        """Create the job, or open it again if it exists (its configuration must be the same).

        Raises:
            ConfigError: The stored job has another configuration, a data channel is missing, or
                warm start is not possible.
        """
        job_dir = Path(job_dir) if job_dir is not None else default_job_dir(config.name)
        for channel, path in config.channels.items():
            if not Path(path).exists():
                raise ConfigError(f"the {channel} channel {path} does not exist")
        url = resolve_storage_url(storage_url, job_dir)
        storage = open_storage(url)
        direction = (
            optuna.study.StudyDirection.MAXIMIZE
            if config.objective.maximize
            else optuna.study.StudyDirection.MINIMIZE
        )
        try:
            study = optuna.create_study(study_name=config.name, storage=storage, direction=direction)
            created = True
        except DuplicatedStudyError:
            study = optuna.load_study(study_name=config.name, storage=storage)
            created = False
        job = cls(config, storage, url, study, job_dir)
        if created:
            job._initialise()
        else:
            stored = job._wait_for_stored_config()
            mine = config if config.random_seed_given else config.replace(random_seed=stored.random_seed)
            difference = _first_difference(stored.to_dict(), mine.to_dict())
            if difference:
                raise ConfigError(
                    f"tuning job {config.name!r} already exists with another configuration ({difference}); "
                    "run it with the same file, give this one another HyperParameterTuningJobName (--name), "
                    "or build on it with WarmStartConfig"
                )
            job.config = stored
        job._write_job_file()
        return job

    @classmethod
    def open(cls, name: str, *, storage_url: str | None = None, job_dir: Path | None = None) -> TuningJob:
        """Open an existing job by name (or by its folder).

        Raises:
            ConfigError: No such job (with where it was looked for).
        """
        if job_dir is None:
            as_path = Path(name)
            job_dir = as_path if (as_path / "job.json").is_file() else default_job_dir(name)
        job_dir = Path(job_dir)
        recorded: dict[str, Any] = {}
        if (job_dir / "job.json").is_file():
            try:
                recorded = json.loads((job_dir / "job.json").read_text())
            except (OSError, ValueError):
                recorded = {}
            if not isinstance(recorded, dict):
                recorded = {}
        study_name = recorded.get("HyperParameterTuningJobName", Path(name).name if not storage_url else name)
        # job.json has the URL without its password: the driver then takes it from PGPASSWORD.
        url = storage_url or connect_url(recorded.get("Storage") or "") or resolve_storage_url(None, job_dir)
        if not is_rdb(url) and not Path(url).exists():
            raise ConfigError(
                f"no tuning job {name!r}: {url} does not exist (give the job's folder with --job-dir, or its "
                "database with --storage)"
            )
        try:
            storage = open_storage(url)
        except ConfigError as exc:
            if storage_url or connect_url(recorded.get("Storage") or "") == recorded.get("Storage"):
                raise
            raise ConfigError(
                f"{exc}; job.json does not keep the database password: pass --storage with the full URL, "
                "or set PGPASSWORD"
            ) from None
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            names = [s.study_name for s in storage.get_all_studies()]
            raise ConfigError(
                f"no tuning job {study_name!r} in {redact_url(url)}"
                + (f"; jobs there: {', '.join(names)}" if names else "")
            ) from None
        job = cls.__new__(cls)
        job.storage, job.storage_url, job.study, job.job_dir = storage, url, study, job_dir
        job.config = job._wait_for_stored_config()
        return job

    def _wait_for_stored_config(self, timeout: float = 60.0) -> TuningJobConfig:
        deadline = time.time() + timeout
        while True:
            attributes = JobAttributes(self.study.user_attrs)
            if attributes.initialized:
                return parse_job_config(attributes.config)
            if time.time() > deadline:
                raise ConfigError(
                    f"tuning job {self.study.study_name!r} exists in {redact_url(self.storage_url)} but was never "
                    "initialised (its creator stopped at once); delete the study or use another name"
                )
            time.sleep(0.2)

    def _initialise(self) -> None:
        from ipinsights.tune._warm_start import check_parent, fingerprint, import_parents

        config = self.config
        data = {k: fingerprint(v) for k, v in config.channels.items()}
        copied = 0
        if config.warm_start is not None:
            parents = []
            for name in config.warm_start.parents:
                parent = _open_parent(name, self.storage_url)
                parent_data = JobAttributes(parent.study.user_attrs).data
                check_parent(config, parent.config, parent.status(), data, parent_data)
                parents.append(parent)
            copied = import_parents(config, self.study, parents)
        study = self.study
        study.set_user_attr(JobKey.CONFIG, config.to_dict())
        study.set_user_attr(JobKey.DATA, data)
        study.set_user_attr(JobKey.CREATED, _now_iso())
        study.set_user_attr(JobKey.STATUS, JobStatus.IN_PROGRESS.value)
        study.set_user_attr(JobKey.WARM_START_TRIALS, copied)
        if config.strategy is Strategy.GRID:
            combos, skipped = grid(config.ranges, config.static_hyperparameters, seed=config.random_seed)
            study.set_user_attr(JobKey.GRID_SKIPPED, skipped)
            for i, params in enumerate(combos, start=1):
                study.enqueue_trial(params, user_attrs={TrialKey.SLOT: True, TrialKey.TRAINING_JOB_INDEX: i, TrialKey.ATTEMPT: 1})
        study.set_user_attr(JobKey.INITIALIZED, True)

    def _write_job_file(self) -> None:
        self.job_dir.mkdir(parents=True, exist_ok=True)
        document = {**self.config.to_dict(), "Storage": redact_url(self.storage_url)}
        write_private(self.job_dir / "job.json", json.dumps(document, indent=2) + "\n")

    # -- reading --------------------------------------------------------------------------------

    def trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def training_jobs(self, trials: list[FrozenTrial] | None = None) -> list[TrainingJob]:
        return training_jobs(self.config, self.trials() if trials is None else trials)

    def attrs(self) -> dict[str, Any]:
        return self.study.user_attrs

    def status(self) -> JobStatus:
        return JobAttributes(self.attrs()).status

    def workers(self) -> dict[str, WorkerInfo]:
        return workers(self.storage, self.study._study_id)

    def consumed_seconds(self) -> float:
        return consumed_seconds(self.workers())

    def request_stop(self) -> JobStatus:
        """``StopHyperParameterTuningJob``: running trials are stopped, no new ones start.

        Returns:
            The status afterwards (``Stopping``, or ``Stopped`` when no worker is running).
        """
        status = self.status()
        if status.ended:
            return status
        self.study.set_user_attr(JobKey.STOP_REQUESTED, _now_iso())
        if not any(w.alive() for w in self.workers().values()):
            for t in self.trials():
                if t.state is TrialState.RUNNING:
                    finish_trial(self.storage, t, TrialState.PRUNED, {TrialKey.STOPPED_BY: StoppedBy.STOP_REQUEST.value})
            self.set_status(JobStatus.STOPPED, StoppedBy.STOP_REQUEST)
            return JobStatus.STOPPED
        return JobStatus.STOPPING

    def set_status(self, status: JobStatus, reason: str | None = None) -> None:
        stored = JobAttributes(self.attrs()).stored_status
        if stored is not None and stored.ended:
            return
        if reason is not None:
            self.study.set_user_attr(JobKey.STATUS_REASON, str(reason))
        if status.ended:
            self.study.set_user_attr(JobKey.ENDED, _now_iso())
        self.study.set_user_attr(JobKey.STATUS, status.value)


def _open_parent(name: str, storage_url: str) -> TuningJob:
    if is_rdb(storage_url):
        try:
            return TuningJob.open(name, storage_url=storage_url)
        except ConfigError:
            pass
    try:
        return TuningJob.open(name)
    except ConfigError as exc:
        raise ConfigError(f"WarmStartConfig: parent job {name!r} not found ({exc})") from None


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if a != b:
        return f"{path}: stored {json.dumps(a)}, now {json.dumps(b)}"
    return None


def finish_trial(storage: Any, trial: FrozenTrial, state: TrialState, attrs: dict[str, Any]) -> bool:
    """Set attributes and a final state; False when the trial was already finished by another."""
    try:
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial._trial_id, key, value)
        values = None
        if state is TrialState.PRUNED and trial.intermediate_values:
            values = [trial.intermediate_values[max(trial.intermediate_values)]]
        return bool(storage.set_trial_state_values(trial._trial_id, state, values))
    except UpdateFinishedTrialError:
        return False


def training_job_name(job: str, index: int, number: int) -> str:
    tag = hashlib.sha256(f"{job}/{number}".encode()).hexdigest()[:8]
    return f"{job}-{index:03d}-{tag}"
