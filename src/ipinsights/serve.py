"""The HTTP endpoint: SageMaker's hosting protocol on FastAPI + uvicorn.

* ``GET /ping`` answers 200 once the model is loaded (the model is loaded before the port opens).
* ``POST /invocations`` scores ``entity,ip`` pairs. ``Content-Type``: ``text/csv``,
  ``application/json`` or ``application/jsonlines``; ``Accept``: ``application/json`` (default) or
  ``application/jsonlines`` or ``text/csv`` (the rows ``ipinsights predict`` writes), ``verbose=True``
  (any case) adds the embeddings to the JSON forms. The formats are
  :mod:`ipinsights.inference`'s, shared with ``ipinsights predict``.
* ``GET /metrics``: Prometheus text counters of this worker process.
* ``GET /execution-parameters``: what SageMaker batch transform asks a container for.

Bad input never gives a 500: 400 (unreadable body or a bad row, named by its row number), 406
(Accept), 408 (the body did not arrive in time), 413 (payload limit, from ``Content-Length`` or
while the body streams in) and 415 (Content-Type); every error body is
``{"error": message, "status": code}``. A 500 means a bug: its traceback is logged, the worker
keeps serving. A client that goes away before its body is complete is logged and counted as 499.

Slow clients are bounded: a request's headers must be complete within ``header_timeout`` seconds
of the connection opening (or of the previous response), its body within ``body_timeout`` of the
headers, an idle keep-alive connection is closed after 5 s, and past ``max_connections`` open
connections a worker answers 503.

Container mode: started as ``ipinsights serve`` without ``--model-dir`` (how SageMaker starts
an image whose entry point is ``ipinsights``: ``docker run IMAGE serve``) the model comes from
``/opt/ml/model`` and the server binds ``0.0.0.0``; the port is ``SAGEMAKER_BIND_TO_PORT`` when
set, else 8080, and ``SAGEMAKER_MODEL_SERVER_WORKERS`` sets the default number of workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ipinsights.errors import BodyTimeoutError, ConfigError, MissingExtraError, PayloadTooLargeError
from ipinsights.inference import (
    MediaType,
    NotAcceptableError,
    ParsedRequest,
    RequestError,
    UnsupportedMediaTypeError,
    format_predictions,
    parse_media_type,
    parse_request,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ipinsights.estimator import IPInsights

__all__ = [
    "SAGEMAKER_MODEL_DIR",
    "BodyTimeoutError",
    "PayloadTooLargeError",
    "add_serve_parser",
    "create_app",
    "run_server",
]

#: Where SageMaker puts the model inside a serving container.
SAGEMAKER_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT = 8080
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time endpoints' request limit
# A slow client holds a connection (a file descriptor, a parser, a buffer) for at most these times.
# 30 s for a body asks 200 KB/s of a client sending the 6 MB maximum; SageMaker allows 60 s for
# the whole invocation.
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000  # per worker; uvicorn answers 503 past it
KEEP_ALIVE_TIMEOUT = 5  # uvicorn's default, stated here because the docs promise it

#: Response media types of /invocations: SageMaker's JSON forms and, as ``ipinsights predict``
#: writes it, CSV (``dot_product,known_entity,error`` rows).
RESPONSE_TYPES = ("application/json", "application/jsonlines", "text/csv")
REQUEST_TYPES = ("text/csv", "application/json", "application/jsonlines")

# How `run_server` hands its settings to worker processes (uvicorn starts them with `spawn`).
_ENV_SETTINGS = "IPINSIGHTS_SERVE_SETTINGS"

# Bodies up to this size are batched with the other small requests that arrive together and
# scored on the event loop: for them a hop to a worker thread costs more than the scoring itself
# (measured: benchmarks/serve_bench.py); larger ones go alone to a thread, so that /ping and small
# requests keep being answered meanwhile.
_INLINE_BODY_BYTES = 16 * 1024

log = logging.getLogger("ipinsights.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


#: Logged and counted for a client that closed its connection before its body was complete
#: (nginx's code: no response can reach the client, and it is not the server's fault).
CLIENT_CLOSED_REQUEST = 499


_STATUS = {
    RequestError: 400,
    NotAcceptableError: 406,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
}


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}).encode()


# -- scoring ----------------------------------------------------------------------------------


class _Scorer:
    """Turns request bodies into response bodies with one loaded model (thread-safe)."""

    def __init__(self, model: IPInsights, *, row_errors: bool) -> None:
        self.model = model
        self.row_errors = row_errors

    def answer(self, body: bytes, content_type: str, accept: MediaType) -> tuple[bytes, int]:
        """Response body and number of rows for a request body (types already negotiated).

        Raises:
            RequestError: The body cannot be read, or (without ``row_errors``) a row is bad.
        """
        answer = self.answer_many([(body, content_type, accept)])[0]
        if isinstance(answer, RequestError):
            raise answer
        return answer

    def answer_many(
        self, requests: Sequence[tuple[bytes, str, MediaType]]
    ) -> list[tuple[bytes, int] | RequestError]:
        """:meth:`answer` for several requests at once: one parse of their CSV, one forward pass.

        The fixed cost of a call (some 40 NumPy and PyTorch operations) is paid once for all of
        them, which is what lets concurrent single-pair requests through at a high rate.
        """
        parsed = self._parse_many(requests)
        good = [(i, p) for i, p in enumerate(parsed) if isinstance(p, ParsedRequest)]
        scores = self.model.score_hashed(
            np.concatenate([p.entity_hash for _, p in good]) if good else np.zeros(0, np.uint64),
            np.concatenate([p.ip_hi for _, p in good]) if good else np.zeros(0, np.int64),
            np.concatenate([p.ip_lo for _, p in good]) if good else np.zeros(0, np.int64),
            embeddings=any(requests[i][2].verbose for i, _ in good),
        )
        answers: list[tuple[bytes, int] | RequestError] = [
            p if isinstance(p, RequestError) else (b"", 0) for p in parsed
        ]
        start = 0
        for i, request in good:
            rows = slice(start, start + len(request))
            start = rows.stop
            data = format_predictions(
                scores.dot_product[rows],
                scores.known_entity[rows],
                requests[i][2],
                ok=request.ok,
                row=request.row,
                errors=request.errors,
                entity_embedding=None if scores.entity_embedding is None else scores.entity_embedding[rows],
                ip_embedding=None if scores.ip_embedding is None else scores.ip_embedding[rows],
                score=None if scores.score is None else scores.score[rows],
            )
            answers[i] = (data, len(request))
        return answers

    def _parse_many(
        self, requests: Sequence[tuple[bytes, str, MediaType]]
    ) -> list[ParsedRequest | RequestError]:
        parsed: list[ParsedRequest | RequestError] = []
        csv = []  # indices of the CSV requests with rows, parsed together below
        for i, (body, content_type, _) in enumerate(requests):
            if content_type == "text/csv" and body.strip() and len(requests) > 1:
                csv.append(i)
                parsed.append(RequestError("not parsed"))
                continue
            try:
                parsed.append(parse_request(body, content_type))
            except RequestError as exc:
                parsed.append(exc)
        if csv:
            bodies = [
                requests[i][0] if requests[i][0].endswith(b"\n") else requests[i][0] + b"\n" for i in csv
            ]
            whole = parse_request(b"".join(bodies), "text/csv")
            # The rows of each body by line number: body k has lines first_line[k] + 1 ... on.
            first_line = np.cumsum([0] + [b.count(b"\n") for b in bodies[:-1]])
            bounds = [*np.searchsorted(whole.row, first_line, side="right").tolist(), len(whole)]
            for k, i in enumerate(csv):
                a, b = bounds[k], bounds[k + 1]
                parsed[i] = ParsedRequest(
                    whole.entity_hash[a:b],
                    whole.ip_hi[a:b],
                    whole.ip_lo[a:b],
                    whole.ok[a:b],
                    whole.row[a:b] - first_line[k],
                    {j - a: reason for j, reason in whole.errors.items() if a <= j < b},
                )
        if not self.row_errors:
            for i, request in enumerate(parsed):
                if isinstance(request, ParsedRequest) and request.errors:
                    num_bad = len(request.errors)
                    more = f" ({num_bad} bad rows in all)" if num_bad > 1 else ""
                    parsed[i] = RequestError(
                        f"{request.first_error()}{more}; nothing was scored. Fix the row, or start the "
                        "server with --row-errors to score the good rows and get an error record for each bad one"
                    )
        return parsed


class _Batcher:
    """Collects the small requests that arrive together and scores them in one call.

    A request waits for nothing: the batch is flushed as soon as the event loop has taken in
    what had already arrived (``call_soon``), so a lone request is scored at once and requests
    arriving while a batch is scored form the next one.
    """

    def __init__(self, scorer: _Scorer, *, max_requests: int = 64, max_bytes: int = 64 * 1024) -> None:
        self.scorer = scorer
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.pending: list[tuple[tuple[bytes, str, MediaType], asyncio.Future[tuple[bytes, int]]]] = []
        self.flush_scheduled = False

    async def answer(self, body: bytes, content_type: str, accept: MediaType) -> tuple[bytes, int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bytes, int]] = loop.create_future()
        self.pending.append(((body, content_type, accept), future))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self.flush_scheduled = False
        while self.pending:
            # At most max_requests requests and max_bytes of body a batch, so that one batch holds
            # the event loop for a few milliseconds at most.
            size, end = 0, 0
            while end < min(len(self.pending), self.max_requests) and (end == 0 or size <= self.max_bytes):
                size += len(self.pending[end][0][0])
                end += 1
            batch, self.pending = self.pending[:end], self.pending[end:]
            try:
                answers = self.scorer.answer_many([request for request, _ in batch])
            except Exception as exc:  # a bug: every request of the batch gets the 500
                answers = [exc] * len(batch)  # type: ignore[list-item]
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)


# -- metrics and request log ------------------------------------------------------------------


class _Metrics:
    """Counters of one worker process, rendered in the Prometheus text format."""

    _PATHS = frozenset({"/invocations", "/ping", "/metrics", "/execution-parameters"})

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.rows_scored = 0
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, rows: int, seconds: float) -> None:
        with self.lock:
            self.requests[(path if path in self._PATHS else "other", status)] += 1
            if status == 200:
                self.rows_scored += rows
            self.latency_sum += seconds

    def render(self) -> bytes:
        with self.lock:
            lines = [
                "# HELP ipinsights_requests_total HTTP requests answered by this worker, by path and status.",
                "# TYPE ipinsights_requests_total counter",
            ]
            for (path, status), count in sorted(self.requests.items()):
                lines.append(f'ipinsights_requests_total{{path="{path}",status="{status}"}} {count}')
            lines += [
                "# HELP ipinsights_rows_scored_total Rows in successful /invocations requests.",
                "# TYPE ipinsights_rows_scored_total counter",
                f"ipinsights_rows_scored_total {self.rows_scored}",
                "# HELP ipinsights_request_latency_seconds Time from request to the end of the response.",
                "# TYPE ipinsights_request_latency_seconds summary",
                f"ipinsights_request_latency_seconds_sum {self.latency_sum:.6f}",
                f"ipinsights_request_latency_seconds_count {sum(self.requests.values())}",
            ]
        return ("\n".join(lines) + "\n").encode()


class _RequestLog:
    """ASGI middleware: one log line and the counters per request; a JSON 500 for a bug."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], metrics: _Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            log.exception(
                "%s %s: internal error (a bug; please report it with this traceback)",
                scope["method"],
                scope["path"],
            )
            if not status:
                status = 500
                body = _error_body(500, "internal error; the traceback is in the server log")
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body)),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            seconds = time.perf_counter() - started
            rows = scope.get("ipinsights.rows", 0)
            self.metrics.observe(scope["path"], status, rows, seconds)
            log.info("%s %s %d rows=%d %.2fms", scope["method"], scope["path"], status, rows, seconds * 1e3)


# -- the app ----------------------------------------------------------------------------------


def create_app(
    model_dir: str | os.PathLike[str],
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    row_errors: bool = False,
    device: str = "cpu",
    torch_threads: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """The FastAPI application serving one model (loaded here, before the app is returned).

    Args:
        model_dir: A model directory written by ``ipinsights train`` or :meth:`IPInsights.save`.
        max_payload_bytes: Larger request bodies get 413.
        row_errors: Score the good rows of a request with bad rows and answer an error record
            for each bad one (default: answer 400 naming the first bad row).
        device: ``cpu``, ``cuda`` or ``auto``.
        torch_threads: Intra-op threads for scoring (default: PyTorch's).
        body_timeout: Seconds a request body may take to arrive once its headers are in; a
            slower one gets 408 and the connection is closed.

    Returns:
        The app, for uvicorn or any ASGI server.

    Raises:
        ArtifactError: The model directory is missing, damaged or incompatible.
        ConfigError: ``max_payload_bytes`` or ``body_timeout`` is not positive.

    Example:
        >>> app = create_app("model/")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, port=8080)  # doctest: +SKIP
    """
    import anyio.to_thread
    import torch
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from ipinsights.estimator import IPInsights

    if not isinstance(max_payload_bytes, int) or max_payload_bytes < 1:
        raise ConfigError(f"max_payload_bytes must be a positive integer, got {max_payload_bytes!r}")
    _check_timeout("body_timeout", body_timeout)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    scorer = _Scorer(IPInsights.load(model_dir, device=device), row_errors=row_errors)
    batcher = _Batcher(scorer)
    metrics = _Metrics()
    app = FastAPI(
        title="ipinsights",
        description="IP Insights scoring with SageMaker's hosting protocol",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.model = scorer.model

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response(
            _error_body(status, message), status_code=status, media_type="application/json", headers=headers
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = int(getattr(exc, "status_code", 500))
        if status == 404:
            message = f"no such path {request.url.path!r}; use POST /invocations or GET /ping"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(getattr(exc, "detail", exc))
        return error(status, message)

    app.add_exception_handler(HTTPException, http_error)

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_payload_bytes:
            raise PayloadTooLargeError(_too_large(int(length), max_payload_bytes))
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_payload_bytes:
                    raise PayloadTooLargeError(_too_large(size, max_payload_bytes, at_least=True))
                chunks.append(chunk)

        # One deadline for the whole body, not one per read: a client trickling a byte now and
        # then would otherwise hold the connection for as long as it likes.
        try:
            await asyncio.wait_for(read(), body_timeout)
        except TimeoutError:
            expected = f" of {length}" if length is not None else ""
            raise BodyTimeoutError(
                f"the request body did not arrive within {body_timeout:g} s ({size}{expected} bytes "
                "received); send it faster, or start the server with a larger --body-timeout"
            ) from None
        return b"".join(chunks)

    # Plain Starlette routes: the endpoints read the raw request, FastAPI's parameter
    # validation would only add work to every call.
    async def ping(request: Request) -> Response:
        return Response(b"", status_code=200)

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def execution_parameters(request: Request) -> Response:
        return Response(
            json.dumps(
                {
                    "MaxConcurrentTransforms": 1,
                    "BatchStrategy": "MULTI_RECORD",
                    "MaxPayloadInMB": max(1, max_payload_bytes // (1024 * 1024)),
                }
            ),
            media_type="application/json",
        )

    async def invocations(request: Request) -> Response:
        try:
            content_type = request.headers.get("content-type")
            if content_type is None or not content_type.strip():
                raise UnsupportedMediaTypeError(
                    f"the request has no Content-Type; use one of: {', '.join(REQUEST_TYPES)}"
                )
            request_type = parse_media_type(
                content_type, allowed=REQUEST_TYPES, default="text/csv", what="Content-Type"
            )
            accept = parse_media_type(
                request.headers.get("accept"),
                allowed=RESPONSE_TYPES,
                default="application/json",
                what="Accept",
            )
            body = await read_body(request)
            if len(body) <= _INLINE_BODY_BYTES:
                data, rows = await batcher.answer(body, request_type.type, accept)
            else:
                data, rows = await anyio.to_thread.run_sync(scorer.answer, body, request_type.type, accept)
        except BodyTimeoutError as exc:
            # The rest of the body may still come; closing is the only way to be rid of it.
            return error(408, str(exc), headers={"connection": "close"})
        except ClientDisconnect:
            # Nobody is left to answer; the response only gives the request log its status.
            return error(
                CLIENT_CLOSED_REQUEST, "the client closed the connection before the body was complete"
            )
        except (RequestError, NotAcceptableError, PayloadTooLargeError, UnsupportedMediaTypeError) as exc:
            return error(_STATUS[type(exc)], str(exc))
        request.scope["ipinsights.rows"] = rows
        return Response(data, media_type=accept.type)

    app.add_route("/ping", ping, methods=["GET"])
    app.add_route("/invocations", invocations, methods=["POST"])
    app.add_route("/metrics", metrics_text, methods=["GET"])
    app.add_route("/execution-parameters", execution_parameters, methods=["GET"])
    return _wrap(app, metrics)


def _wrap(app: FastAPI, metrics: _Metrics) -> FastAPI:
    app.add_middleware(_RequestLog, metrics=metrics)  # type: ignore[arg-type]
    return app


def _check_timeout(name: str, seconds: float) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
        raise ConfigError(f"{name} must be a positive number of seconds, got {name}={seconds!r}")


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    got = f"at least {size}" if at_least else str(size)
    return (
        f"the request body is {got} bytes, above the {limit}-byte limit ({limit / 2**20:.3g} MB); "
        "split it into smaller requests or start the server with a larger --max-payload-mb"
    )


# -- running ----------------------------------------------------------------------------------


def _configure_logging() -> None:
    """One line per request on stderr, with the worker's pid (idempotent)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _http_protocol(*args: Any, header_timeout: float, **kwargs: Any) -> asyncio.Protocol:
    """uvicorn's HTTP protocol with a deadline for request headers (passed as ``Config(http=...)``).

    A :func:`functools.partial` of this module-level function is what the config holds, so that
    it pickles into ``--workers`` processes (a class made at run time would not).
    """
    return _header_deadline_protocol()(*args, header_timeout=header_timeout, **kwargs)


@functools.cache
def _header_deadline_protocol() -> Callable[..., asyncio.Protocol]:
    """uvicorn's own protocol (httptools when installed, else h11) plus a header deadline.

    uvicorn closes a connection that is idle after a response (``timeout_keep_alive``), but
    not one that is new, nor one that has sent part of a request line or headers: 1,000 such
    connections, each adding a header line every 5 s, were all held open. Here a timer runs from
    the moment the connection opens, or the previous response ends, until a request's headers are
    complete (uvicorn then starts a new request cycle); when it fires the connection is closed,
    with a 408 if the client had sent anything.
    """
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timeout = header_timeout
            self.header_timer: asyncio.TimerHandle | None = None
            self.header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if self.header_timer is not None:
                self.header_bytes += len(data)
            super().data_received(data)
            if self.cycle is not cycle:  # a request's headers are in
                self._cancel_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Unless a pipelined request already started, the next request's headers are due.
            if not self.transport.is_closing() and self.cycle.response_complete:
                self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._cancel_header_timer()
            self.header_bytes = 0
            self.header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if self.transport.is_closing():
                return
            if self.header_bytes:
                body = _error_body(
                    408, f"the request headers were not complete within {self.header_timeout:g} s"
                )
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
                )
                client = f"{self.client[0]}:{self.client[1]} " if self.client else ""
                log.info(
                    "%s408 request headers not complete within %g s (%d bytes); connection closed",
                    client,
                    self.header_timeout,
                    self.header_bytes,
                )
            self.transport.close()

    return HeaderDeadlineProtocol


def _app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes: settings come from ``$IPINSIGHTS_SERVE_SETTINGS``."""
    _configure_logging()
    settings = json.loads(os.environ[_ENV_SETTINGS])
    return create_app(settings.pop("model_dir"), **settings)


def run_server(
    model_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    workers: int = 1,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    row_errors: bool = False,
    device: str = "cpu",
    torch_threads: int | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve a model over HTTP until interrupted (SIGINT or SIGTERM).

    With ``workers > 1`` each worker process loads the model and answers on the same port;
    counters (``/metrics``) are per worker.

    Args:
        model_dir: The model directory.
        host, port: Where to listen.
        workers: Worker processes.
        max_payload_bytes, row_errors, device: See :func:`create_app`.
        torch_threads: Intra-op threads per worker (default 1: the requests of a worker are
            scored one batch at a time, and more threads per worker only contend with the
            other workers and the event loop; use more workers for more cores).
        header_timeout: Seconds from a connection's opening (or its previous response) until a
            request's headers must be complete; the connection is closed after (408).
        body_timeout: See :func:`create_app`.
        max_connections: Open connections per worker past which requests get 503 (uvicorn's
            ``limit_concurrency``).

    Raises:
        ArtifactError: The model cannot be loaded (checked before the port opens).
        ConfigError: Invalid port, workers, payload limit, timeouts or connection limit.
    """
    import uvicorn

    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in [0, 65535], got port={port}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got workers={workers}")
    _check_timeout("header_timeout", header_timeout)
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
        raise ConfigError(
            f"max_connections must be a positive integer, got max_connections={max_connections!r}"
        )
    if torch_threads is None:
        torch_threads = 1
    _configure_logging()
    settings: dict[str, Any] = {
        "max_payload_bytes": max_payload_bytes,
        "row_errors": row_errors,
        "device": device,
        "torch_threads": torch_threads,
        "body_timeout": body_timeout,
    }
    # Load once here in every case, so that a bad model directory is reported before the port
    # opens; a single worker keeps this app.
    app = create_app(model_dir, **settings)
    log.info(
        "serving %s on http://%s:%d with %d worker(s), %d torch thread(s) each, payload limit %d bytes, "
        "header/body timeouts %g/%g s, at most %d connections per worker%s",
        Path(model_dir),
        host,
        port,
        workers,
        torch_threads,
        max_payload_bytes,
        header_timeout,
        body_timeout,
        max_connections,
        ", per-row errors" if row_errors else "",
    )
    common: dict[str, Any] = {
        "access_log": False,
        "log_level": "warning",
        "http": functools.partial(_http_protocol, header_timeout=header_timeout),
        "limit_concurrency": max_connections,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
    }
    if workers == 1:
        uvicorn.run(app, host=host, port=port, **common)
        return
    del app
    os.environ[_ENV_SETTINGS] = json.dumps({"model_dir": str(model_dir), **settings})
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("ipinsights.serve:_app_from_env", factory=True, workers=workers, **common)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[_listen(host, port)]).run()


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share.

    Made here rather than by ``uvicorn.run(workers=N)``, whose socket has protocol number 0:
    asyncio then leaves Nagle's algorithm on for accepted connections, and every response waits
    ~40 ms for a delayed ACK (measured: 21 instead of 400+ requests/s at concurrency 1).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or --host"
        ) from None
    sock.set_inheritable(True)
    return sock


# -- command line -----------------------------------------------------------------------------


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights serve`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP (SageMaker hosting protocol)",
        description="Answer GET /ping and POST /invocations as a SageMaker inference container does.\n"
        f"Without --model-dir it runs as a container: model from {SAGEMAKER_MODEL_DIR}, listening\n"
        "on 0.0.0.0, port from SAGEMAKER_BIND_TO_PORT when set. See docs/serving.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the help texts state the defaults
    )
    p.add_argument(
        "--model-dir",
        default=None,
        help=f"model directory written by ipinsights train (default: {SAGEMAKER_MODEL_DIR}, container mode)",
    )
    p.add_argument(
        "--host",
        default=None,
        help="address to listen on (default: 127.0.0.1, or 0.0.0.0 in container mode)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default: $SAGEMAKER_BIND_TO_PORT when set, else {DEFAULT_PORT})",
    )
    p.add_argument(
        "--workers",
        default=None,
        metavar="N|auto",
        help="worker processes, each with its own copy of the model; auto: one per usable core "
        "(default: $SAGEMAKER_MODEL_SERVER_WORKERS when set, else 1)",
    )
    p.add_argument(
        "--max-payload-mb",
        type=float,
        default=DEFAULT_MAX_PAYLOAD_BYTES / 2**20,
        help="answer 413 to request bodies larger than this many MiB (default: %(default)g)",
    )
    p.add_argument(
        "--row-errors",
        action="store_true",
        help="score the good rows of a request with bad rows, with an error record for each bad one "
        "(default: 400 naming the first bad row)",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete this long after it opened "
        "or after its previous response, with 408 (default: %(default)g)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help="answer 408 and close the connection when a request body has not fully arrived this "
        "long after its headers (default: %(default)g)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="answer 503 to requests while a worker has this many connections open (default: %(default)d)",
    )
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: %(default)s)")
    p.set_defaults(run=_run_serve)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"${name} must be an integer, got {value!r}") from None


def _workers(value: str) -> int:
    """``--workers N|auto``: ``auto`` is one worker per core this process may run on (a worker
    scores one batch at a time with one PyTorch thread, so a core each is what they can use)."""
    if value == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--workers must be a positive number or auto, got --workers {value}") from None


def _run_serve(args: argparse.Namespace) -> int:
    MissingExtraError.check("ipinsights serve", "serve", "fastapi", "uvicorn")
    container = args.model_dir is None
    port = args.port if args.port is not None else _env_int("SAGEMAKER_BIND_TO_PORT") or DEFAULT_PORT
    workers = (
        _workers(args.workers) if args.workers is not None else _env_int("SAGEMAKER_MODEL_SERVER_WORKERS") or 1
    )
    if not args.max_payload_mb > 0:
        raise ConfigError(f"--max-payload-mb must be positive, got {args.max_payload_mb:g}")
    for option, seconds in [("--header-timeout", args.header_timeout), ("--body-timeout", args.body_timeout)]:
        if not 0 < seconds < math.inf:
            raise ConfigError(f"{option} must be a positive number of seconds, got {option} {seconds:g}")
    if args.max_connections < 1:
        raise ConfigError(
            f"--max-connections must be at least 1, got --max-connections {args.max_connections}"
        )
    run_server(
        SAGEMAKER_MODEL_DIR if container else args.model_dir,
        args.host or ("0.0.0.0" if container else "127.0.0.1"),
        port,
        workers,
        max_payload_bytes=max(1, int(args.max_payload_mb * 2**20)),
        row_errors=args.row_errors,
        device=args.device,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ipinsights.serve [options]``: the same as ``ipinsights serve``."""
    from ipinsights.cli import main as cli_main  # here: the cli imports this module for its parser

    return cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
