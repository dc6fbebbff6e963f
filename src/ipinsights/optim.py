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

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.coalesce()
                rows, values = grad.indices()[0], grad.values()  # rows are unique after coalesce
                if not len(rows):
                    continue
                state = self.state[p]
                if not state:
                    state["row_steps"] = _lazy_zeros(p, (p.shape[0],))
                    state["exp_avg"] = _lazy_zeros(p, tuple(p.shape))
                    state["exp_avg_sq"] = _lazy_zeros(p, tuple(p.shape))
                steps = state["row_steps"].index_select(0, rows).add_(1)  # (rows,)
                state["row_steps"].index_copy_(0, rows, steps)
                if group["weight_decay"]:
                    values = p.index_select(0, rows).mul_(group["weight_decay"]).add_(values)
                # index_select / index_copy_ on unique rows: measured ~2x faster than advanced
                # indexing (aten::index / index_put_) for (6000, 128) slices on CPU.
                m = state["exp_avg"].index_select(0, rows).lerp_(values, 1 - beta1)
                v = (
                    state["exp_avg_sq"]
                    .index_select(0, rows)
                    .mul_(beta2)
                    .addcmul_(values, values, value=1 - beta2)
                )
                state["exp_avg"].index_copy_(0, rows, m)
                state["exp_avg_sq"].index_copy_(0, rows, v)
                # lr * m_hat / (sqrt(v_hat) + eps) with the per-row bias corrections folded into
                # one (rows, 1) step size and one (rows, 1) epsilon: two fewer (rows, d) passes.
                bias2_sqrt = (1 - beta2**steps).sqrt_()
                step_size = (bias2_sqrt / (1 - beta1**steps)).mul_(-group["lr"])[:, None]
                denom = v.sqrt_().add_((bias2_sqrt * group["eps"])[:, None])
                p.index_add_(0, rows, m.mul_(step_size).div_(denom))
        return None
