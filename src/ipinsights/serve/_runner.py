"""Running the app: uvicorn with a header deadline, one or several worker processes (``run_server``).

Several workers share one listening socket made here; each is a fresh process (uvicorn starts
them with ``spawn``) that builds its app through ``_app_from_env``, named to uvicorn as
``ipinsights.serve._runner:_app_from_env``, from the settings ``run_server`` leaves in
``$IPINSIGHTS_SERVE_SETTINGS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipinsights.errors import ConfigError
from ipinsights.serve._app import create_app
from ipinsights.serve._metrics import log
from ipinsights.serve._protocol import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PORT,
    KEEP_ALIVE_TIMEOUT,
    _check_timeout,
    _error_body,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

# How `run_server` hands its settings to worker processes (uvicorn starts them with `spawn`).
_ENV_SETTINGS = "IPINSIGHTS_SERVE_SETTINGS"


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

    config = uvicorn.Config("ipinsights.serve._runner:_app_from_env", factory=True, workers=workers, **common)
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
