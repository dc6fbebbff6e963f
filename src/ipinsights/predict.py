"""Batch scoring (``ipinsights predict``): a stream of rows in, a stream of predictions out.

The input is read in chunks of about :data:`CHUNK_BYTES` cut at line ends, each chunk parsed,
scored and formatted on its own, and the outputs written in input order: memory stays the same
whatever the input's size. CSV and JSON Lines input stream this way (``.gz`` too, by its
magic bytes); a JSON document (``{"instances": [...]}``) and the log formats are read whole and
scored in chunks of rows.

Given a pool of worker processes (:func:`start_workers`: each loads the model and scores with one
PyTorch thread) the chunks go to them, at most two per worker in flight, while this process reads
and writes; without one they are scored here. The output (:class:`AtomicOutput`) is written to
an unnamed ``O_TMPFILE`` where the file system has one (else a hidden temporary file) and moved
over ``--output`` only when complete: a crash, a kill or an error leaves the previous file as
it was and no partial file. A ``.gz`` output name compresses each chunk as a gzip member
(a multi-member gzip file, which gzip, zcat and Python read as one).

Options for acting on the output: ``with_input`` carries each row's entity and IP into it;
``flag_below`` adds ``flagged`` (the model's ``score`` when it has one, else ``dot_product``,
below the threshold), ``only_flagged`` keeps flagged rows and error records only.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np

from ipinsights.errors import ConfigError, DataError
from ipinsights.inference import MediaType, ParsedRequest, RequestError, format_predictions, parse_request

if TYPE_CHECKING:
    from ipinsights.estimator import IPInsights

__all__ = [
    "CHUNK_BYTES",
    "AtomicOutput",
    "PredictOptions",
    "PredictSummary",
    "predict_stream",
    "reference_threshold",
    "start_workers",
]

#: Input bytes per chunk: ~80,000 rows of ``user,a.b.c.d``; a chunk's temporaries (~30 MB) stay
#: put between chunks and its fixed costs (~100 NumPy and PyTorch calls) are ~1 % of its time.
CHUNK_BYTES = 2 << 20
#: Rows per chunk where the input is already parsed (a JSON document, a log).
CHUNK_ROWS = 65536
_GZIP_MAGIC = b"\x1f\x8b"
_JSON_HEAD, _JSON_TAIL = b'{"predictions": [', b"]}"


@dataclass(frozen=True)
class PredictOptions:
    """What each chunk's output holds (see the module docstring)."""

    accept: MediaType
    with_input: bool = False
    flag_below: float | None = None
    only_flagged: bool = False
    compress: bool = False


class ChunkResult(NamedTuple):
    """One chunk's output and counts."""

    data: bytes
    num_rows: int
    num_bad: int
    first_error: str | None
    num_flagged: int


@dataclass
class PredictSummary:
    """Counts of a whole run, for the closing line on stderr."""

    num_rows: int = 0
    num_bad: int = 0
    first_error: str | None = None
    num_flagged: int = 0


def score_chunk(model: IPInsights, request: ParsedRequest, options: PredictOptions) -> ChunkResult:
    """Score and format the rows of one chunk (row numbers already those of the whole input)."""
    n = len(request)
    if not n:
        return ChunkResult(b"", 0, 0, None, 0)
    scores = model.score_hashed(
        request.entity_hash, request.ip_hi, request.ip_lo, embeddings=options.accept.verbose
    )
    flagged = None
    if options.flag_below is not None:
        field = scores.score if scores.score is not None else scores.dot_product
        flagged = (field < options.flag_below) & request.ok
        if options.only_flagged:
            keep_rows = np.flatnonzero(flagged | ~request.ok)
            request = _rows(request, keep_rows)
            scores = type(scores)(*(None if value is None else value[keep_rows] for value in scores))  # type: ignore[arg-type]
            flagged = flagged[keep_rows]
    data = b""
    if len(request):
        data = format_predictions(
            scores.dot_product,
            scores.known_entity,
            options.accept,
            ok=request.ok,
            row=request.row,
            errors=request.errors,
            entity_embedding=scores.entity_embedding,
            ip_embedding=scores.ip_embedding,
            score=scores.score,
            entity_text=request.entity_text if options.with_input else None,
            ip_text=request.ip_text if options.with_input else None,
            flagged=flagged,
        )
        if options.accept.type == "application/json":
            data = data[len(_JSON_HEAD) : -len(_JSON_TAIL)]  # the records; the caller joins the chunks
    if options.compress and data:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    return ChunkResult(
        data,
        n,
        len(request.errors),
        request.first_error(),
        0 if flagged is None else int(flagged.sum()),
    )


def _rows(request: ParsedRequest, rows: np.ndarray) -> ParsedRequest:
    """The request's rows at the (sorted) indices ``rows``."""
    position = {int(i): k for k, i in enumerate(rows.tolist())}
    texts = [
        None if t is None else [t[i] for i in rows.tolist()] for t in (request.entity_text, request.ip_text)
    ]
    return ParsedRequest(
        request.entity_hash[rows],
        request.ip_hi[rows],
        request.ip_lo[rows],
        request.ok[rows],
        request.row[rows],
        {position[i]: reason for i, reason in request.errors.items() if i in position},
        texts[0],
        texts[1],
    )


# -- reading ----------------------------------------------------------------------------------


class _Input:
    """The input stream (a file or stdin), gunzipped when it starts with gzip's magic bytes."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            raw: BinaryIO = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"--input {source}: cannot read ({exc.strerror})") from None
        self.raw = raw
        self.size = None if source == "-" else os.fstat(raw.fileno()).st_size
        peek = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        self.stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if peek == _GZIP_MAGIC else raw

    def position(self) -> int:
        """Bytes of the file consumed so far (for the progress bar)."""
        with contextlib.suppress(OSError, ValueError):
            return self.raw.tell()
        return 0

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise ConfigError(
                f"--input {self.source}: looks like gzip but cannot be decompressed ({exc})"
            ) from None

    def close(self) -> None:
        if self.raw is not sys.stdin.buffer:
            self.raw.close()


def line_chunks(stream: _Input, chunk_bytes: int | None = None) -> Iterator[tuple[bytes, int]]:
    """``(chunk, lines before it)`` for consecutive chunks of whole lines (the last may lack its newline)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    carry, lines = b"", 0
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            if carry:
                yield carry, lines
            return
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if not cut:  # a line longer than a chunk: keep reading
            carry = block
            continue
        chunk, carry = block[:cut], block[cut:]
        yield chunk, lines
        lines += chunk.count(b"\n")


# -- writing ----------------------------------------------------------------------------------


class AtomicOutput:
    """A file that appears at ``path`` only when :meth:`commit` is called, whole.

    On Linux the data go to an unnamed file in the target folder (``O_TMPFILE``): a process
    killed at any point leaves nothing behind. Elsewhere (or where the file system refuses
    it) to ``.NAME.XXXX.tmp`` next to it, removed on error and by the next run after a kill. A
    device or pipe (``/dev/stdout``) is written directly, and ``-`` is stdout.
    """

    def __init__(self, path: str) -> None:
        self.where = f"--output {path}"
        self.path: Path | None = None if path == "-" else Path(path)
        self.temp_name: str | None = None
        self.unnamed = False
        try:
            if self.path is None:
                self.fh: BinaryIO = sys.stdout.buffer
                return
            if self.path.exists() and not self.path.is_file():
                self.fh = self.path.open("wb")
                self.path = None
                return
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):  # left by a killed earlier run
                stale.unlink(missing_ok=True)
            fd = self._unnamed(self.path.parent)
            if fd is None:
                import tempfile

                fd, self.temp_name = tempfile.mkstemp(
                    dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
                )
            else:
                self.unnamed = True
            self.fh = os.fdopen(fd, "wb")
        except OSError as exc:
            raise ConfigError(f"{self.where}: cannot write ({exc.strerror or exc})") from None

    @staticmethod
    def _unnamed(folder: Path) -> int | None:
        flag = getattr(os, "O_TMPFILE", 0)
        if not flag:
            return None
        try:
            return os.open(folder, flag | os.O_WRONLY, 0o600)
        except OSError:
            return None

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None

    def commit(self) -> None:
        """Flush, sync and move the file into place."""
        try:
            self.fh.flush()
            if self.path is None:
                return
            os.fsync(self.fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(self.fh.fileno(), 0o666 & ~umask)  # as a plain open() would create it
            if self.unnamed:
                self.temp_name = os.path.join(
                    self.path.parent, f".{self.path.name}.{os.urandom(4).hex()}.tmp"
                )
                # linkat(AT_SYMLINK_FOLLOW) of the open file gives it a name; os.link without
                # dir_fd would call link(), which refuses /proc links across file systems.
                proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.link(str(self.fh.fileno()), self.temp_name, src_dir_fd=proc, follow_symlinks=True)
                finally:
                    os.close(proc)
            self.fh.close()
            assert self.temp_name is not None
            os.replace(self.temp_name, self.path)
            self.temp_name = None
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> ConfigError:
        unchanged = "; the previous file is unchanged" if self.path is not None else ""
        return ConfigError(f"{self.where}: cannot write ({exc.strerror or exc}){unchanged}")

    def discard(self) -> None:
        """Drop what was written (the previous file stays)."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
        if self.temp_name is not None:
            Path(self.temp_name).unlink(missing_ok=True)
            self.temp_name = None


# -- the pipeline -----------------------------------------------------------------------------

_worker_state: dict[str, Any] = {}


def _worker_init(model_dir: str, device: str) -> None:
    # An initializer that raises makes multiprocessing start a new worker, forever: the error is
    # kept and raised by the worker's first task instead, in the main process.
    try:
        import torch

        from ipinsights.estimator import IPInsights

        torch.set_num_threads(1)
        _worker_state["model"] = IPInsights.load(model_dir, device=device)
    except Exception as exc:
        _worker_state["error"] = exc


def _worker_chunk(chunk: bytes, first_line: int, content_type: str, options: PredictOptions) -> ChunkResult:
    if "error" in _worker_state:
        raise _worker_state["error"]
    return _parse_and_score(_worker_state["model"], chunk, first_line, content_type, options)


def start_workers(model_dir: str, device: str, workers: int) -> Any:
    """A pool of ``workers`` processes that load the model: start it before the main process
    loads its own copy, so that their start-up (importing PyTorch, loading, folding) overlaps."""
    import multiprocessing

    # spawn: a fork of a process that has used PyTorch's OpenMP threads can hang in the child.
    return multiprocessing.get_context("spawn").Pool(workers, _worker_init, (model_dir, device))


def _parse_and_score(
    model: IPInsights, chunk: bytes, first_line: int, content_type: str, options: PredictOptions
) -> ChunkResult:
    if not chunk.strip():
        return ChunkResult(b"", 0, 0, None, 0)
    try:
        request = parse_request(chunk, content_type, keep_text=options.with_input)
    except RequestError:  # only a blank chunk, checked above
        return ChunkResult(b"", 0, 0, None, 0)
    request.row = request.row + first_line
    return score_chunk(model, request, options)


def _chunks_in_order(
    model: IPInsights | None,
    chunks: Iterator[tuple[bytes, int]],
    *,
    content_type: str,
    options: PredictOptions,
    pool: Any,
) -> Iterator[ChunkResult]:
    """Each chunk's result, in input order; from the worker ``pool`` when there is one."""
    if pool is None:
        assert model is not None
        for chunk, first_line in chunks:
            yield _parse_and_score(model, chunk, first_line, content_type, options)
        return
    workers = pool._processes
    try:
        pending: collections.deque[Any] = collections.deque()
        for chunk, first_line in chunks:
            pending.append(pool.apply_async(_worker_chunk, (chunk, first_line, content_type, options)))
            if len(pending) >= 2 * workers:  # bounded read-ahead: memory stays flat
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def predict_stream(
    model: IPInsights | None,
    source: str,
    output: AtomicOutput,
    *,
    content_type: str,
    options: PredictOptions,
    pool: Any = None,
    parsed: ParsedRequest | None = None,
    progress: bool = False,
) -> PredictSummary:
    """Score ``source`` (or the already ``parsed`` rows) into ``output``, chunk by chunk, in order.

    ``model`` scores in this process; with a ``pool`` (:func:`start_workers`, closed here) the
    worker processes score the chunks of CSV and JSON Lines input and ``model`` may be None.

    Returns:
        The counts of the run; the output is complete but not yet committed.

    Raises:
        ConfigError: The input cannot be read.
        RequestError: The input has no rows.
    """
    summary = PredictSummary()
    stream: _Input | None = None
    if parsed is None and content_type == "application/json":
        stream = _Input(source)
        parsed = parse_request(stream.read(), content_type, keep_text=options.with_input)
        stream.close()
        stream = None
    if parsed is not None:
        assert model is not None, "already parsed rows are scored in this process"
        results: Iterator[ChunkResult] = (
            score_chunk(model, parsed.take(slice(start, start + CHUNK_ROWS)), options)
            for start in range(0, len(parsed), CHUNK_ROWS)
        )
    else:
        stream = _Input(source)
        results = _chunks_in_order(
            model,
            line_chunks(stream),
            content_type=content_type,
            options=options,
            pool=pool,
        )
    json_output = options.accept.type == "application/json"
    compress = options.compress
    bar = _Progress(stream) if progress and stream is not None and stream.size else None
    written_records = False
    try:
        if json_output:
            output.write(_maybe_gzip(_JSON_HEAD, compress))
        for result in results:
            if result.data:
                if json_output and written_records:
                    output.write(_maybe_gzip(b", ", compress))
                output.write(result.data)
                written_records = True
            summary.num_rows += result.num_rows
            summary.num_bad += result.num_bad
            summary.num_flagged += result.num_flagged
            if summary.first_error is None:
                summary.first_error = result.first_error
            if bar is not None:
                bar.update(summary.num_rows)
        if not summary.num_rows:
            raise RequestError("the request body is empty; send at least one entity,ip row")
        if json_output:
            output.write(_maybe_gzip(_JSON_TAIL, compress))
        elif not written_records:  # every row filtered out: an empty answer, as for no rows
            output.write(_maybe_gzip(b"\n", compress))
    finally:
        if bar is not None:
            bar.close()
        if stream is not None:
            stream.close()
    return summary


def _maybe_gzip(data: bytes, compress: bool) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0) if compress else data


class _Progress:
    """A rich progress bar over the input file's bytes, on stderr."""

    def __init__(self, stream: _Input) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.stream = stream
        self.progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%  {task.fields[rows]} rows"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self.task = self.progress.add_task("predict", total=stream.size, rows="0")
        self.progress.start()

    def update(self, rows: int) -> None:
        self.progress.update(self.task, completed=self.stream.position(), rows=f"{rows:,}")

    def close(self) -> None:
        self.progress.stop()


def reference_threshold(model: IPInsights, source: str, budget: float) -> tuple[float, str, int]:
    """The threshold that flags at most ``budget`` of the rows of a reference file of normal logins.

    Flagging is "field < threshold" on the model's ``score`` when it has one, else on
    ``dot_product``; the threshold is the lowest reference value with at most ``budget`` of the
    reference below it.

    Returns:
        ``(threshold, field name, number of reference rows)``.

    Raises:
        ConfigError: ``budget`` is not in (0, 1).
        DataError: The reference cannot be read or has no good rows.
    """
    from ipinsights.data import read_pairs

    if not 0 < budget < 1:
        raise ConfigError(f"--flag-fpr must be a fraction in (0, 1), e.g. 0.01 for 1 %, got {budget:g}")
    pairs = read_pairs(source, warn=io.StringIO())
    if not len(pairs):
        raise DataError(f"--reference {source}: no rows to measure the false-positive budget on")
    scores = model.score_hashed(pairs.entity_hash, pairs.ip_hi, pairs.ip_lo)
    field_name = "score" if scores.score is not None else "dot_product"
    values = np.sort(
        np.asarray(scores.score if scores.score is not None else scores.dot_product, dtype=np.float64)
    )
    values = values[np.isfinite(values)]
    if not len(values):
        raise DataError(f"--reference {source}: no finite scores to measure the false-positive budget on")
    return float(values[int(budget * len(values))]), field_name, len(values)
