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
prints on stderr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ipinsights.config import MIN_STEPS_PER_EPOCH, HyperParameters

__all__ = ["AUTO_SIZED", "SizeChoice", "auto_size", "choose_sizes"]

#: The hyperparameters ``--auto-size`` may choose.
AUTO_SIZED = ("mini_batch_size", "num_entity_vectors", "vector_dim")
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
    num_rows: int, num_entities: int, *, given: Mapping[str, Any] | None = None
) -> list[SizeChoice]:
    """The sizes for ``num_rows`` training pairs of ``num_entities`` entities, skipping ``given`` names.

    Args:
        num_rows: Training pairs.
        num_entities: Distinct entities among them.
        given: Hyperparameters the user set (their names are left alone).

    Returns:
        One :class:`SizeChoice` per value chosen, in :data:`AUTO_SIZED` order.

    Example:
        >>> for choice in choose_sizes(10_000, 500):
        ...     print(choice)
        mini_batch_size=100 (10000 rows / 100 steps per epoch; the default 10000 gives 1 step)
        num_entity_vectors=1000 (2 x 500 distinct entities, SageMaker's advice)
        vector_dim=128 (SageMaker's recommended value)
    """
    given = given or {}
    choices = []
    if "mini_batch_size" not in given:
        default_steps = -(-num_rows // _DEFAULT_BATCH)
        if default_steps >= MIN_STEPS_PER_EPOCH:
            choices.append(
                SizeChoice(
                    "mini_batch_size", _DEFAULT_BATCH, f"SageMaker's default: {default_steps} steps per epoch"
                )
            )
        else:
            batch = max(1, num_rows // MIN_STEPS_PER_EPOCH)
            choices.append(
                SizeChoice(
                    "mini_batch_size",
                    batch,
                    f"{num_rows} rows / {MIN_STEPS_PER_EPOCH} steps per epoch; the default {_DEFAULT_BATCH} "
                    f"gives {default_steps} step{'s' * (default_steps != 1)}",
                )
            )
    if "num_entity_vectors" not in given:
        choices.append(
            SizeChoice(
                "num_entity_vectors",
                max(2, 2 * num_entities),
                f"2 x {num_entities} distinct entities, SageMaker's advice",
            )
        )
    if "vector_dim" not in given:
        choices.append(SizeChoice("vector_dim", _VECTOR_DIM, "SageMaker's recommended value"))
    return choices


def auto_size(
    num_rows: int, num_entities: int, given: Mapping[str, Any] | None = None
) -> tuple[HyperParameters, list[SizeChoice]]:
    """Hyperparameters from ``given`` (name to value, as ``--hp``) with the sizes chosen for the rest.

    Raises:
        ConfigError: A given value is invalid (as :meth:`HyperParameters.from_mapping`).

    Example:
        >>> hp, why = auto_size(2_000_000, 40_000, {"epochs": "3"})
        >>> hp.mini_batch_size, hp.num_entity_vectors, hp.epochs
        (10000, 80000, 3)
    """
    given = given or {}
    choices = choose_sizes(num_rows, num_entities, given=given)
    values = {**given, **{c.name: c.value for c in choices}}
    return HyperParameters.from_mapping(values), choices
