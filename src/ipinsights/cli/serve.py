"""``ipinsights serve``: its options, and how they become :func:`ipinsights.serve.run_server`'s arguments.

Container mode (no ``--model-dir``) and SageMaker's environment variables
(``SAGEMAKER_BIND_TO_PORT``, ``SAGEMAKER_MODEL_SERVER_WORKERS``) are resolved here.
"""

from __future__ import annotations

import argparse
import math
import os

from ipinsights.cli._common import HelpFormatter
from ipinsights.errors import ConfigError, MissingExtraError
from ipinsights.serve._protocol import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PORT,
    SAGEMAKER_MODEL_DIR,
)
from ipinsights.threads import usable_cores


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights serve``."""
    p = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP (SageMaker hosting protocol)",
        description="Answer GET /ping and POST /invocations as a SageMaker inference container does.\n"
        f"Without --model-dir it runs as a container: model from {SAGEMAKER_MODEL_DIR}, listening\n"
        "on 0.0.0.0, port from SAGEMAKER_BIND_TO_PORT when set. See docs/serving.md.",
        formatter_class=HelpFormatter,
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
        help="answer 413 to request bodies larger than this many MiB",
    )
    p.add_argument(
        "--row-errors",
        action="store_true",
        help="score the good rows of a request with bad rows, with an error record for each bad one "
        "(without it: 400 naming the first bad row)",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete this long after it opened "
        "or after its previous response, with 408",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help="answer 408 and close the connection when a request body has not fully arrived this "
        "long after its headers",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="answer 503 to requests while a worker has this many connections open",
    )
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda")
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
        return usable_cores()
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--workers must be a positive number or auto, got --workers {value}") from None


def _run_serve(args: argparse.Namespace) -> int:
    MissingExtraError.check("ipinsights serve", "serve", "fastapi", "uvicorn")
    from ipinsights.serve import run_server

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
