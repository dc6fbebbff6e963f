"""Attack sets made from your own logs, for ``ipinsights evaluate`` without a generator.

Each set pairs a *victim* with an address an attacker might log in from. The victim is the
entity of a random normal (test) login whose entity also appears in the training logins, so the
attack rows have the same mix of entities as the normal rows and no scorer wins by telling users
apart. Each set is drawn from its own stream of a fixed seed (:func:`make_log_attacks`), so the
same logs and seed give the same attacks; nothing is fitted on them.

================  ===============================================================================
set               the attacker's address
================  ===============================================================================
``other_users``   an address another entity used in training, never used by the victim (in
                  training or normal logins): a residential proxy, a shared jump host
``nearby_24``     a random address in a /24 of a /16 the victim used in training, a /24 the
                  victim never used (IPv6: a /64 in the victim's /48): same provider, next door
``nearby_16``     a random address in another /16 of a /8 the victim used in training, a /16 the
                  victim never used (IPv6: a /48 in the victim's /32): the same region
``random_range``  uniform in a uniformly random IPv4 range of the built-in range table (the
                  public example's attack)
``random_ipv4``   four uniform octets (SageMaker's validation negatives; the easiest)
================  ===============================================================================

Addresses are drawn as (hi, lo) words (:class:`~ipinsights.data.Pairs`), so every input format
works and IPv6 users get IPv6 neighbours. A row whose victim has no free neighbouring network
after :data:`MAX_REDRAWS` draws takes another victim; the set's ``rows`` says how many were made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ipinsights.addresses import IPV4_MAPPED, is_ipv4
from ipinsights.data import Pairs, ReadReport, contains_sorted, sorted_unique
from ipinsights.errors import ConfigError, DataError
from ipinsights.history import network_keys

__all__ = ["LOG_ATTACKS", "MAX_REDRAWS", "LogAttack", "make_log_attacks"]

#: The attack sets, hardest (most like the victim's own logins) first.
LOG_ATTACKS = ("nearby_24", "nearby_16", "other_users", "random_range", "random_ipv4")
DESCRIPTIONS = {
    "other_users": "an address another entity used in training, never used by the victim",
    "nearby_24": "a new /24 in a /16 the victim used in training (IPv6: a new /64 in its /48)",
    "nearby_16": "a new /16 in a /8 the victim used in training (IPv6: a new /48 in its /32)",
    "random_range": "uniform in a random IPv4 range of the built-in range table",
    "random_ipv4": "four uniform octets",
}
MAX_REDRAWS = 50

#: (usable, hi, lo), each (n,): a proposal's result.
_Proposed = tuple[np.ndarray, np.ndarray, np.ndarray]
#: propose(victims, one training login of each, rng) -> (usable, hi, lo) of candidate addresses.
_Proposal = Callable[[np.ndarray, np.ndarray, np.random.Generator], _Proposed]

_V4_TAG = np.uint64(IPV4_MAPPED)
#: Host bits below each IPv4 level: an address's /24 keeps 24 bits.
_V4_SHIFT = {"24": 8, "16": 16}


@dataclass(frozen=True)
class LogAttack:
    """One attack set built from logs: its pairs and how it was made."""

    name: str
    pairs: Pairs
    description: str
    seed: int

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rows": len(self.pairs),
            "seed": self.seed,
            "description": self.description,
        }


def _words(pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return pairs.entity_hash.astype(np.uint64), pairs.ip_hi.view(np.uint64), pairs.ip_lo.view(np.uint64)


class _Victims:
    """Draws victims (entities of normal logins also in training) and their training logins."""

    def __init__(self, train: Pairs, normal: Pairs) -> None:
        self.entity, self.hi, self.lo = _words(train)
        self.order = np.argsort(self.entity, kind="stable")
        self.sorted_entity = self.entity[self.order]
        normal_entity = normal.entity_hash.astype(np.uint64)
        self.pool = normal_entity[contains_sorted(sorted_unique(self.entity), normal_entity)]
        if not len(self.pool):
            raise DataError(
                "no entity of the normal logins appears in the training logins, so no attack set can be "
                "made from them; give normal logins of the users you trained on (e.g. the days after training)"
            )
        # Networks each entity used, in training or normal logins: attacks avoid them.
        both = (
            np.concatenate([self.entity, normal_entity]),
            np.concatenate([self.hi, normal.ip_hi.view(np.uint64)]),
            np.concatenate([self.lo, normal.ip_lo.view(np.uint64)]),
        )
        self.used = {level: sorted_unique(network_keys(*both, level)) for level in ("ip", "24", "16")}

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(victims, index of one of each victim's training logins), both (n,)."""
        victim = self.pool[rng.integers(len(self.pool), size=n)]
        start = np.searchsorted(self.sorted_entity, victim, side="left")
        stop = np.searchsorted(self.sorted_entity, victim, side="right")
        login = self.order[start + (rng.random(n) * (stop - start)).astype(np.int64)]
        return victim, login


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, LOG_ATTACKS.index(name) + 1]))


def _v4(address: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(len(address), dtype=np.uint64), _V4_TAG | address.astype(np.uint64)


def _draw_until_free(
    name: str, victims: _Victims, n: int, rng: np.random.Generator, propose: _Proposal
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Redraw the rows whose proposal ``propose(victim, login, rng) -> (ok, hi, lo)`` failed."""
    entity = np.zeros(n, dtype=np.uint64)
    hi, lo = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    done = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    for _ in range(MAX_REDRAWS):
        if not todo.size:
            break
        victim, login = victims.draw(rng, todo.size)
        ok, new_hi, new_lo = propose(victim, login, rng)
        rows = todo[ok]
        entity[rows], hi[rows], lo[rows], done[rows] = victim[ok], new_hi[ok], new_lo[ok], True
        todo = todo[~ok]
    if not done.any():
        raise DataError(
            f"the {name} attack set found no address for any victim after {MAX_REDRAWS} draws "
            "(the training logins have too few users or networks for it); leave it out with --attack-sets"
        )
    return entity[done], hi[done], lo[done]


def _nearby(level: str, victims: _Victims) -> _Proposal:
    """Proposals of an address in a new network at ``level`` inside the anchor's parent network."""
    v4_bits = 8  # IPv4: a new third (/24) or second (/16) octet
    v4_shift = _V4_SHIFT[level]

    def propose(victim: np.ndarray, login: np.ndarray, rng: np.random.Generator) -> _Proposed:
        n = len(victim)
        a_hi, a_lo = victims.hi[login], victims.lo[login]
        v4 = is_ipv4(a_hi, a_lo)
        # IPv4: keep the parent's bits, draw the level's octet and the host bits below it.
        parent_shift = v4_shift + v4_bits
        parent = (a_lo & np.uint64(0xFFFF_FFFF)) >> np.uint64(parent_shift) << np.uint64(parent_shift)
        octet = rng.integers(0, 1 << v4_bits, size=n, dtype=np.uint64) << np.uint64(v4_shift)
        host = rng.integers(1, (1 << v4_shift) - 1, size=n, dtype=np.uint64)
        v4_hi, v4_lo = _v4(parent | octet | host)
        # IPv6: /24's analogue is a /64 inside the /48, /16's a /48 inside the /32.
        keep = 48 if level == "24" else 32
        prefix = a_hi >> np.uint64(64 - keep) << np.uint64(64 - keep)
        v6_hi = prefix | rng.integers(0, 1 << (64 - keep), size=n, dtype=np.uint64)
        v6_lo = rng.integers(0, 1 << 64, size=n, dtype=np.uint64)
        hi, lo = np.where(v4, v4_hi, v6_hi), np.where(v4, v4_lo, v6_lo)
        ok = ~contains_sorted(victims.used[level], network_keys(victim, hi, lo, level))
        return ok, hi, lo

    return propose


def _other_users(victims: _Victims) -> _Proposal:
    def propose(victim: np.ndarray, login: np.ndarray, rng: np.random.Generator) -> _Proposed:
        other = rng.integers(len(victims.entity), size=len(victim))
        hi, lo = victims.hi[other], victims.lo[other]
        ok = (victims.entity[other] != victim) & ~contains_sorted(victims.used["ip"], network_keys(victim, hi, lo, "ip"))
        return ok, hi, lo

    return propose


def _random(
    name: str, victims: _Victims, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(victim, hi, lo) of ``n`` random attacks: no address is excluded (one the victim used is rare)."""
    victim, _ = victims.draw(rng, n)
    if name == "random_ipv4":
        address = rng.integers(0, 1 << 32, size=n, dtype=np.uint64)
    else:
        from ipinsights.lab.ranges import RangeTable

        table = RangeTable.builtin()
        row = rng.integers(len(table), size=n)
        address = table.begin[row].astype(np.uint64) + rng.integers(0, table.length[row]).astype(np.uint64)
    hi, lo = _v4(address)
    return victim, hi, lo


def make_log_attacks(
    train: Pairs,
    normal: Pairs,
    n: int,
    *,
    seed: int = 0,
    names: tuple[str, ...] | list[str] = LOG_ATTACKS,
    source: str | None = None,
) -> dict[str, LogAttack]:
    """Build attack sets from the training and normal logins (see the module docstring).

    Args:
        train: The training logins (victims' known networks, other users' addresses).
        normal: The normal logins the attacks are compared with (victims are their entities).
        n: Rows per set.
        seed: Each set draws from its own stream of this seed.
        names: Which sets, from :data:`LOG_ATTACKS`.
        source: Where the logins came from, for each set's report (default: the training source).

    Returns:
        ``{name: LogAttack}`` in the order of ``names``.

    Raises:
        ConfigError: An unknown set, ``n`` below 1 or a negative seed.
        DataError: No normal entity is in training, or a set finds no address at all.

    Example:
        >>> from ipinsights.data import pairs_from_columns
        >>> train = pairs_from_columns(["a", "a", "b"], ["10.0.0.1", "10.0.1.9", "192.0.2.7"], source="t")
        >>> sets = make_log_attacks(train, train, 4, seed=1, names=["nearby_24", "other_users"])
        >>> [len(s.pairs) for s in sets.values()]
        [4, 4]
    """
    unknown = [name for name in names if name not in LOG_ATTACKS]
    if unknown:
        raise ConfigError(f"unknown attack set {unknown[0]!r}; choose from {', '.join(LOG_ATTACKS)}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of attack rows must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the attack seed must be a non-negative integer, got {seed!r}")
    victims = _Victims(train, normal)
    out = {}
    for name in names:
        rng = _rng(int(seed), name)
        if name in ("random_range", "random_ipv4"):
            entity, hi, lo = _random(name, victims, n, rng)
        else:
            propose = (
                _other_users(victims)
                if name == "other_users"
                else _nearby(name.removeprefix("nearby_"), victims)
            )
            entity, hi, lo = _draw_until_free(name, victims, n, rng, propose)
        label = f"{name} from {source or train.report.source} (seed {seed})"
        report = ReadReport(
            source=label,
            num_rows=len(entity),
            num_distinct_entities=len(sorted_unique(entity)),
            num_ipv6_rows=int((~is_ipv4(hi, lo)).sum()),
        )
        pairs = Pairs(entity, hi.view(np.int64), lo.view(np.int64), report)
        out[name] = LogAttack(name, pairs, DESCRIPTIONS[name], int(seed))
    return out
