"""Reading the members of a request document: each reader names the member's path in its error.

Used by :mod:`ipinsights.tune._parse` and :mod:`ipinsights.tune._channels`. Inside
:func:`~ipinsights.tune._parse.parse_job_config` the unknown keys of a whole document are
collected (:data:`FINDINGS`) so that one message lists them all, and the SageMaker-only members
met on the way are noted as not used locally.
"""

from __future__ import annotations

import contextvars
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipinsights.errors import ConfigError
from ipinsights.tune._types import closest, integer_rule, show

__all__ = ["FINDINGS", "Findings", "check_keys", "enum_value", "integer", "mapping", "note_unused", "number"]


@dataclass
class Findings:
    """What one parse noticed besides errors: unknown keys (reported together) and unused members."""

    unknown: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


FINDINGS: contextvars.ContextVar[Findings | None] = contextvars.ContextVar("FINDINGS", default=None)


def note_unused(where: str, keys: Any) -> None:
    findings = FINDINGS.get()
    if findings is not None:
        findings.unused.extend(f"{where}.{k}" for k in keys)


def check_keys(
    value: Mapping[str, Any],
    where: str,
    allowed: tuple[str, ...],
    service: tuple[str, ...] = (),
    *,
    unused_as: str | None = None,
) -> None:
    """Check a mapping's keys: ``allowed`` are read here, ``service`` are SageMaker-only members.

    A SageMaker-only member is noted as not used locally (under ``unused_as``, default
    ``where``). An unknown key is an error that suggests only a member of the same shape; inside
    :func:`parse_job_config` every unknown key of the file is collected into one message.
    """
    findings = FINDINGS.get()
    for key in value:
        if key in allowed:
            continue
        if key in service:
            if findings is not None:
                place = unused_as or where
                findings.unused.append(key if place == "the job file" else f"{place}.{key}")
            continue
        members = (*allowed, *service)
        hint = closest(key, members) or f"; valid keys: {', '.join(members)}"
        message = f"{where}: unknown key {show(key)}{hint}"
        if findings is None:
            raise ConfigError(message)
        findings.unknown.append(message)


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {type(value).__name__}")
    return value


def enum_value(value: Any, kind: type[enum.StrEnum], where: str) -> Any:
    valid = [str(m) for m in kind]  # type: ignore[attr-defined]
    if value not in valid:
        raise ConfigError(
            f"{where} must be one of {' | '.join(valid)}, got {show(value)}{closest(value, valid)}"
        )
    return kind(value)


def integer(value: Any, where: str, low: int | None, high: int | None) -> int:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not math.isfinite(number)
        or int(number) != number
    ):
        raise ConfigError(f"{where} must be an integer, got {show(value)}")
    number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"{where} must be an integer {integer_rule(low, high)}, got {number}")
    return number


def number(value: Any, where: str) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ConfigError(f"{where} must be a number, got {show(value)}")
    return float(number)
