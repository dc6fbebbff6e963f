"""Where a tuning job lives: its folder, its Optuna storage, and the workers that run it.

- The job folder (``tuning-jobs/NAME`` by default, or ``--job-dir``) holds ``job.json``, the
  trials' model artifacts and logs (``trials/<TrainingJobName>/``), ``analytics.csv`` and the
  plots.
- The storage holds the search: by default an Optuna journal file in the job folder
  (``journal.log``, append-only and safe when a process is killed mid-write); or any URL Optuna's
  ``RDBStorage`` takes, e.g. ``postgresql://user@host/db`` to run one job from many machines.
  The study is named after the job, so ``optuna-dashboard`` can open either.
- Every worker (a ``tune`` or ``tune worker`` process) registers itself in the study and
  writes a heartbeat; trials of a worker that is gone are detected and run again.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

from ipinsights.errors import ConfigError

__all__ = [
    "HEARTBEAT_SECONDS",
    "RDB_MODULES",
    "STALE_SECONDS",
    "WorkerInfo",
    "default_job_dir",
    "jobs_root",
    "open_storage",
    "resolve_storage_url",
]

#: How often a worker records that it is alive, and when a silent one on another host is gone.
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
JOURNAL_FILE = "journal.log"
_RDB_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite")
#: What a database storage imports on first use (preloaded once per worker, not per trial).
RDB_MODULES = (
    "sqlalchemy",
    "psycopg2",
    "sqlalchemy.dialects.postgresql.psycopg2",
    "optuna.storages._rdb.storage",
)


def jobs_root() -> Path:
    """``$IPINSIGHTS_TUNING_DIR`` or ``./tuning-jobs``: where jobs live by name."""
    return Path(os.environ.get("IPINSIGHTS_TUNING_DIR", "tuning-jobs"))


def default_job_dir(name: str) -> Path:
    return jobs_root() / name


def resolve_storage_url(storage: str | None, job_dir: Path) -> str:
    """The storage URL of a job: the given one, or the journal file in its folder."""
    if storage:
        return storage
    return str((job_dir / JOURNAL_FILE).resolve())


def is_rdb(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in _RDB_SCHEMES


def open_storage(url: str, *, existing: bool = False) -> BaseStorage:
    """An Optuna storage for ``url``: a database URL, or the path of a journal file.

    ``existing=True`` (trial processes) skips the database's schema creation and version check,
    which the worker already did: a second per trial saved.

    Raises:
        ConfigError: The database cannot be reached (with the driver's reason).
    """
    if is_rdb(url):
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = _postgres_driver() + url[len("postgresql") :]
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                skip_compatibility_check=existing,
                skip_table_creation=existing,
            )
        except Exception as exc:  # sqlalchemy's errors carry the driver's message
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"--storage {_redact(url)}: cannot open the database ({reason})") from None
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The open-lock (O_EXCL) works on every file system, network ones included.
    return optuna.storages.JournalStorage(
        JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    )


def _postgres_driver() -> str:
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3; use psycopg2 when only it is installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2"
    return "postgresql"


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


# -- workers ----------------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a live process from a reused pid)."""
    fields = _stat(pid)
    return fields[19] if fields else None


def pid_alive(pid: int, start_time: str | None) -> bool:
    """Whether ``pid`` runs and is the process that started at ``start_time`` (not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc").is_dir():
        return True
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return start_time is None or fields[19] == start_time


@dataclass
class WorkerInfo:
    """A worker's registration, stored as a study system attribute ``ipinsights:worker:<id>``."""

    id: str
    host: str
    boot_id: str
    pid: int
    pid_start: str | None
    started: float
    heartbeat: float
    stopped: float | None = None

    @classmethod
    def this_process(cls) -> WorkerInfo:
        now = time.time()
        pid = os.getpid()
        return cls(
            uuid.uuid4().hex[:12], socket.gethostname(), _boot_id(), pid, process_start_time(pid), now, now
        )

    @property
    def key(self) -> str:
        return f"ipinsights:worker:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> WorkerInfo:
        return cls(**{k: value.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    def alive(self, now: float | None = None) -> bool:
        """Same machine: its process still runs. Another machine: a recent heartbeat."""
        if self.stopped is not None:
            return False
        if self.host == socket.gethostname() and self.boot_id == _boot_id():
            return pid_alive(self.pid, self.pid_start)
        return (now if now is not None else time.time()) - self.heartbeat < STALE_SECONDS


def workers(storage: BaseStorage, study_id: int) -> dict[str, WorkerInfo]:
    attrs = storage.get_study_system_attrs(study_id)
    return {
        k.rsplit(":", 1)[1]: WorkerInfo.from_dict(v)
        for k, v in attrs.items()
        if k.startswith("ipinsights:worker:") and isinstance(v, dict)
    }


def consumed_seconds(all_workers: dict[str, WorkerInfo], now: float | None = None) -> float:
    """Wall time during which at least one worker ran the job (over all sessions)."""
    now = time.time() if now is None else now
    intervals = sorted(
        (w.started, w.stopped or (now if w.alive(now) else w.heartbeat)) for w in all_workers.values()
    )
    total, end = 0.0, -1.0
    for start, stop in intervals:
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total
