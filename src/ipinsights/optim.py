"""Lazy Adam for embedding tables: a step costs the rows the batch touched, not the table size.

Dense Adam would also decay the moments of every untouched row each step; for a table of a
million rows that is the whole cost of training. Lazy Adam (as TensorFlow's ``LazyAdam`` and
MXNet's ``lazy_update``) updates only the rows present in the sparse gradient. ``weight_decay``
is the same coupled L2 term as ``torch.optim.Adam``, applied to the touched rows.

One deliberate difference from those: the bias correction uses each *row's* own update count,
not the global step. With the global count, a row touched for the first time after thousands
of steps gets ``m / sqrt(v)`` of about ``0.1 / sqrt(0.001) = 3.2`` times the learning rate, so
rarely seen entities and networks take the largest steps; per-row counts make every row's first
step ``lr`` as in Adam's first step. Measured on the example's data (1,000 users, lr 0.01):
validation AUC after 6 epochs 0.9888 with per-row counts vs 0.9867 with the global count
(``docs/design.md``).

Nothing is proportional to the table size after the first step either: the moments of a CPU
table start as untouched zero pages, so a table of a million rows costs memory only for the rows
that training reaches (``docs/performance.md``).
"""

from __future__ import annotations

import math
import mmap
import os
from typing import NamedTuple

import torch

__all__ = ["LazyAdam"]


def _lazy_zeros(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros that take memory only where written: fresh anonymous pages on CPU, zeros on GPUs.

    ``torch.zeros`` writes every byte at once, so the moments of a 1,000,000 x 128 table would
    take 1 GB from the first step. A private anonymous mapping is zero pages that the kernel
    backs on the first write, 4 KiB at a time (huge pages, which NumPy asks for, would back
    2 MiB per touched row: measured 489 MB instead of 14 MB for 3,000 rows of such a table).
    """
    numel = math.prod(shape)
    if like.device.type != "cpu" or os.name != "posix" or numel == 0:
        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    pages = mmap.mmap(-1, numel * like.element_size(), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        pages.madvise(mmap.MADV_NOHUGEPAGE)
    return torch.frombuffer(pages, dtype=like.dtype).view(shape)


class LazyAdam(torch.optim.Optimizer):
    """Adam with row-sparse updates for parameters that receive sparse gradients.

    Args:
        params: Parameters whose ``.grad`` is a sparse COO tensor (``F.embedding(sparse=True)``).
        lr: Step size.
        betas: Moment decay rates.
        eps: Denominator term.
        weight_decay: Coupled L2 coefficient.
    """

    def __init__(
        self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0
    ):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self._stores: dict[int, _Store | None] = {}  # by group index: see _store

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for index, group in enumerate(self.param_groups):
            live = []  # (param, its touched rows, their gradient rows)
            for p in group["params"]:
                if p.grad is not None:
                    grad = p.grad.coalesce()
                    if len(grad.indices()[0]):
                        live.append((p, grad.indices()[0], grad.values()))
            if not live:
                continue
            store = self._store(index, group)
            if store is None:  # tables of different widths or devices: one at a time
                for p, rows, values in live:
                    state = self.state[p]
                    if not state:
                        state.update(_moments(p, p.shape[0]))
                    self._update(
                        group,
                        [(p, rows, values)],
                        rows,
                        values,
                        state["row_steps"],
                        state["exp_avg"],
                        state["exp_avg_sq"],
                    )
                continue
            # All of the group's tables at once: their moments are row ranges of one array each,
            # so every operation below runs once per step instead of once per table.
            if len(live) == 1:
                p, rows, values = live[0]
                all_rows = rows + store.offsets[p] if store.offsets[p] else rows
            else:
                all_rows = torch.cat([rows + store.offsets[p] for p, rows, _ in live])
                values = torch.cat([v for _, _, v in live])
            self._update(group, live, all_rows, values, store.row_steps, store.exp_avg, store.exp_avg_sq)
        return None

    @staticmethod
    def _update(
        group: dict,
        live: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        rows: torch.Tensor,
        values: torch.Tensor,
        row_steps: torch.Tensor,
        exp_avg: torch.Tensor,
        exp_avg_sq: torch.Tensor,
    ) -> None:
        """One Adam step of the ``rows`` (unique) of the moments, applied to the tables of ``live``."""
        beta1, beta2 = group["betas"]
        steps = row_steps.index_select(0, rows).add_(1)  # (rows,)
        row_steps.index_copy_(0, rows, steps)
        if group["weight_decay"]:
            params = torch.cat([p.index_select(0, r) for p, r, _ in live])
            values = params.mul_(group["weight_decay"]).add_(values)
        # index_select / index_copy_ on unique rows: measured ~2x faster than advanced
        # indexing (aten::index / index_put_) for (6000, 128) slices on CPU.
        m = exp_avg.index_select(0, rows).lerp_(values, 1 - beta1)
        v = exp_avg_sq.index_select(0, rows).mul_(beta2).addcmul_(values, values, value=1 - beta2)
        exp_avg.index_copy_(0, rows, m)
        exp_avg_sq.index_copy_(0, rows, v)
        # lr * m_hat / (sqrt(v_hat) + eps) with the per-row bias corrections folded into
        # one (rows, 1) step size and one (rows, 1) epsilon: two fewer (rows, d) passes.
        bias2_sqrt = (1 - beta2**steps).sqrt_()
        step_size = (bias2_sqrt / (1 - beta1**steps)).mul_(-group["lr"])[:, None]
        denom = v.sqrt_().add_((bias2_sqrt * group["eps"])[:, None])
        update = m.mul_(step_size).div_(denom)
        start = 0
        for p, table_rows, _ in live:
            p.index_add_(0, table_rows, update[start : start + len(table_rows)])
            start += len(table_rows)

    def _store(self, index: int, group: dict) -> _Store | None:
        """The group's moments as one array each (``None`` if its tables cannot share one).

        Each table's ``state`` holds views of its rows, as for any optimiser.
        """
        stores = self._stores
        if index in stores:
            return stores[index]
        params = group["params"]
        first = params[0]
        if any(
            p.dim() != 2 or p.shape[1] != first.shape[1] or p.dtype != first.dtype or p.device != first.device
            for p in params
        ):
            stores[index] = None
            return None
        offsets, total = {}, 0
        for p in params:
            offsets[p] = total
            total += p.shape[0]
        moments = _moments(first, total)
        for p in params:
            rows = slice(offsets[p], offsets[p] + p.shape[0])
            self.state[p].update({name: array[rows] for name, array in moments.items()})
        stores[index] = _Store(offsets, moments["row_steps"], moments["exp_avg"], moments["exp_avg_sq"])
        return stores[index]


class _Store(NamedTuple):
    offsets: dict[torch.Tensor, int]  # each table's first row in the arrays
    row_steps: torch.Tensor  # (rows,)
    exp_avg: torch.Tensor  # (rows, d)
    exp_avg_sq: torch.Tensor  # (rows, d)


def _moments(like: torch.Tensor, rows: int) -> dict[str, torch.Tensor]:
    """Zeroed per-row step counts and moments for ``rows`` rows of ``like``'s width."""
    return {
        "row_steps": _lazy_zeros(like, (rows,)),
        "exp_avg": _lazy_zeros(like, (rows, like.shape[1])),
        "exp_avg_sq": _lazy_zeros(like, (rows, like.shape[1])),
    }
