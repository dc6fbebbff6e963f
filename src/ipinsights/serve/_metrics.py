"""Counters in the Prometheus text format and the request log (one line per request, a JSON 500 for a bug).

Both are per worker process; ``log`` is also the runner's, for its start-up line and the
connections it closes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ipinsights.serve._protocol import _error_body

log = logging.getLogger("ipinsights.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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
