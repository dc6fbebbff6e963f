"""What the endpoint promises a client: media types, limits, timeouts, statuses, the error body.

Shared by the app (:mod:`._app`), the request log (:mod:`._metrics`), the runner (:mod:`._runner`)
and ``ipinsights serve``'s options, so that a limit the docs state is written once.
"""

from __future__ import annotations

import json
import math

from ipinsights.errors import ConfigError

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

#: Logged and counted for a client that closed its connection before its body was complete
#: (nginx's code: no response can reach the client, and it is not the server's fault).
CLIENT_CLOSED_REQUEST = 499


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}).encode()


def _check_timeout(name: str, seconds: float) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
        raise ConfigError(f"{name} must be a positive number of seconds, got {name}={seconds!r}")
