"""Entity history: what each entity did in training, kept in the artifact beside the network.

The dot product generalises by address proximity (shared prefix tables, the bits map): good for
a user's own new addresses near home, bad for an attacker next door. Counting rules see the other
side exactly: how often this entity used this address, /24 and /16. :class:`EntityHistory` keeps
those counts (and how busy each /16 and /8 is over all entities), and :class:`HistoryScore`
combines them with the dot product into one ``score`` (a logistic model, wide-and-deep style,
on these terms and, by default, every product of two of them):

    score = dot · (w_16 [c16 > 0] + w_8 [c16 = 0 < c8] + w_far [c8 = 0]) + b_16 [c16 > 0] + b_8 [c16 = 0 < c8]
            + Σ_level w_level · log(1 + c_level) + w_n · log(1 + n) + Σ_level v_level · log(1 + g_level)
            + u_8 log(1 + d_16) + u_16 log(1 + d_24) + u_p log p(ip | entity) + u_g log g(ip) + b

where ``c_*`` count the entity's training logins in the address, its /24, /16 and /8 (IPv6: the
address, /64, /48 and /32), ``n`` all its training logins and ``g_*`` everybody's logins in
the /16 and /8 (IPv6: /48 and /32). Separate dot-product weights in a known /16, in a known /8
but a new /16 (next door), and far from every known network let the score trust proximity
where the history is rich and distrust it next door, where an attacker with an address in the
victim's region sits, while a traveller far away is judged by the dot product. ``d_16`` is how
many /16s a new /16 of a known /8 lies from the nearest one the entity used, ``d_24`` the same
for a new /24 of a known /16; ``p`` and ``g`` are the back-off baseline's probabilities of the
address for this entity and for everybody (``BackoffBaseline``'s Witten-Bell chain, relative to
the uniform prior).

The weights are fitted after training on unlabeled data only: the validation days' logins
(positives) against the same fixed-seed negatives as the validation metrics (random addresses,
other entities' addresses, the next /16s, the next /24s, inhabited /16s:
``ipinsights.train.ValidationSet``), with the counts taken from the training days, so that a
positive is scored as a future login would be.
``dot_product`` stays the reference's score; ``score`` is ours (``docs/design.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ipinsights.addresses import NETWORK_LEVELS, is_ipv4, network

__all__ = ["DEFAULT_FEATURES", "FEATURES", "KIND_WEIGHTS", "EntityHistory", "HistoryScore", "expand"]

#: The features of :class:`HistoryScore`, in the order of its weights.
FEATURES = (
    "dot_in_known_16",
    "dot_in_known_8_only",
    "dot_outside_known_8",
    "in_known_16",
    "in_known_8_only",
    "log1p_count_ip",
    "log1p_count_24",
    "log1p_count_16",
    "log1p_count_8",
    "log1p_entity_logins",
    "log1p_busy_16",
    "log1p_busy_8",
    "log1p_distance_16_in_known_8",
    "log_p_backoff",
    "log_g_backoff",
    "log1p_distance_24_in_known_16",
)
#: The features the default score reads: all of them (``docs/design.md``, "The default score"). A
#: score saved with fewer names reads just those.
DEFAULT_FEATURES = FEATURES

#: Each kind of validation negative's share of the negatives' weight when the default score is
#: fitted, by the name of its metric (``ipinsights.train.ValidationSet.negatives``): random
#: addresses weigh four times each other kind. Chosen on validation alone (``docs/design.md``,
#: "Roaming logins, and the kinds' shares"): with equal shares the score trails the back-off rule on
#: random addresses; more weight there closes most of that gap at a small cost on the other kinds,
#: where shifting weight to roaming and populated networks instead cost the nearby kinds their
#: true-positive rate at 1 % false positives.
KIND_WEIGHTS = {
    "discriminator_auc": 4.0,
    "other_users_auc": 1.0,
    "nearby_auc": 1.0,
    "nearby_24_auc": 1.0,
    "populated_auc": 1.0,
    "roaming_auc": 1.0,
}

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
#: The levels by name: the address, /24, /16, /8 (IPv6: the address, /64, /48, /32).
_LEVELS = {level.name: level for level in NETWORK_LEVELS}


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def network_keys(entity_hash: np.ndarray | None, hi: np.ndarray, lo: np.ndarray, level: str) -> np.ndarray:
    """One uint64 key per (entity, network at ``level``), or per network when ``entity_hash`` is None.

    ``level`` is "ip", "24", "16" or "8" (IPv6: the address, /64, /48, /32).

    64-bit hashes: two distinct keys of a million-row history collide with odds of about 1e-8.
    """
    net_hi, net_lo = (w.astype(np.uint64) for w in network(hi.astype(np.int64), lo.astype(np.int64), _LEVELS[level]))
    with np.errstate(over="ignore"):
        h = _mix(net_hi ^ np.uint64(len(level)))
        h = _mix(h ^ net_lo)
        if entity_hash is not None:
            h = _mix(h ^ np.asarray(entity_hash, dtype=np.uint64))
    return h


#: Where the index of a network inside its parent sits, by the parent's level: (bit offset of the
#: IPv4 octet in the low word, bit offset of the IPv6 16-bit group in the high word). Inside a /8,
#: the /16 (IPv6: the /48 inside the /32); inside a /16, the /24 (IPv6: the /64 inside the /48).
_INNER_FIELD = {"8": (16, 16), "16": (8, 0)}


def _inner(parent_keys: np.ndarray, hi: np.ndarray, lo: np.ndarray, parent: str) -> tuple[np.ndarray, np.ndarray]:
    """(entity, parent network) keys (``network_keys`` at ``parent``) with their low 16 bits
    cleared, and each address's index in that network.

    ``parent="8"``: IPv4 ``a.b.c.d`` gives the /8 ``a`` and the index ``b`` (IPv6: the /32 and the
    third 16-bit group); ``parent="16"``: the /16 ``a.b`` and the index ``c`` (IPv6: the /48 and
    the fourth group).
    """
    v4_bit, v6_bit = _INNER_FIELD[parent]
    u_hi, u_lo = hi.astype(np.uint64), lo.astype(np.uint64)
    is_v4 = is_ipv4(u_hi, u_lo)
    index = np.where(is_v4, (u_lo >> np.uint64(v4_bit)) & np.uint64(0xFF), (u_hi >> np.uint64(v6_bit)) & np.uint64(0xFFFF))
    return parent_keys & ~np.uint64(0xFFFF), index


def _nearest(sorted_keys: np.ndarray, outer: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Distance from each index to the nearest stored index under the same outer key (inf if none)."""
    query = outer | index
    at = np.searchsorted(sorted_keys, query)
    best = np.full(len(query), np.inf)
    for pos in (at - 1, at):
        ok = (pos >= 0) & (pos < len(sorted_keys))
        found = sorted_keys[np.clip(pos, 0, max(len(sorted_keys) - 1, 0))] if len(sorted_keys) else query
        same = ok & ((found & ~np.uint64(0xFFFF)) == outer)
        gap = np.abs((found & np.uint64(0xFFFF)).astype(np.int64) - index.astype(np.int64))
        best = np.where(same, np.minimum(best, gap), best)
    return best


@dataclass
class _Counts:
    """Sorted distinct uint64 keys and the count of each; lookups by ``searchsorted``."""

    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Counts:
        distinct, counts = np.unique(keys, return_counts=True)
        return cls(distinct, counts.astype(np.int32))

    def __call__(self, query: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.zeros(len(query), dtype=np.float64)
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        return np.where(self.keys[at] == query, self.counts[at], 0).astype(np.float64)


#: Per-entity levels and population levels kept by :class:`EntityHistory`.
_ENTITY_LEVELS = ("ip", "24", "16", "8")
_BUSY_LEVELS = ("16", "8")
#: The back-off chain, finest first: (child, parent); "root" is the whole address space.
_CHAIN = (("ip", "24"), ("24", "16"), ("16", "8"), ("8", "root"))
#: log of a child's uniform prior inside its parent, (IPv4, IPv6), as ``BackoffBaseline`` has
#: them: 256 children per IPv4 level, 2**64 addresses per /64, 2**16 /64s per /48 and /48s per
#: /32, and half of the root's mass on each family.
_LOG_FLOOR = {
    "ip": (-np.log(256.0), -64 * np.log(2.0)),
    "24": (-np.log(256.0), -16 * np.log(2.0)),
    "16": (-np.log(256.0), -16 * np.log(2.0)),
    "8": (-np.log(2.0 * 256), -np.log(2.0 * 2.0**32)),
}
#: Tables of the back-off features, absent from artifacts written before they existed.
_BACKOFF_TABLES = (
    "busy_ip",
    "busy_24",
    "busy_root",
    *(f"{who}_distinct_{parent}" for who in ("entity", "busy") for _, parent in _CHAIN),
)


def _parent_keys(entity_hash: np.ndarray | None, hi: np.ndarray, lo: np.ndarray, level: str) -> np.ndarray:
    """Keys of a back-off parent: a network as :func:`_keys`, or the root (the entity alone, or one key)."""
    if level != "root":
        return network_keys(entity_hash, hi, lo, level)
    if entity_hash is None:
        return np.zeros(len(hi), dtype=np.uint64)
    return _mix(np.asarray(entity_hash, dtype=np.uint64))


def _distinct_children(child_keys: np.ndarray, parent_keys: np.ndarray) -> np.ndarray:
    """The parent key of each distinct (entity,) child network: counted, how many children a parent has."""
    _, first = np.unique(child_keys, return_index=True)
    return parent_keys[first]


class _Keys:
    """The scored pairs' network keys, each (entity or everybody, level) computed once: the counts,
    the back-off chain and the distances read the same ones."""

    def __init__(self, entity_hash: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> None:
        self.entity_hash, self.hi, self.lo = entity_hash, hi, lo
        self.cache: dict[tuple[str, bool], np.ndarray] = {}

    def __call__(self, level: str, *, entity: bool = True) -> np.ndarray:
        """Keys at ``level`` ("ip", "24", "16", "8" or "root"), the entity's or everybody's."""
        if (level, entity) not in self.cache:
            self.cache[level, entity] = _parent_keys(self.entity_hash if entity else None, self.hi, self.lo, level)
        return self.cache[level, entity]


class EntityHistory:
    """Counts of the training logins: per entity at the address, /24 and /16; over all at /16 and /8.

    Example:
        >>> from ipinsights.addresses import parse_ips
        >>> from ipinsights.entities import hash_entities
        >>> _, hi, lo = parse_ips(["10.1.2.3", "10.1.9.9", "10.7.0.1"])
        >>> history = EntityHistory.build(hash_entities(["a", "a", "b"]), hi, lo)
        >>> history.features(hash_entities(["a"]), hi[:1], lo[:1], np.zeros(1))[0, 3:].round(3).tolist()
        [1.0, 0.0, 0.693, 0.693, 1.099, 1.099, 1.099, 1.099, 1.386, 0.0, 21.3, 19.607, 0.0]

        A new /24 in a known /16 is so many /24s from the nearest one the entity used (10.1.2 to
        10.1.5: 3, the last feature is log(1 + 3)):

        >>> _, hi, lo = parse_ips(["10.1.5.5"])
        >>> round(float(history.features(hash_entities(["a"]), hi, lo, np.zeros(1))[0, -1]), 3)
        1.386
    """

    def __init__(self, tables: dict[str, _Counts]) -> None:
        self.tables = tables

    @classmethod
    def build(
        cls, entity_hash: np.ndarray, ip_hi: np.ndarray, ip_lo: np.ndarray, *, backoff: bool = True
    ) -> EntityHistory:
        """Count the training logins. ``backoff=False`` leaves out the back-off chain's tables,
        which only ``log_p_backoff``/``log_g_backoff`` read: without them those two features are
        NaN (a score that reads them cannot be used), and the artifact is smaller."""
        key = _Keys(entity_hash, ip_hi, ip_lo)  # each level's keys hashed once for every table
        tables = {f"entity_{lv}": _Counts.of(key(lv)) for lv in _ENTITY_LEVELS}
        tables |= {f"busy_{lv}": _Counts.of(key(lv, entity=False)) for lv in _BUSY_LEVELS}
        tables["entity"] = _Counts.of(key("root"))
        for child, parent in (("16", "8"), ("24", "16")):
            outer, index = _inner(key(parent), ip_hi, ip_lo, parent)
            tables[f"entity_{child}_in_{parent}"] = _Counts.of(outer | index)
        if not backoff:
            return cls(tables)
        tables |= {f"busy_{lv}": _Counts.of(key(lv, entity=False)) for lv in ("ip", "24", "root")}
        for child, parent in _CHAIN:
            tables[f"entity_distinct_{parent}"] = _Counts.of(_distinct_children(key(child), key(parent)))
            tables[f"busy_distinct_{parent}"] = _Counts.of(_distinct_children(key(child, entity=False), key(parent, entity=False)))
        return cls(tables)

    def _backoff(
        self, key: _Keys, is_v4: np.ndarray, mine: dict[str, np.ndarray], busy: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``log p(ip | entity)`` and ``log g(ip)`` of ``BackoffBaseline`` (/8 top), from the tables,
        each minus the log of the address's uniform prior (the product of the floors), so that an
        IPv6 address (2**-128 uniform) and an IPv4 address (2**-33) are on one scale: 0 means "as
        likely as a uniform draw". ``mine``: the entity's counts at ip, 24, 16, 8 and root; ``busy``:
        everybody's counts already looked up (at /16 and /8).

        Each level multiplies in an interpolated Witten-Bell estimate: the entity's count in the
        child network, backed off towards everybody's ``g`` in proportion to the distinct children
        the entity used in the parent; ``g`` itself backs off towards the uniform prior.
        """
        if any(name not in self.tables for name in _BACKOFF_TABLES):
            nan = np.full(len(is_v4), np.nan)
            return nan, nan
        everybody = {lv: busy[lv] if lv in busy else self.tables[f"busy_{lv}"](key(lv, entity=False)) for lv in (*_ENTITY_LEVELS, "root")}
        log_p, log_g = np.zeros(len(is_v4)), np.zeros(len(is_v4))
        for child, parent in _CHAIN:
            floor = np.exp(np.where(is_v4, *_LOG_FLOOR[child]))
            spread = self.tables[f"busy_distinct_{parent}"](key(parent, entity=False))
            seen = everybody[parent] > 0
            g = np.where(seen, (everybody[child] + spread * floor) / np.where(seen, everybody[parent] + spread, 1.0), floor)
            novelty = self.tables[f"entity_distinct_{parent}"](key(parent))
            known = mine[parent] > 0
            p = np.where(known, (mine[child] + novelty * g) / np.where(known, mine[parent] + novelty, 1.0), g)
            log_p += np.log(p) - np.log(floor)
            log_g += np.log(g) - np.log(floor)
        return log_p, log_g

    def _distance(self, table: str, key: _Keys, hi: np.ndarray, lo: np.ndarray, parent: str, where: np.ndarray) -> np.ndarray:
        """``log(1 + d)`` where ``where`` holds, ``d`` the distance from the address's network to
        the nearest one the entity used inside the same parent (``table``); 0 elsewhere, NaN for
        every pair when an older artifact lacks the table."""
        if table not in self.tables:
            return np.full(len(hi), np.nan)
        distance = _nearest(self.tables[table].keys, *_inner(key(parent), hi, lo, parent))
        return np.where(where, np.log1p(np.where(np.isfinite(distance), distance, 0.0)), 0.0)

    def features(
        self, entity_hash: np.ndarray, ip_hi: np.ndarray, ip_lo: np.ndarray, dot_product: np.ndarray
    ) -> np.ndarray:
        """(n, len(FEATURES)) float64 features of :class:`HistoryScore` for scored pairs."""
        key = _Keys(entity_hash, ip_hi, ip_lo)
        counts = {lv: self.tables[f"entity_{lv}"](key(lv)) for lv in _ENTITY_LEVELS}
        counts["root"] = self.tables["entity"](key("root"))  # all the entity's logins
        busy = {lv: self.tables[f"busy_{lv}"](key(lv, entity=False)) for lv in _BUSY_LEVELS}
        known16 = (counts["16"] > 0).astype(np.float64)
        known8_only = ((counts["8"] > 0) & (counts["16"] == 0)).astype(np.float64)
        outside8 = 1.0 - known16 - known8_only
        dot = np.asarray(dot_product, dtype=np.float64)
        distance = self._distance("entity_16_in_8", key, ip_hi, ip_lo, "8", known8_only > 0)
        distance_24 = self._distance("entity_24_in_16", key, ip_hi, ip_lo, "16", (known16 > 0) & (counts["24"] == 0))
        log_p, log_g = self._backoff(key, is_ipv4(ip_hi, ip_lo), counts, busy)
        return np.stack(
            [
                dot * known16,
                dot * known8_only,
                dot * outside8,
                known16,
                known8_only,
                np.log1p(counts["ip"]),
                np.log1p(counts["24"]),
                np.log1p(counts["16"]),
                np.log1p(counts["8"]),
                np.log1p(counts["root"]),
                np.log1p(busy["16"]),
                np.log1p(busy["8"]),
                distance,
                log_p,
                log_g,
                distance_24,
            ],
            axis=1,
        )

    def to_tensors(self) -> dict[str, np.ndarray]:
        """Arrays for the artifact: ``history.<table>.keys`` (uint64 as int64) and ``.counts``."""
        out = {}
        for name, table in self.tables.items():
            out[f"history.{name}.keys"] = table.keys.view(np.int64)
            out[f"history.{name}.counts"] = table.counts
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> EntityHistory | None:
        """The history stored by :meth:`to_tensors`, or None when the artifact has none.

        Raises:
            ValueError: A table is missing or its arrays do not match (the caller names the file).
        """
        names = ["entity", "entity_16_in_8"] + [f"entity_{lv}" for lv in _ENTITY_LEVELS] + [f"busy_{lv}" for lv in _BUSY_LEVELS]
        if not any(k.startswith("history.") for k in tensors):
            return None
        tables = {}
        # Optional, absent from older artifacts: the back-off tables (all or none of them) and the
        # /24s in each /16.
        present = [name for name in _BACKOFF_TABLES if f"history.{name}.keys" in tensors]
        optional = ["entity_24_in_16"] if "history.entity_24_in_16.keys" in tensors else []
        for name in names + optional + (list(_BACKOFF_TABLES) if present else []):
            keys, counts = tensors.get(f"history.{name}.keys"), tensors.get(f"history.{name}.counts")
            if keys is None or counts is None or keys.ndim != 1 or keys.shape != counts.shape:
                raise ValueError(f"history table {name} is missing or its keys and counts differ in shape")
            keys = np.ascontiguousarray(keys, dtype=np.int64).view(np.uint64)
            if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
                raise ValueError(f"history table {name}: keys are not sorted and distinct")
            tables[name] = _Counts(keys, np.asarray(counts, dtype=np.int32))
        return cls(tables)


def expand(features: np.ndarray, degree: int) -> np.ndarray:
    """The features, and with ``degree=2`` also every product of two of them (squares included).

    (n, k) -> (n, k + k (k + 1) / 2), in the order of scikit-learn's ``PolynomialFeatures``.
    """
    if degree == 1:
        return features
    i, j = np.triu_indices(features.shape[1])
    return np.concatenate([features, features[:, i] * features[:, j]], axis=1)


def _num_terms(degree: int, num_features: int) -> int:
    k = num_features
    return k if degree == 1 else k + k * (k + 1) // 2


@dataclass(frozen=True)
class HistoryScore:
    """The combined ``score``: a logistic model on :data:`FEATURES` and, at ``degree=2`` (the
    default), every product of two of them (higher = more normal).

    Products let the weight of one feature depend on another (how much the dot product counts
    next door, given the distance to the entity's nearest /16, ...). Chosen on validation alone,
    measured on three generated data sets (``docs/design.md``, "Candidates measured").

    Attributes:
        weights: One per term of :func:`expand`, in its order.
        bias: The intercept.
        degree: 1 (the features) or 2 (also their pairwise products).
        features: The names of the features it reads, a subset of :data:`FEATURES` in their
            order (a score saved before a feature existed keeps working without it).
        bounds: (low, high) of each feature over the rows it was fitted on; scored features are
            clipped to them, so that a value never seen in fitting (an address family absent
            from the validation days, an entity far busier than any before) cannot be
            extrapolated by the products of degree 2 into an extreme score. ``None`` in scores
            saved before bounds existed.
    """

    weights: tuple[float, ...]
    bias: float
    degree: int = 2
    features: tuple[str, ...] = DEFAULT_FEATURES
    bounds: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.degree not in (1, 2):
            raise ValueError(f"a history score has degree 1 or 2, got {self.degree!r}")
        unknown = [name for name in self.features if name not in FEATURES]
        if unknown or not self.features or list(self.features) != sorted(set(self.features), key=FEATURES.index):
            raise ValueError(f"history_score.features must be distinct names of {list(FEATURES)} in that order")
        if self.bounds is not None and (
            len(self.bounds) != len(self.features)
            or not all(len(b) == 2 and np.isfinite(b).all() and b[0] <= b[1] for b in self.bounds)
        ):
            raise ValueError("history_score.bounds must hold one finite (low, high) pair per feature")
        terms = _num_terms(self.degree, len(self.features))
        if len(self.weights) != terms or not all(np.isfinite([*self.weights, self.bias])):
            raise ValueError(f"a degree-{self.degree} history score needs {terms} finite weights and a finite bias")

    @property
    def columns(self) -> list[int]:
        """Where this score's features sit in :data:`FEATURES` (and in ``EntityHistory.features``)."""
        return [FEATURES.index(name) for name in self.features]

    @classmethod
    def fit(
        cls,
        positives: np.ndarray,
        negatives: np.ndarray | Sequence[np.ndarray],
        *,
        degree: int = 2,
        features: tuple[str, ...] = DEFAULT_FEATURES,
        kind_weights: Sequence[float] | None = None,
    ) -> HistoryScore:
        """Fit the logistic model: feature rows of observed logins (1) against negatives (0).

        Rows hold every column of :data:`FEATURES`; the model reads ``features``. ``negatives`` is
        one array, or one per kind of negative with ``kind_weights`` giving each kind's share of
        the negatives' weight (equal shares by default). The two classes weigh equally whatever
        their sizes; terms are standardised for the solver and the weights mapped back, so that
        ``score`` works on raw features.
        """
        from sklearn.linear_model import LogisticRegression

        kinds = [negatives] if isinstance(negatives, np.ndarray) else list(negatives)
        shares = np.ones(len(kinds)) if kind_weights is None else np.asarray(kind_weights, dtype=np.float64)
        if len(shares) != len(kinds) or not (np.isfinite(shares).all() and (shares >= 0).all() and shares.sum() > 0):
            raise ValueError(f"kind_weights must be {len(kinds)} non-negative numbers, not all 0")
        columns = [FEATURES.index(name) for name in features]
        raw = np.concatenate([positives, *kinds])[:, columns]
        bounds = tuple((float(low), float(high)) for low, high in zip(raw.min(axis=0), raw.max(axis=0), strict=True))
        x = expand(raw, degree)
        y = np.concatenate([np.ones(len(positives)), np.zeros(len(raw) - len(positives))])
        # Half the weight on each class, the negatives' half shared by kind; a mean weight of 1.
        shares = shares / shares.sum()
        sample = np.concatenate(
            [np.full(len(positives), 0.5 / len(positives))]
            + [np.full(len(k), 0.5 * share / max(len(k), 1)) for k, share in zip(kinds, shares, strict=True)]
        ) * len(raw)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std == 0] = 1.0
        # Newton steps with a Cholesky solve: 152 terms and a few hundred thousand rows converge in
        # about 7 iterations (6 s on the demo's data), where L-BFGS took ~460 (80 s) to the same AUCs.
        model = LogisticRegression(C=1.0, max_iter=2000, solver="newton-cholesky")
        model.fit((x - mean) / std, y, sample_weight=sample)
        weights = model.coef_[0] / std
        bias = float(model.intercept_[0] - (weights * mean).sum())
        return cls(tuple(float(w) for w in weights), bias, degree, tuple(features), bounds)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(n,) float64 scores of (n, len(FEATURES)) feature rows: the logit of "normal".

        Each row is summed on its own (not a matrix-vector product, whose BLAS kernels round a
        row differently with the number of rows), so a pair's score does not depend on the
        batch it is scored in.
        """
        # C order throughout: a reduction over a strided row sums in another order than one row alone.
        x = np.ascontiguousarray(features[:, self.columns])
        if self.bounds is not None:
            low, high = np.asarray(self.bounds).T
            x = np.clip(x, low, high)
        terms = np.ascontiguousarray(expand(x, self.degree))
        return (terms * np.asarray(self.weights)).sum(axis=1) + self.bias

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "features": list(self.features),
            "degree": self.degree,
            "weights": list(self.weights),
            "bias": self.bias,
        }
        if self.bounds is not None:
            out["bounds"] = [list(b) for b in self.bounds]
        return out

    @classmethod
    def from_dict(cls, value: object) -> HistoryScore:
        """Raises: ValueError: not the shape :meth:`to_dict` writes."""
        if not isinstance(value, dict):
            raise ValueError(f"history_score must be an object with features, weights and bias, got {type(value).__name__}")
        names = value.get("features")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n in FEATURES for n in names):
            raise ValueError(f"history_score.features must be a list of names from {list(FEATURES)}")
        weights, bias, degree = value.get("weights"), value.get("bias"), value.get("degree", 1)
        if not isinstance(weights, list) or not all(isinstance(w, int | float) for w in weights):
            raise ValueError("history_score.weights must be a list of numbers")
        if not isinstance(bias, int | float):
            raise ValueError("history_score.bias must be a number")
        if not isinstance(degree, int) or isinstance(degree, bool):
            raise ValueError("history_score.degree must be 1 or 2")
        bounds = value.get("bounds")
        if bounds is not None and (
            not isinstance(bounds, list)
            or not all(isinstance(b, list) and all(isinstance(v, int | float) for v in b) for b in bounds)
        ):
            raise ValueError("history_score.bounds must be a list of [low, high] number pairs")
        return cls(
            tuple(float(w) for w in weights),
            float(bias),
            degree,
            tuple(names),
            None if bounds is None else tuple(tuple(float(v) for v in b) for b in bounds),  # type: ignore[misc]  # pairs: checked by __post_init__
        )
