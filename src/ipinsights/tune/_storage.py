"""Where a tuning job lives: its folder, its Optuna storage, and the workers that run it.

- The job folder (``tuning-jobs/NAME`` by default, or ``--job-dir``) holds ``job.json``, the
  trials' model artifacts and logs (``trials/<TrainingJobName>/``), ``analytics.csv`` and the
  plots.
- The storage holds the search: by default an Optuna journal file in the job folder
  (``journal.log``, append-only); or any URL Optuna's ``RDBStorage`` takes, e.g.
  ``postgresql://user@host/db`` to run one job from many machines. The study is named after the
  job, so ``optuna-dashboard`` can open either.
- A journal record cut short (a full disk, a kill or a power cut in the middle of a write) is
  taken back: a write that fails truncates what it wrote, and a torn last record found when the
  journal is opened or appended to is moved to ``journal.log.torn-<time>`` and cut off, with one
  line on stderr. Without this the next record would be glued to the fragment and every later
  read would fail.
- A password in a storage URL is never written to disk or printed: ``job.json`` and
  ``describe.json`` (mode 0600) show ``postgresql://user:***@host/db``. Pass the URL with its
  password again with ``--storage``, or leave it out of the URL and let the driver take it from
  ``PGPASSWORD`` or ``~/.pgpass``.
- Every worker (a ``tune`` or ``tune worker`` process) registers itself in the study and
  writes a heartbeat; trials of a worker that is gone are detected and run again.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

from ipinsights.errors import ConfigError, DiskFullError
from ipinsights.tune._attributes import WORKER_KEY_PREFIX

__all__ = [
    "EXIT_DISK_FULL",
    "HEARTBEAT_SECONDS",
    "RDB_MODULES",
    "STALE_SECONDS",
    "DiskFullError",
    "WorkerInfo",
    "connect_url",
    "default_job_dir",
    "is_disk_full",
    "jobs_root",
    "open_storage",
    "redact_url",
    "repair_journal",
    "resolve_storage_url",
    "write_private",
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
            raise ConfigError(f"--storage {redact_url(url)}: cannot open the database ({reason})") from None
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(_journal_backend(path))


def _journal_backend(path: Path) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    class JournalFile(JournalFileBackend):
        """Optuna's journal file, with torn records taken back (see the module doc)."""

        def __init__(self, file_path: str, lock: JournalFileOpenLock) -> None:
            super().__init__(file_path, lock_obj=lock)
            self._repair_if_torn(on_open=True)

        def _repair_if_torn(self, *, on_open: bool = False) -> None:
            journal = Path(self._file_path)
            try:
                with open(journal, "rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    if size == 0:
                        return
                    f.seek(size - 1)
                    if f.read(1) == b"\n" and (not on_open or _intact_length(f, size) == size):
                        return
            except FileNotFoundError:
                return
            if not on_open:  # the caller holds the lock
                repair_journal(journal)
                return
            self._lock.acquire()
            try:
                repair_journal(journal)
            except OSError as exc:
                # Reading skips a torn tail; the next write cuts it off first, or fails.
                print(
                    f"ipinsights tune: {journal} ends in a torn record that cannot be moved aside now "
                    f"({exc.strerror}); it will be before the next write",
                    file=sys.stderr,
                )
            finally:
                self._lock.release()

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
            self._lock.acquire()
            try:
                self._repair_if_torn()
                fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND)
                try:
                    start = os.fstat(fd).st_size
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                        os.fsync(fd)
                    except BaseException:
                        # Take back a partial record, so that the journal stays readable.
                        os.ftruncate(fd, start)
                        raise
                finally:
                    os.close(fd)
            finally:
                self._lock.release()

    # The open-lock (O_EXCL) works on every file system, network ones included.
    return JournalFile(str(path), JournalFileOpenLock(str(path)))


def _postgres_driver() -> str:
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3; use psycopg2 when only it is installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2"
    return "postgresql"


_HIDDEN = "***"
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password, if any, shown as ``***``: what is stored and printed.

    Example:
        >>> redact_url("postgresql://tuner:s3cret@db:5432/tuning")
        'postgresql://tuner:***@db:5432/tuning'
    """
    url = _PASSWORD_PARAMETER.sub(rf"\g<1>{_HIDDEN}", url)
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:{_HIDDEN}@{host}" if ":" in credentials else url
    return url


def connect_url(recorded: str) -> str:
    """A recorded (redacted) URL made usable: without the password, which the driver then takes
    from ``PGPASSWORD`` or ``~/.pgpass``.

    Example:
        >>> connect_url("postgresql://tuner:***@db/tuning")
        'postgresql://tuner@db/tuning'
    """
    recorded = re.sub(rf"[?&]password={re.escape(_HIDDEN)}", "", recorded, flags=re.IGNORECASE)
    return recorded.replace(f":{_HIDDEN}@", "@", 1)


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically (temporary file, then rename), readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older temporary file keeps its mode through O_CREAT
        with os.fdopen(fd, "w", closefd=False) as out:
            out.write(text)
    finally:
        os.close(fd)
    tmp.replace(path)


# -- disk full and the journal ----------------------------------------------------------------

#: A trial process's exit status when it ran out of disk space (BSD's EX_TEMPFAIL: try again).
EXIT_DISK_FULL = 75
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
#: How disk-full errors read when a library wraps them (safetensors: "... (os error 28)").
_DISK_FULL_TEXT = re.compile(r"No space left on device|Disk quota exceeded|os error (28|122)\b")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from, is ENOSPC or EDQUOT."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS):
            return True
        if _DISK_FULL_TEXT.search(str(exc)[:1000]):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _last_line_start(f: Any, end: int) -> int:
    """Offset where the line ending at ``end`` starts (after the previous newline, or 0)."""
    position = end
    while position > 0:
        step = min(1 << 16, position)
        f.seek(position - step)
        block = f.read(step)
        cut = block.rfind(b"\n", 0, len(block) - (1 if position == end else 0))
        if cut >= 0:
            return position - step + cut + 1
        position -= step
    return 0


def _intact_length(f: Any, size: int) -> int:
    """Bytes of the journal up to its last complete, decodable record."""
    end = size
    while end > 0:
        start = _last_line_start(f, end)
        f.seek(start)
        line = f.read(end - start)
        if line.endswith(b"\n"):
            try:
                json.loads(line)
                return end
            except ValueError:
                pass
        end = start
    return 0


def repair_journal(path: Path, *, size_hint: int | None = None) -> Path | None:
    """Move a torn or undecodable tail of the journal to a backup file and cut it off.

    The caller holds the journal's lock (so no write is in progress). Returns the backup's path,
    or None when the journal ends in a whole record.

    Raises:
        OSError: The backup cannot be written (a full disk): the journal is left as it was.
    """
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END) if size_hint is None else size_hint
        keep = _intact_length(f, size)
        if keep == size:
            return None
        f.seek(keep)
        torn = f.read(size - keep)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
        backup = path.with_name(f"{path.name}.torn-{stamp}")
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, torn)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            backup.unlink(missing_ok=True)
            raise
        os.close(fd)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    print(
        f"ipinsights tune: {path} ended in a torn record ({size - keep} bytes, from a write cut short by a "
        f"full disk or a kill); moved them to {backup.name} and truncated the journal to {keep} bytes",
        file=sys.stderr,
        flush=True,
    )
    return backup


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
        return f"{WORKER_KEY_PREFIX}{self.id}"

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
        if k.startswith(WORKER_KEY_PREFIX) and isinstance(v, dict)
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
