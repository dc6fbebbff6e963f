"""Scoring for inference: the IP encoder folded into lookup tables, pairs scored in chunks.

Training needs the network as it is; scoring only needs its output. With at most one encoder
layer (the default) the encoder is linear in its inputs:

    v = W (bits_map(bits) + Σ_level T_level[row_level]) + b
      = c + Σ_level (T_level Wᵀ)[row_level] + Σ_byte B_byte[value of the byte]

where ``B_byte`` is the bits map of one byte's 8 sign features pushed through the layer (256
rows) and ``c`` collects the biases. :class:`FoldedEncoder` computes these tables once (in
float64, rounded to float32 at the end), so that an IPv4 address is four row gathers: the
/8 and /16 tables and the first two bytes fold further into one 65,536-row table indexed by
``a.b``, plus one row for each of the last two bytes (and one per hashed /24, /32 table of the
deeper designs). No matrix product is left; the dot product with the entity vector is the only
arithmetic. Deeper encoders cannot fold (a ReLU sits between the layers): they encode each
distinct address of a chunk once.

:class:`Scorer` is the one inference path: ``IPInsights.score_hashed`` (and so ``predict``,
``serve``, ``evaluate`` and the Python API) score through it. It works in chunks of
:data:`CHUNK` pairs, whose temporaries stay in cache, and adds the entity-history ``score``
(:mod:`ipinsights.history`) chunk by chunk: its features are per-pair lookups, so a pair's
score does not depend on the chunk it is in.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import numpy as np
import torch

from ipinsights.addresses import is_ipv4
from ipinsights.entities import entity_rows
from ipinsights.history import EntityHistory, HistoryScore
from ipinsights.model import IPInsightsNet, ip_features

__all__ = ["CHUNK", "FoldedEncoder", "Scorer", "Scores"]

#: Pairs scored at once: the chunk's (n, vector_dim) temporaries (2 MB at vector_dim=128) stay
#: in the CPU's cache and below glibc's mmap threshold.
CHUNK = 4096

_MASK32 = 0xFFFF_FFFF


class Scores(NamedTuple):
    """Scores of a batch of pairs.

    Attributes:
        dot_product: (n,) float32, the raw score (log-odds that the pair is normal).
        known_entity: (n,) bool, whether the entity occurred in the training data.
        entity_embedding: (n, vector_dim) float32, or ``None`` unless asked for.
        ip_embedding: (n, vector_dim) float32, or ``None`` unless asked for.
        score: (n,) float64, the combined score of :mod:`ipinsights.history` (higher = more
            normal: the log-odds of a normal login given the dot product and the entity's
            history), or ``None`` for a model without one (trained without validation data or
            with ``history_score=False``).
    """

    dot_product: np.ndarray
    known_entity: np.ndarray
    entity_embedding: np.ndarray | None = None
    ip_embedding: np.ndarray | None = None
    score: np.ndarray | None = None


class _HashSet:
    """Exact membership of uint64 keys: open addressing with linear probing, lookups vectorised
    over the queries. 120 instead of 198 ns per query against 60,000 keys (binary search,
    ``searchsorted``: ~16 dependent cache misses per query), measured on the loaded machine."""

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: 2**64 / golden ratio, odd

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.unique(np.asarray(keys, dtype=np.uint64))
        bits = max(4, int(2 * len(keys)).bit_length())  # at most half full: ~1.5 probes a query
        self.shift, self.mask = np.uint64(64 - bits), (1 << bits) - 1
        self.table = np.zeros(1 << bits, dtype=np.uint64)
        self.occupied = np.zeros(1 << bits, dtype=bool)
        pending, slots = keys, self._slots(keys)
        while len(pending):  # each round, one key per free slot moves in; the others probe on
            free = np.flatnonzero(~self.occupied[slots])
            _, first = np.unique(slots[free], return_index=True)
            placed = free[first]
            self.table[slots[placed]] = pending[placed]
            self.occupied[slots[placed]] = True
            left = np.ones(len(pending), dtype=bool)
            left[placed] = False
            pending, slots = pending[left], (slots[left] + 1) & self.mask

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys * self._MULTIPLIER) >> self.shift).astype(np.int64)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """(n,) bool: whether each query is a key."""
        queries = np.asarray(queries, dtype=np.uint64)
        slots = self._slots(queries)
        found = np.zeros(len(queries), dtype=bool)
        active = np.arange(len(queries))
        while len(active):
            at = slots[active]
            occupied = self.occupied[at]
            hit = occupied & (self.table[at] == queries[active])
            found[active[hit]] = True
            go_on = occupied & ~hit
            active = active[go_on]
            slots[active] = (at[go_on] + 1) & self.mask
        return found


class FoldedEncoder:
    """A linear IP encoder (at most one layer) as lookup tables: same vectors, no matrix product.

    Attributes:
        ipv4_rows: (65536 + 512, d) float32: rows ``a.b`` (the /8 and /16 tables, the first two
            bytes' bits and every bias), then 256 rows for the third byte and 256 for the fourth.
        ipv4_levels: (buckets, d) float32 tables of the hashed IPv4 /24 and /32 levels, if the
            design has them.

    The IPv6 tables (:meth:`ipv6_tables`) are folded on first use.
    """

    def __init__(self, net: IPInsightsNet) -> None:
        encoder = net.ip
        if len(encoder.layers) > 1:
            raise ValueError(
                f"only an encoder with at most one layer is linear and can fold; this one has {len(encoder.layers)}"
            )
        # The small parts (the layer, biases, byte tables) are folded in float64 and rounded once;
        # the level tables go through one float32 matrix product each (0.1 s instead of 0.7 s
        # and a quarter of the memory for the 131,072-row /16 table; the same 1e-7 rounding).
        with torch.no_grad():
            dim = encoder.bits.out_features
            device = encoder.bits.weight.device
            if len(encoder.layers):
                layer = cast(torch.nn.Linear, encoder.layers[0])
                w = layer.weight.detach().double()  # (d, d): v = w h + b
                b = layer.bias.detach().double()
            else:
                w = torch.eye(dim, dtype=torch.float64, device=device)
                b = torch.zeros(dim, dtype=torch.float64, device=device)
            bits_w = encoder.bits.weight.detach().double()  # (d, 97)
            constant = w @ encoder.bits.bias.detach().double() + b  # (d,)
            signs = (
                (torch.arange(256, device=device)[:, None] >> torch.arange(7, -1, -1, device=device)) & 1
            ).double() * 2 - 1

            def byte_table(column: int) -> torch.Tensor:
                """(256, d): one byte's 8 sign features from ``column`` on, through the bits map and the layer."""
                return signs @ (w @ bits_w[:, column : column + 8]).t()

            self._w32 = w.float().t().contiguous()  # (d, d): h @ w32 = the layer without its bias
            self._tables = [table.detach() for table in encoder.tables]
            num_levels = len(self._tables)
            # IPv4: a.b indexes the /8 table (row a) and the /16 table (row a.b) exactly.
            ab = torch.arange(65536, device=device)
            head = (constant + byte_table(0)[ab >> 8] + byte_table(8)[ab & 0xFF]).float()
            if num_levels >= 1:
                head += (self._tables[0][:256] @ self._w32)[ab >> 8]
            if num_levels >= 2:
                head += self._tables[1][:65536] @ self._w32
            self.ipv4_rows = torch.cat([head, byte_table(16).float(), byte_table(24).float()]).contiguous()
            self.ipv4_levels = [self._tables[k] @ self._w32 for k in range(2, num_levels)]
            self._ipv6_small = [
                *(byte_table(32 + 8 * k).float() for k in range(8)),
                (constant + w @ bits_w[:, 96])[None].float(),
            ]
        self._ipv6: tuple[torch.Tensor, torch.Tensor] | None = None
        self.num_levels = num_levels
        self.dim = dim

    def ipv6_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rows, offsets)``: every IPv6 table in one (the levels, 256 rows per byte of the top
        64 bits, one row of constants) and the first row of each; folded on first use, since
        many logs have no IPv6 address."""
        if self._ipv6 is None:
            with torch.no_grad():
                parts = [*(table @ self._w32 for table in self._tables), *self._ipv6_small]
                sizes = [len(p) for p in parts]
                offsets = torch.tensor(np.cumsum([0, *sizes[:-1]]), dtype=torch.int64, device=parts[0].device)
                self._ipv6 = (torch.cat(parts).contiguous(), offsets)
        return self._ipv6

    def ipv4_indices(self, lo: np.ndarray) -> np.ndarray:
        """(n, 3) int64 rows of ``ipv4_rows`` for IPv4 addresses given by their low words."""
        v4 = lo & _MASK32
        rows = np.empty((len(lo), 3), dtype=np.int64)
        rows[:, 0] = v4 >> 16
        rows[:, 1] = 65536 + ((v4 >> 8) & 0xFF)
        rows[:, 2] = 65536 + 256 + (v4 & 0xFF)
        return rows

    def encode(self, hi: torch.Tensor, lo: torch.Tensor, is_v4: np.ndarray) -> torch.Tensor:
        """(n,) address words → (n, d) IP vectors, equal to the network's to float32 rounding."""
        n = len(hi)
        out = self.ipv4_rows.new_empty(n, self.dim)
        num_v4 = int(is_v4.sum())
        if num_v4:
            v4 = slice(None) if num_v4 == n else torch.from_numpy(np.flatnonzero(is_v4)).to(hi.device)
            v4_lo = lo[v4]
            idx = torch.from_numpy(self.ipv4_indices(v4_lo.cpu().numpy())).to(hi.device)
            vectors = torch.nn.functional.embedding_bag(idx, self.ipv4_rows, mode="sum")
            if self.num_levels > 2:
                features = ip_features(hi[v4], v4_lo)
                for k, table in enumerate(self.ipv4_levels):
                    vectors += table.index_select(0, features.levels[:, 2 + k])
            out[v4] = vectors
        if num_v4 < n:
            v6 = slice(None) if num_v4 == 0 else torch.from_numpy(np.flatnonzero(~is_v4)).to(hi.device)
            v6_hi = hi[v6]
            ipv6_rows, ipv6_offsets = self.ipv6_tables()
            features = ip_features(v6_hi, lo[v6])
            v6_bytes = torch.stack([(v6_hi >> s) & 0xFF for s in range(56, -1, -8)], dim=1)  # (n6, 8)
            idx = (
                torch.cat(
                    [
                        features.levels[:, : self.num_levels],
                        v6_bytes,
                        torch.zeros(len(v6_hi), 1, dtype=torch.int64, device=hi.device),
                    ],
                    dim=1,
                )
                + ipv6_offsets
            )  # (n6, levels + 9)
            out[v6] = torch.nn.functional.embedding_bag(idx, ipv6_rows, mode="sum")
        return out


class Scorer:
    """Scores (entity, address) pairs with a trained network, for inference.

    Built once per loaded model (``IPInsights`` keeps one and rebuilds it when the weights
    change). Thread-safe for concurrent calls: it only reads its tables.

    Args:
        net: The trained network.
        num_entity_vectors: Rows of the entity table (hash → row).
        known_entity_hashes: Sorted distinct entity hashes of the training data.
        history, history_score: The entity history and its combined score, or ``None``.
        fold: Fold the encoder when it is linear (``False``: run the network, for comparison).
        chunk: Pairs per chunk.

    Example:
        >>> from ipinsights.model import IPInsightsNet
        >>> net = IPInsightsNet(100, 8, 1)
        >>> scorer = Scorer(net, num_entity_vectors=100, known_entity_hashes=np.zeros(0, np.uint64))
        >>> scorer.folded
        True
        >>> scorer.score(np.array([7], np.uint64), np.array([0]), np.array([0xFFFF_0A000001])).dot_product.shape
        (1,)
    """

    def __init__(
        self,
        net: IPInsightsNet,
        *,
        num_entity_vectors: int,
        known_entity_hashes: np.ndarray,
        history: EntityHistory | None = None,
        history_score: HistoryScore | None = None,
        fold: bool = True,
        chunk: int = CHUNK,
    ) -> None:
        self.net = net
        self.entity = net.entity.detach()
        self.num_entity_vectors = num_entity_vectors
        self.known_entity_hashes = known_entity_hashes
        self._known = _HashSet(known_entity_hashes)
        self.history = history if history_score is not None else None
        self.history_score = history_score if history is not None else None
        self.folded_encoder = FoldedEncoder(net) if fold and len(net.ip.layers) <= 1 else None
        self.chunk = chunk

    @property
    def folded(self) -> bool:
        """Whether the encoder is folded into tables (a linear encoder and ``fold=True``)."""
        return self.folded_encoder is not None

    def known(self, entity_hash: np.ndarray) -> np.ndarray:
        """Whether each entity hash occurred in the training data, (n,) bool."""
        return self._known.contains(entity_hash)

    @torch.no_grad()
    def score(
        self, entity_hash: np.ndarray, ip_hi: np.ndarray, ip_lo: np.ndarray, *, embeddings: bool = False
    ) -> Scores:
        """Score pairs already hashed and parsed (see :mod:`ipinsights.data`).

        Args:
            entity_hash: (n,) uint64 entity hashes.
            ip_hi, ip_lo: (n,) int64 address words (IPv4 as ``::ffff:a.b.c.d``).
            embeddings: Also return the entity and IP vectors.

        Returns:
            :class:`Scores`: dot products (float32, equal to the network's to float32
            rounding), known-entity flags, the combined ``score`` when the model has one, and
            with ``embeddings=True`` the vectors.
        """
        entity_hash = np.asarray(entity_hash, dtype=np.uint64)
        hi, lo = np.asarray(ip_hi, dtype=np.int64), np.asarray(ip_lo, dtype=np.int64)
        n, dim = len(entity_hash), self.entity.shape[1]
        dot = np.empty(n, dtype=np.float32)
        combined = np.empty(n, dtype=np.float64) if self.history_score is not None else None
        entity_vectors = np.empty((n, dim), dtype=np.float32) if embeddings else None
        ip_vectors = np.empty((n, dim), dtype=np.float32) if embeddings else None
        for start in range(0, n, self.chunk):
            part = slice(start, min(start + self.chunk, n))
            e, v = self._vectors(entity_hash[part], hi[part], lo[part])
            if entity_vectors is not None and ip_vectors is not None:
                entity_vectors[part] = e.cpu().numpy()
                ip_vectors[part] = v.cpu().numpy()
            # Multiply in place and sum: 2.5x faster than bmm of (chunk, 1, d) by (chunk, d, 1).
            dot[part] = v.mul_(e).sum(dim=1).cpu().numpy()  # (chunk,)
            if combined is not None:
                assert self.history is not None and self.history_score is not None
                features = self.history.features(entity_hash[part], hi[part], lo[part], dot[part])
                combined[part] = self._combined(features)
        return Scores(dot, self.known(entity_hash), entity_vectors, ip_vectors, combined)

    def _combined(self, features: np.ndarray) -> np.ndarray:
        """:class:`HistoryScore` of feature rows (it sums each row on its own, so that a pair's
        score does not depend on its chunk) on the columns that score reads."""
        assert self.history_score is not None
        return self.history_score(features)

    def _vectors(
        self, entity_hash: np.ndarray, hi: np.ndarray, lo: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The (n, d) entity and IP vectors of one chunk."""
        device = self.entity.device
        rows = torch.from_numpy(entity_rows(entity_hash, self.num_entity_vectors)).to(device)
        e = torch.nn.functional.embedding(rows, self.entity)
        t_hi, t_lo = torch.from_numpy(hi).to(device), torch.from_numpy(lo).to(device)
        if self.folded_encoder is not None:
            return e, self.folded_encoder.encode(t_hi, t_lo, is_ipv4(hi, lo))
        # A deep encoder: each distinct address of the chunk once (logs repeat addresses).
        keys = np.stack([hi, lo], axis=1)
        distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
        if len(distinct) < len(keys):
            d_hi = torch.from_numpy(np.ascontiguousarray(distinct[:, 0])).to(device)
            d_lo = torch.from_numpy(np.ascontiguousarray(distinct[:, 1])).to(device)
            vectors = self.net.embed_ips(d_hi, d_lo)
            return e, vectors.index_select(0, torch.from_numpy(inverse.reshape(-1)).to(device))
        return e, self.net.embed_ips(t_hi, t_lo)
