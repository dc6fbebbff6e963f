"""The FastAPI application: SageMaker's hosting protocol for one loaded model (``create_app``).

The routes read the raw request (plain Starlette routes: FastAPI's parameter validation would
only add work to every call), negotiate the media types, bound the body's size and arrival time,
and hand it to :mod:`._batching`; every error becomes its status and a JSON body.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING

from ipinsights.errors import BodyTimeoutError, ConfigError, PayloadTooLargeError
from ipinsights.inference import (
    NotAcceptableError,
    RequestError,
    UnsupportedMediaTypeError,
    parse_media_type,
)
from ipinsights.serve._batching import _INLINE_BODY_BYTES, _Batcher, _Scorer
from ipinsights.serve._metrics import _Metrics, _RequestLog
from ipinsights.serve._protocol import (
    CLIENT_CLOSED_REQUEST,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_PAYLOAD_BYTES,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    _check_timeout,
    _error_body,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

_STATUS = {
    RequestError: 400,
    NotAcceptableError: 406,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
}


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


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    got = f"at least {size}" if at_least else str(size)
    return (
        f"the request body is {got} bytes, above the {limit}-byte limit ({limit / 2**20:.3g} MB); "
        "split it into smaller requests or start the server with a larger --max-payload-mb"
    )
