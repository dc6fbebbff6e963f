"""Data-parallel training on ``torch.distributed``: several worker processes, one model.

The reference's multi-GPU semantics: the global ``mini_batch_size`` is split across the workers,
each scores its share of every global batch against its own negatives, and the gradients are
combined before every update, so that every worker applies the same update to the same weights:

* dense layers: their gradients are averaged with one ``all_reduce``;
* embedding tables: each worker's sparse gradient touches only the rows of its share, so the
  workers exchange (row, gradient) pairs with ``all_gather`` and every worker sums the union;
  the optimiser (:class:`~ipinsights.optim.LazyAdam`) then updates the same rows everywhere.

Every worker shuffles with the same seed, so all share each epoch's order and take their slice
of every global batch; negatives come from a per-worker generator. The backend is gloo on CPU
and NCCL on GPUs. Only the first worker (rank 0) computes validation AUC, prints metric lines and
writes the model; a stop asked by its callbacks is broadcast to all.

A process joins a run through the standard ``torchrun`` environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); see ``docs/performance.md`` for one machine
(``ipinsights train --nproc N``) and several.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DataParallel", "current", "from_environment", "launch", "sampling_seed"]


@dataclass(frozen=True)
class DataParallel:
    """This process's place among data-parallel workers (an initialised default process group).

    Attributes:
        rank: This worker's index, 0 … ``world_size - 1``; rank 0 logs and writes the model.
        world_size: Number of workers.
    """

    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def reduce_gradients(self, sparse: list[torch.nn.Parameter], dense: list[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by the mean over the workers.

        Two collectives per step, whatever the number of parameters (on the 2-core benchmark
        machine each gloo collective costs about 1.5 ms of latency, as much as a third of a
        step): the workers' row counts, then one ``all_gather`` of a buffer per worker that holds
        its sparse rows (the tables as one virtual table, rows offset by the tables before;
        each int64 row id bit-cast into float lanes), their gradient rows and the dense gradients.

        Args:
            sparse: Parameters with sparse COO gradients (the embedding tables, all of one width
                and dtype); each becomes a coalesced sparse gradient over the union of the rows.
            dense: Parameters with dense gradients (``None`` counts as zeros).
        """
        reference = sparse[0] if sparse else dense[0]
        device, dtype = reference.device, reference.dtype
        width = sparse[0].shape[1] if sparse else 0
        lanes = 8 // reference.element_size()  # float slots that hold one int64 row id
        offsets = [0]
        for table in sparse:
            offsets.append(offsets[-1] + table.shape[0])
        rows = [torch.zeros(0, dtype=torch.int64, device=device)]
        values = [torch.zeros(0, width, dtype=dtype, device=device)]
        for table, offset in zip(sparse, offsets, strict=False):
            if table.grad is not None:
                grad = table.grad.coalesce()
                rows.append(grad.indices()[0] + offset)
                values.append(grad.values())
        local_rows, local_values = torch.cat(rows), torch.cat(values)  # (rows,), (rows, width)
        flat = torch.cat(
            [torch.zeros(0, dtype=dtype, device=device)]
            + [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in dense]
        )

        counts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(self.world_size)]
        dist.all_gather(counts, torch.tensor([len(local_rows)], device=device))
        counts_list = [int(c) for c in counts]
        longest = max(counts_list)
        packed = torch.zeros(longest * (width + lanes) + len(flat), dtype=dtype, device=device)
        block = packed[: longest * (width + lanes)].view(longest, width + lanes)  # (longest, width + lanes)
        block[: len(local_rows), :width] = local_values
        block[: len(local_rows), width:] = local_rows.view(dtype).view(-1, lanes)
        packed[longest * (width + lanes) :] = flat
        gathered = [torch.empty_like(packed) for _ in range(self.world_size)]
        dist.all_gather(gathered, packed)

        # Every worker sums the same buffers in the same order: identical gradients everywhere.
        mean_flat = torch.stack([g[longest * (width + lanes) :] for g in gathered]).sum(0) / self.world_size
        for p, g in zip(dense, mean_flat.split([p.numel() for p in dense]), strict=True):
            p.grad = g.view_as(p)
        if not sparse:
            return
        blocks = [
            g[: longest * (width + lanes)].view(longest, width + lanes)[:c]
            for g, c in zip(gathered, counts_list, strict=True)
        ]
        union = torch.sparse_coo_tensor(
            torch.cat([b[:, width:].contiguous().view(torch.int64).view(-1) for b in blocks])[None],
            torch.cat([b[:, :width] for b in blocks]) / self.world_size,
            (offsets[-1], width),
            check_invariants=False,
        ).coalesce()  # sums the rows that several workers touched
        union_rows, union_values = union.indices()[0], union.values()
        bounds = torch.searchsorted(union_rows, torch.tensor(offsets, device=device)).tolist()
        for table, offset, lo, hi in zip(sparse, offsets, bounds, bounds[1:], strict=False):
            table.grad = torch.sparse_coo_tensor(
                (union_rows[lo:hi] - offset)[None],
                union_values[lo:hi],
                table.shape,
                check_invariants=False,
                is_coalesced=True,
            )

    def close(self, *, finished: bool = False) -> None:
        """Leave the run (destroys the default process group).

        ``finished``: every worker got through training, so wait at a barrier until they all
        leave: rank 0 fits the combined score after the last epoch while the others are done, and
        a worker that tore its process group down while rank 0 still held its end was seen to
        abort on exit (gloo, under load). After an error no barrier: the others may never come.
        """
        if dist.is_initialized():
            if finished:
                dist.barrier()
            dist.destroy_process_group()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``tensor`` over the workers (a new tensor)."""
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, on every worker (e.g. "stop training")."""
        device = _collective_device()
        value = torch.tensor([1 if flag else 0], device=device)
        dist.broadcast(value, src=0)
        return bool(value.item())


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def current() -> DataParallel | None:
    """The data-parallel run this process belongs to, or ``None`` (no process group, or one worker)."""
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() < 2:
        return None
    return DataParallel(dist.get_rank(), dist.get_world_size())


def from_environment(device: str = "auto") -> DataParallel | None:
    """Join the run described by torchrun's environment variables, if any.

    With ``WORLD_SIZE`` > 1 in the environment, initialises the default process group (NCCL
    when this worker trains on a GPU, gloo otherwise) and, for NCCL, selects the GPU
    ``LOCAL_RANK``. Without it, returns ``None``: a single process.

    Args:
        device: The training device asked for (``auto``, ``cpu``, ``cuda``).

    Returns:
        This worker's :class:`DataParallel`, or ``None``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return None
    if not dist.is_initialized():
        use_gpu = device != "cpu" and torch.cuda.is_available()
        if use_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if use_gpu else "gloo")
    return current()


def sampling_seed(seed: int, rank: int) -> int:
    """The seed of worker ``rank``'s negatives: one per worker, all fixed by ``seed`` and all
    different from ``seed`` itself, which every worker uses for the shared shuffling."""
    return (seed * 1_000_003 + rank + 1) % (2**63 - 1)


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``ipinsights <argv>`` as ``nproc`` local workers under torchrun (``--standalone``).

    Args:
        nproc: Number of worker processes.
        argv: The command line for each worker, without the program name or ``--nproc``.

    Returns:
        0 when every worker succeeded, else the first failed worker's exit status.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker: n workers, n cores
    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--module", "ipinsights.cli", *argv]
    )
    try:
        run(args)
    except ChildFailedError as exc:
        first = min(exc.failures.items())[1] if exc.failures else None
        return int(first.exitcode) if first is not None and first.exitcode else 1
    return 0
