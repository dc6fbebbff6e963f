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

The modules, one concern each: ``_protocol`` (media types, limits, timeouts, the error body) →
``_batching`` (request bodies scored, small concurrent ones together) → ``_metrics`` (counters
and the request log) → ``_app`` (``create_app``: the routes) → ``_runner`` (``run_server``:
uvicorn, the header deadline, worker processes). ``python -m ipinsights.serve`` is
``ipinsights serve``.
"""

from __future__ import annotations

from ipinsights.errors import BodyTimeoutError, PayloadTooLargeError
from ipinsights.serve._app import create_app
from ipinsights.serve._protocol import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PORT,
    KEEP_ALIVE_TIMEOUT,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    SAGEMAKER_MODEL_DIR,
)
from ipinsights.serve._runner import run_server

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_PORT",
    "KEEP_ALIVE_TIMEOUT",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "SAGEMAKER_MODEL_DIR",
    "BodyTimeoutError",
    "PayloadTooLargeError",
    "create_app",
    "run_server",
]
