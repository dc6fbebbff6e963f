"""Sizes chosen from the data: ``ipinsights train --auto-size``.

SageMaker's defaults suit its large jobs; on a small log they make training pointless
(:meth:`~ipinsights.config.HyperParameters.warnings_for`: with ``mini_batch_size=10000`` a
10,000-row log gets one optimiser step per epoch). Asked to, training picks, for each value the
user did not set:

* ``mini_batch_size``: the default 10000 when it gives at least
  :data:`~ipinsights.config.MIN_STEPS_PER_EPOCH` steps per epoch, else ``rows // 100`` so that an
  epoch has about 100 steps;
* ``num_entity_vectors``: twice the distinct entities, SageMaker's advice ("about twice the
  number of unique entity identifiers"), so that few entities share a row by hash collision;
* ``vector_dim``: 128, SageMaker's recommended value (only because it is required).

Every other value keeps SageMaker's default. Each choice comes with its reason, which the CLI
prints on stderr. One value at a time: ``--hp mini_batch_size=auto`` (or ``"auto"`` in a
SageMaker-style ``hyperparameters.json``) chooses that one alone (:func:`auto_requested`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ipinsights.config import MIN_STEPS_PER_EPOCH, HyperParameters
from ipinsights.errors import ConfigError

__all__ = ["AUTO", "AUTO_SIZED", "SizeChoice", "auto_requested", "auto_size", "choose_sizes"]

#: The hyperparameters ``--auto-size`` may choose.
AUTO_SIZED = ("mini_batch_size", "num_entity_vectors", "vector_dim")
#: The value that asks for one of them to be chosen (``--hp mini_batch_size=auto``).
AUTO = "auto"
_DEFAULT_BATCH = HyperParameters(num_entity_vectors=1, vector_dim=4).mini_batch_size  # SageMaker's 10000
_VECTOR_DIM = 128


@dataclass(frozen=True)
class SizeChoice:
    """One value chosen from the data, and why."""

    name: str
    value: int
    reason: str

    def __str__(self) -> str:
        return f"{self.name}={self.value} ({self.reason})"


def choose_sizes(
    num_rows: int,
    num_entities: int,
    *,
    given: Mapping[str, Any] | None = None,
    names: Collection[str] = AUTO_SIZED,
) -> list[SizeChoice]:
    """The sizes for ``num_rows`` training pairs of ``num_entities`` entities.

    Args:
        num_rows: Training pairs.
        num_entities: Distinct entities among them.
        given: Hyperparameters the user set (their names are left alone).
        names: Which of :data:`AUTO_SIZED` to choose.

    Returns:
        One :class:`SizeChoice` per value chosen, in :data:`AUTO_SIZED` order.

    Example:
        >>> for choice in choose_sizes(10_000, 500):
        ...     print(choice)
        mini_batch_size=100 (10000 rows / 100 steps per epoch; the default 10000 gives 1 step)
        num_entity_vectors=1000 (2 x 500 distinct entities, SageMaker's advice)
        vector_dim=128 (SageMaker's recommended value)
    """
    wanted = [name for name in AUTO_SIZED if name in names and name not in (given or {})]
    choices = []
    if "mini_batch_size" in wanted:
        default_steps = -(-num_rows // _DEFAULT_BATCH)
        if default_steps >= MIN_STEPS_PER_EPOCH:
            reason = f"SageMaker's default: {default_steps} steps per epoch"
            choices.append(SizeChoice("mini_batch_size", _DEFAULT_BATCH, reason))
        else:
            batch = max(1, num_rows // MIN_STEPS_PER_EPOCH)
            reason = (
                f"{num_rows} rows / {MIN_STEPS_PER_EPOCH} steps per epoch; the default {_DEFAULT_BATCH} "
                f"gives {default_steps} step{'s' * (default_steps != 1)}"
            )
            choices.append(SizeChoice("mini_batch_size", batch, reason))
    if "num_entity_vectors" in wanted:
        reason = f"2 x {num_entities} distinct entities, SageMaker's advice"
        choices.append(SizeChoice("num_entity_vectors", max(2, 2 * num_entities), reason))
    if "vector_dim" in wanted:
        choices.append(SizeChoice("vector_dim", _VECTOR_DIM, "SageMaker's recommended value"))
    return choices


def auto_requested(values: Mapping[str, Any], auto_size: bool) -> tuple[dict[str, Any], frozenset[str]]:
    """Split hyperparameter values into those given and the names to choose from the data.

    Args:
        values: Name to value, as ``--hp`` and ``hyperparameters.json`` give them; a value
            ``"auto"`` asks for that one to be chosen.
        auto_size: ``--auto-size``: choose every one of :data:`AUTO_SIZED` not given.

    Returns:
        ``(given, names)``: the values without the ``auto`` ones, and the names to choose.

    Raises:
        ConfigError: ``auto`` for a hyperparameter that cannot be chosen from the data.

    Example:
        >>> given, names = auto_requested({"mini_batch_size": "auto", "epochs": "3"}, False)
        >>> given, sorted(names)
        ({'epochs': '3'}, ['mini_batch_size'])
    """
    asked = {
        name for name, value in values.items() if isinstance(value, str) and value.strip().lower() == AUTO
    }
    wrong = sorted(asked - set(AUTO_SIZED))
    if wrong:
        raise ConfigError(
            f"{wrong[0]}=auto: only {', '.join(AUTO_SIZED)} can be chosen from the data; give {wrong[0]} a value"
        )
    given = {name: value for name, value in values.items() if name not in asked}
    names = frozenset(AUTO_SIZED) - set(given) if auto_size else frozenset(asked)
    return given, names


def auto_size(
    num_rows: int,
    num_entities: int,
    given: Mapping[str, Any] | None = None,
    *,
    names: Collection[str] = AUTO_SIZED,
) -> tuple[HyperParameters, list[SizeChoice]]:
    """Hyperparameters from ``given`` (name to value, as ``--hp``) with ``names`` chosen for the rest.

    Raises:
        ConfigError: A given value is invalid (as :meth:`HyperParameters.from_mapping`).

    Example:
        >>> hp, why = auto_size(2_000_000, 40_000, {"epochs": "3"})
        >>> hp.mini_batch_size, hp.num_entity_vectors, hp.epochs
        (10000, 80000, 3)
    """
    given = given or {}
    choices = choose_sizes(num_rows, num_entities, given=given, names=names)
    values = {**given, **{c.name: c.value for c in choices}}
    return HyperParameters.from_mapping(values), choices
