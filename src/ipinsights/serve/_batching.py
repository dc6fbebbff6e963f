"""Scoring request bodies: one loaded model, and the batching of small requests that arrive together.

``_Scorer`` turns bodies into response bodies (thread-safe; a large body goes alone to a worker
thread); ``_Batcher`` gathers the small ones on the event loop so that one parse and one forward
pass serve them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ipinsights.inference import MediaType, ParsedRequest, RequestError, format_predictions, parse_request

if TYPE_CHECKING:
    from ipinsights.estimator import IPInsights

# Bodies up to this size are batched with the other small requests that arrive together and
# scored on the event loop: for them a hop to a worker thread costs more than the scoring itself
# (measured: benchmarks/serve_bench.py); larger ones go alone to a thread, so that /ping and small
# requests keep being answered meanwhile.
_INLINE_BODY_BYTES = 16 * 1024


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
