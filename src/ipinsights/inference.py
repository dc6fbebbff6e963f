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
import re
from dataclasses import dataclass, field

import numpy as np

from ipinsights.addresses import IPV4_MAPPED, parse_ips
from ipinsights.data import (
    describe_bad_entity,
    describe_bad_ip,
    parse_csv_bytes,
)
from ipinsights.entities import FNV_OFFSET, FNV_PRIME, hash_entities
from ipinsights.errors import NotAcceptableError, RequestError, UnsupportedMediaTypeError

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
_JSONLINES_ALIASES = {
    "application/jsonlines",
    "application/x-jsonlines",
    "application/jsonl",
    "application/x-ndjson",
}


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
    raise UnsupportedMediaTypeError(
        f"Content-Type {value!r} is not supported; use one of: {', '.join(allowed)}"
    )


@dataclass
class ParsedRequest:
    """Rows of a request, good and bad, in request order.

    Attributes:
        entity_hash, ip_hi, ip_lo: (n,) arrays (see :mod:`ipinsights.data`); undefined for bad rows.
        ok: (n,) bool, whether the row can be scored.
        row: (n,) int64 1-based row number (the line number for CSV and JSON Lines input).
        errors: reason of each bad row, by index.
        entity_text, ip_text: with ``keep_text=True``, each row's entity and IP as given
            (for good rows; ``None`` otherwise).
    """

    entity_hash: np.ndarray
    ip_hi: np.ndarray
    ip_lo: np.ndarray
    ok: np.ndarray
    row: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)
    entity_text: list[str] | None = None
    ip_text: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ok)

    def take(self, rows: slice, *, first_row: int = 0) -> ParsedRequest:
        """The rows in ``rows`` (a slice) as a request of their own, row numbers moved by ``first_row``."""
        start, stop, _ = rows.indices(len(self))
        return ParsedRequest(
            self.entity_hash[rows],
            self.ip_hi[rows],
            self.ip_lo[rows],
            self.ok[rows],
            self.row[rows] + first_row,
            {i - start: reason for i, reason in self.errors.items() if start <= i < stop},
            None if self.entity_text is None else self.entity_text[rows],
            None if self.ip_text is None else self.ip_text[rows],
        )

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
    entity = str(entity)
    if not (entity.isascii() and ip.isascii()):
        try:
            entity.encode("utf-8")
            ip.encode("utf-8")
        except UnicodeEncodeError:
            return "the entity or the IP address is not valid Unicode (an unpaired surrogate escape)"
    bad_entity = describe_bad_entity(entity)
    if bad_entity is not None:  # as in CSV input, where such an entity is a bad row
        return bad_entity
    return entity, ip


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
    for bad in np.flatnonzero(ok & ~ip_ok).tolist():
        errors[bad] = describe_bad_ip(ips[bad])
    ok &= ip_ok
    return ParsedRequest(hash_entities(entities), hi, lo, ok, rows, errors, entities, ips)


def _brief(exc: Exception) -> str:
    """The reason in a JSON decoding error, without echoing an arbitrarily long input."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}: line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "integer string conversion" in str(exc):
        return "a number has more than 4300 digits"
    return str(exc)[:200]


#: A plain ``entity,a.b.c.d`` line: a printable ASCII entity without quotes, commas or spaces and an
#: IPv4 address in canonical form (no leading zeros). Small CSV bodies of such lines only take
#: :func:`_parse_plain_rows`, which gives what :func:`parse_csv_bytes` gives.
_PLAIN_ROW = re.compile(
    rb"([!#-+\--~]+),((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})"
)
_PLAIN_ROWS_AT_MOST = 16
_FNV_OFFSET, _FNV_PRIME, _MASK64 = int(FNV_OFFSET), int(FNV_PRIME), (1 << 64) - 1


def _parse_plain_rows(body: bytes) -> ParsedRequest | None:
    """The rows of a small CSV body of plain lines (:data:`_PLAIN_ROW`), or None for anything else.

    :func:`parse_csv_bytes` runs ~100 vector operations whatever the size, ~0.2 ms; a
    single-pair request (the usual real-time call) takes a tenth of that here.
    """
    lines = body.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if not lines or len(lines) > _PLAIN_ROWS_AT_MOST:
        return None
    hashes, lows = [], []
    for line in lines:
        match = _PLAIN_ROW.fullmatch(line)
        if match is None:
            return None
        h = _FNV_OFFSET
        for byte in match.group(1):
            h = ((h ^ byte) * _FNV_PRIME) & _MASK64
        hashes.append(h)
        a, b, c, d = (int(x) for x in match.group(2).split(b"."))
        lows.append(IPV4_MAPPED | (a << 24) | (b << 16) | (c << 8) | d)
    n = len(lines)
    return ParsedRequest(
        np.array(hashes, dtype=np.uint64),
        np.zeros(n, dtype=np.int64),
        np.array(lows, dtype=np.int64),
        np.ones(n, dtype=bool),
        np.arange(1, n + 1, dtype=np.int64),
        {},
    )


def parse_request(body: bytes, content_type: str, *, keep_text: bool = False) -> ParsedRequest:
    """Parse a request body of a supported content type into rows.

    Args:
        body: The raw body.
        content_type: One of :data:`CONTENT_TYPES` (already normalised).
        keep_text: Also keep each row's entity and IP text (to echo them in the output).

    Returns:
        Every row, in order, with per-row errors.

    Raises:
        RequestError: The body is empty, is not UTF-8 JSON where JSON is expected, or has no
            ``instances`` list.
    """
    if not body.strip():
        raise RequestError("the request body is empty; send at least one entity,ip row")
    if content_type == "text/csv":
        plain = None if keep_text else _parse_plain_rows(body)
        if plain is not None:
            return plain
        parsed = parse_csv_bytes(body, keep_text=keep_text)
        row_errors = {int(i): parsed.reason(int(i)) for i in np.flatnonzero(parsed.error != 0)}
        return ParsedRequest(
            parsed.entity_hash,
            parsed.ip_hi,
            parsed.ip_lo,
            parsed.error == 0,
            parsed.line,
            row_errors,
            parsed.entity_text,
            parsed.ip_text,
        )
    if content_type == "application/json":
        try:
            document = json.loads(body)
        except (
            ValueError,
            RecursionError,
        ) as exc:  # ValueError covers JSONDecodeError and UnicodeDecodeError
            raise RequestError(f"the body is not valid JSON ({_brief(exc)})") from None
        listed = document.get("instances") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise RequestError('a JSON request must be {"instances": [...]}')
        if not listed:
            raise RequestError('"instances" is empty; send at least one instance')
        return _from_instances(listed, np.arange(1, len(listed) + 1), {})
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
            except (ValueError, RecursionError) as exc:
                errors[len(instances)] = f"not valid JSON ({_brief(exc)})"
                instances.append(None)
            line_numbers.append(number)
        return _from_instances(instances, np.array(line_numbers, dtype=np.int64), errors)
    raise UnsupportedMediaTypeError(
        f"Content-Type {content_type!r} is not supported; use one of: {', '.join(CONTENT_TYPES)}"
    )


def _number(x: float) -> str:
    text = repr(float(x))
    return text if text not in ("nan", "inf", "-inf") else "null"


def _numbers(values: np.ndarray) -> list[str]:
    """The JSON text of each float32 value: the shortest repr of it as a double, ``null`` if not finite."""
    texts = list(map(repr, values.astype(np.float32).tolist()))
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        texts[i] = "null"
    return texts


def _vectors(vectors: np.ndarray) -> list[str]:
    """The JSON text of each row of a (n, dim) array (``repr`` of a float list is its JSON)."""
    rows = vectors.astype(np.float32).tolist()
    texts = list(map(repr, rows))
    for i in np.flatnonzero(~np.isfinite(vectors).all(axis=1)).tolist():
        texts[i] = json.dumps(rows[i])
    return texts


def _csv_field(text: str) -> str:
    """A CSV field as RFC 4180 writes it: quoted (quotes doubled) when it holds , " or a line break."""
    if any(c in text for c in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


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
    score: np.ndarray | None = None,
    entity_text: list[str] | None = None,
    ip_text: list[str] | None = None,
    flagged: np.ndarray | None = None,
) -> bytes:
    """Serialise predictions (with error records for rows that failed) in the Accept format.

    ``dot_product`` and ``known_entity`` have one entry per request row (values at bad rows are
    ignored). Embeddings, when given, are written for good rows (``verbose``). ``score`` (the
    model's combined score, :mod:`ipinsights.history`), when given, is written after
    ``known_entity`` in the JSON formats; CSV output keeps the reference's columns.

    Options of ``ipinsights predict``, each only when given: ``entity_text`` and ``ip_text``
    (the input's columns) come first, as ``"entity"`` and ``"ip"`` (CSV: two leading columns,
    empty for a bad row); ``flagged`` (bool per row) comes after ``known_entity`` and
    ``score`` as ``"flagged"`` (CSV: a last column, empty for a bad row).
    """
    n = len(dot_product)
    ok = np.ones(n, dtype=bool) if ok is None else np.asarray(ok, dtype=bool)
    errors = errors or {}
    with_input = entity_text is not None and ip_text is not None
    # Each record is built from a few constant strings and the numbers' texts, laid into one
    # list by slice assignment and joined once: no Python-level loop over the rows, ~5x faster
    # than formatting each record (measured on 1M rows).
    known_index = np.asarray(known_entity, dtype=bool).astype(np.intp)
    known_texts = np.array([', "known_entity": false', ', "known_entity": true'], dtype=object)[
        known_index
    ].tolist()
    if score is not None:
        known_texts = [k + ', "score": ' + x for k, x in zip(known_texts, _numbers(score), strict=True)]
    flag_index = None if flagged is None else np.asarray(flagged, dtype=bool).astype(np.intp)
    if accept.type == "text/csv":
        csv_fields: list[list[str] | str] = []
        if with_input:
            assert entity_text is not None and ip_text is not None
            csv_fields.append(
                [f"{_csv_field(e)},{_csv_field(i)}," for e, i in zip(entity_text, ip_text, strict=True)]
            )
        csv_fields.append(_numbers(dot_product))
        if flag_index is None:
            csv_fields.append(np.array([",false,\n", ",true,\n"], dtype=object)[known_index].tolist())
        else:
            csv_fields.append(np.array([",false,", ",true,"], dtype=object)[known_index].tolist())
            csv_fields.append(np.array([",false\n", ",true\n"], dtype=object)[flag_index].tolist())
        width = len(csv_fields)
        parts = [""] * (width * n)
        for k, field_texts in enumerate(csv_fields):
            parts[k::width] = field_texts
        for i in np.flatnonzero(~ok).tolist():
            reason = errors.get(i, "not scored").replace('"', '""')
            record = f',,"row {int(row[i]) if row is not None else i + 1}: {reason}"'
            parts[width * i : width * (i + 1)] = [
                ",," if with_input else "",
                record + (",\n" if flag_index is not None else "\n"),
            ] + [""] * (width - 2)
        return ("".join(parts) if n else "\n").encode()
    jsonlines = accept.type == "application/jsonlines"
    sep = "\n" if jsonlines else ", "
    if with_input:
        assert entity_text is not None and ip_text is not None
        head: list[str] | str = [
            '{"entity": ' + json.dumps(e) + ', "ip": ' + json.dumps(i) + ', "dot_product": '
            for e, i in zip(entity_text, ip_text, strict=True)
        ]
    else:
        head = '{"dot_product": '
    fields: list[list[str] | str] = [head, _numbers(dot_product), known_texts]
    if flag_index is not None:
        fields.append(
            np.array([', "flagged": false', ', "flagged": true'], dtype=object)[flag_index].tolist()
        )
    if accept.verbose and entity_embedding is not None and ip_embedding is not None:
        fields += [
            ', "entity_embedding": ',
            _vectors(entity_embedding),
            ', "ip_embedding": ',
            _vectors(ip_embedding),
        ]
    fields.append("}" + sep)
    width = len(fields)
    parts = [""] * (width * n)
    for k, field_texts in enumerate(fields):
        parts[k::width] = field_texts if isinstance(field_texts, list) else [field_texts] * n
    for i in np.flatnonzero(~ok).tolist():
        reason = json.dumps(errors.get(i, "not scored"))
        number = int(row[i]) if row is not None else i + 1
        parts[width * i : width * (i + 1)] = [
            f'{{"dot_product": null, "known_entity": null, "error": {reason}, "row": {number}}}{sep}'
        ] + [""] * (width - 1)
    text = "".join(parts)
    if jsonlines:
        return (text if n else "\n").encode()
    return ('{"predictions": [' + text[: -len(sep) or None] + "]}").encode()
