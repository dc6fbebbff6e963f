"""Inference formats shared by batch scoring (``ipinsights predict``) and the HTTP endpoint.

Requests (``Content-Type``): ``text/csv`` (``entity,ip`` rows, no header),
``application/json`` (``{"instances": [...]}``) and ``application/jsonlines`` (one instance per
line); an instance is ``{"features": [entity, ip]}`` or
``{"data": {"features": {"values": [entity, ip]}}}``, both forms may be mixed.

Responses (``Accept``): ``application/json`` (``{"predictions": [...]}``),
``application/jsonlines`` (one prediction per line) and, for batch output, ``text/csv``.
A prediction is ``{"dot_product": float, "known_entity": bool}``, plus ``entity_embedding`` and
``ip_embedding`` with ``verbose=True`` in the Accept value. A row that could not be scored gives
``{"dot_product": null, "known_entity": null, "error": reason, "row": n}`` in its place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ipinsights.data import hash_entities, parse_csv_bytes, parse_ips
from ipinsights.errors import IPInsightsError

__all__ = [
    "ACCEPT_TYPES",
    "CONTENT_TYPES",
    "MediaType",
    "NotAcceptableError",
    "ParsedRequest",
    "RequestError",
    "UnsupportedMediaTypeError",
    "format_predictions",
    "parse_media_type",
    "parse_request",
]

CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines")
ACCEPT_TYPES = ("application/json", "application/jsonlines", "text/csv")
_JSONLINES_ALIASES = {"application/jsonlines", "application/x-jsonlines", "application/jsonl", "application/x-ndjson"}


class RequestError(IPInsightsError, ValueError):
    """The request body cannot be read as a whole (HTTP 400)."""


class UnsupportedMediaTypeError(IPInsightsError, ValueError):
    """The Content-Type is not one we read (HTTP 415)."""


class NotAcceptableError(IPInsightsError, ValueError):
    """The Accept type is not one we write (HTTP 406)."""


@dataclass(frozen=True)
class MediaType:
    """A media type with its ``verbose`` flag, e.g. from ``application/json; verbose=True``."""

    type: str
    verbose: bool = False


def parse_media_type(value: str | None, *, allowed: tuple[str, ...], default: str, what: str) -> MediaType:
    """Parse a Content-Type or Accept header value.

    ``*/*``, ``application/*`` and an absent value give ``default``; for Accept, the first
    supported entry of a comma-separated list wins. The ``verbose`` parameter accepts
    ``true`` in any case.

    Raises:
        UnsupportedMediaTypeError: ``what == "Content-Type"`` and the type is not supported.
        NotAcceptableError: ``what == "Accept"`` and no listed type is supported.
    """
    if value is None or not value.strip():
        return MediaType(default)
    for entry in value.split(","):
        parts = [p.strip() for p in entry.split(";")]
        media = parts[0].lower()
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"').lower()
        verbose = params.get("verbose", "false") == "true"
        if media in _JSONLINES_ALIASES:
            media = "application/jsonlines"
        if media in ("*/*", "application/*", ""):
            media = default
        if media in allowed:
            return MediaType(media, verbose)
    if what == "Accept":
        raise NotAcceptableError(f"Accept {value!r} is not supported; use one of: {', '.join(allowed)}")
    raise UnsupportedMediaTypeError(f"Content-Type {value!r} is not supported; use one of: {', '.join(allowed)}")


@dataclass
class ParsedRequest:
    """Rows of a request, good and bad, in request order.

    Attributes:
        entity_hash, ip_hi, ip_lo: (n,) arrays (see :mod:`ipinsights.data`); undefined for bad rows.
        ok: (n,) bool, whether the row can be scored.
        row: (n,) int64 1-based row number (the line number for CSV and JSON Lines input).
        errors: reason of each bad row, by index.
    """

    entity_hash: np.ndarray
    ip_hi: np.ndarray
    ip_lo: np.ndarray
    ok: np.ndarray
    row: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ok)

    def first_error(self) -> str | None:
        if not self.errors:
            return None
        i = min(self.errors)
        return f"row {int(self.row[i])}: {self.errors[i]}"


def _instance_features(instance: object) -> tuple[str, str] | str:
    """The (entity, ip) of one JSON instance, or the reason it is not usable."""
    if not isinstance(instance, dict):
        return "an instance must be a JSON object with 'features' or 'data'"
    features = instance.get("features")
    if features is None and isinstance(instance.get("data"), dict):
        inner = instance["data"].get("features")
        features = inner.get("values") if isinstance(inner, dict) else None
    if not isinstance(features, list) or len(features) != 2:
        return 'expected {"features": [entity, ip]} or {"data": {"features": {"values": [entity, ip]}}}'
    entity, ip = features
    if not isinstance(entity, (str, int)) or isinstance(entity, bool) or not str(entity).strip():
        return "the entity must be a non-empty string"
    if not isinstance(ip, str):
        return "the IP address must be a string"
    return str(entity), ip


def _from_instances(instances: list[object], rows: np.ndarray, errors: dict[int, str]) -> ParsedRequest:
    n = len(instances)
    entities, ips = [""] * n, ["0.0.0.0"] * n
    ok = np.ones(n, dtype=bool)
    for i, instance in enumerate(instances):
        if i in errors:
            ok[i] = False
            continue
        got = _instance_features(instance)
        if isinstance(got, str):
            ok[i] = False
            errors[i] = got
        else:
            entities[i], ips[i] = got
    ip_ok, hi, lo = parse_ips(ips)
    for i in np.flatnonzero(ok & ~ip_ok):
        errors[int(i)] = f"{ips[i][:60]!r} is not an IP address"
    ok &= ip_ok
    return ParsedRequest(hash_entities(entities), hi, lo, ok, rows, errors)


def parse_request(body: bytes, content_type: str) -> ParsedRequest:
    """Parse a request body of a supported content type into rows.

    Args:
        body: The raw body.
        content_type: One of :data:`CONTENT_TYPES` (already normalised).

    Returns:
        Every row, in order, with per-row errors.

    Raises:
        RequestError: The body is empty, is not UTF-8 JSON where JSON is expected, or has no
            ``instances`` list.
    """
    if not body.strip():
        raise RequestError("the request body is empty; send at least one entity,ip row")
    if content_type == "text/csv":
        parsed = parse_csv_bytes(body)
        errors = {int(i): parsed.reason(int(i)) for i in np.flatnonzero(parsed.error != 0)}
        return ParsedRequest(parsed.entity_hash, parsed.ip_hi, parsed.ip_lo, parsed.error == 0, parsed.line, errors)
    if content_type == "application/json":
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"the body is not valid JSON ({exc})") from None
        instances = document.get("instances") if isinstance(document, dict) else None
        if not isinstance(instances, list):
            raise RequestError('a JSON request must be {"instances": [...]}')
        if not instances:
            raise RequestError('"instances" is empty; send at least one instance')
        return _from_instances(instances, np.arange(1, len(instances) + 1), {})
    if content_type == "application/jsonlines":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(f"the body is not UTF-8 ({exc})") from None
        instances: list[object] = []
        line_numbers: list[int] = []
        errors: dict[int, str] = {}
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                instances.append(json.loads(line))
            except json.JSONDecodeError as exc:
                errors[len(instances)] = f"not valid JSON ({exc.msg})"
                instances.append(None)
            line_numbers.append(number)
        return _from_instances(instances, np.array(line_numbers, dtype=np.int64), errors)
    raise UnsupportedMediaTypeError(f"Content-Type {content_type!r} is not supported; use one of: {', '.join(CONTENT_TYPES)}")


def _number(x: float) -> str:
    text = repr(float(x))
    return text if text not in ("nan", "inf", "-inf") else "null"


def format_predictions(
    dot_product: np.ndarray,
    known_entity: np.ndarray,
    accept: MediaType,
    *,
    ok: np.ndarray | None = None,
    row: np.ndarray | None = None,
    errors: dict[int, str] | None = None,
    entity_embedding: np.ndarray | None = None,
    ip_embedding: np.ndarray | None = None,
) -> bytes:
    """Serialise predictions (with error records for rows that failed) in the Accept format.

    ``dot_product`` and ``known_entity`` have one entry per request row (values at bad rows are
    ignored). Embeddings, when given, are written for good rows (``verbose``).
    """
    n = len(dot_product)
    ok = np.ones(n, dtype=bool) if ok is None else ok
    errors = errors or {}
    # Round-trip float32 through Python floats once, vectorised: the shortest repr of each value.
    values = dot_product.astype(np.float32).tolist()
    known = known_entity.tolist()
    verbose = accept.verbose and entity_embedding is not None and ip_embedding is not None
    if accept.type == "text/csv":
        lines = []
        for i in range(n):
            if ok[i]:
                lines.append(f"{_number(values[i])},{'true' if known[i] else 'false'},")
            else:
                reason = errors.get(i, "not scored").replace('"', '""')
                lines.append(f',,"row {int(row[i]) if row is not None else i + 1}: {reason}"')
        return ("\n".join(lines) + "\n").encode()
    records = []
    ent = entity_embedding.astype(np.float32).tolist() if verbose else None
    ipe = ip_embedding.astype(np.float32).tolist() if verbose else None
    for i in range(n):
        if ok[i]:
            record = f'{{"dot_product": {_number(values[i])}, "known_entity": {"true" if known[i] else "false"}'
            if verbose:
                record += f', "entity_embedding": {json.dumps(ent[i])}, "ip_embedding": {json.dumps(ipe[i])}'
            records.append(record + "}")
        else:
            reason = json.dumps(errors.get(i, "not scored"))
            number = int(row[i]) if row is not None else i + 1
            records.append(f'{{"dot_product": null, "known_entity": null, "error": {reason}, "row": {number}}}')
    if accept.type == "application/jsonlines":
        return ("\n".join(records) + "\n").encode()
    return ('{"predictions": [' + ", ".join(records) + "]}").encode()
