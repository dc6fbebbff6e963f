"""The training loop: observed pairs against random-IP and shuffled negatives, one epoch at a time.

The loop knows nothing about IP addresses beyond handing their words to the model; it calls the
samplers, the model and the loss, logs the reference's metric lines and calls the callbacks.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import torch

from ipinsights.config import HyperParameters
from ipinsights.metrics import (
    batch_lines,
    discriminator_auc,
    epoch_lines,
    loss_and_accuracy,
    progress_line,
    throughput_line,
    validation_line,
)
from ipinsights.model import IPInsightsNet
from ipinsights.optim import LazyAdam
from ipinsights.sampling import random_ips, shuffled_indices

__all__ = ["VALIDATION_SEED", "EpochCallback", "PairTensors", "train_network", "validation_auc"]

#: Seed of the validation negatives: fixed, so that every run and every tuning trial on the
#: same validation data is measured against the same random addresses.
VALIDATION_SEED = 20181116

#: Called after each epoch with (completed epochs, metrics); returning True stops training.
EpochCallback = Callable[[int, dict[str, float]], "bool | None"]


@dataclass
class PairTensors:
    """Observed pairs on the training device: entity table rows and address words, (n,) int64."""

    entity_rows: torch.Tensor
    ip_hi: torch.Tensor
    ip_lo: torch.Tensor

    def __len__(self) -> int:
        return len(self.entity_rows)


@torch.no_grad()
def score_pairs(net: IPInsightsNet, pairs: PairTensors, *, chunk: int = 65536) -> torch.Tensor:
    """Dot products of pairs, in chunks to bound memory; (n,) float32 on the pairs' device."""
    out = []
    for i in range(0, len(pairs), chunk):
        e = net.embed_entities(pairs.entity_rows[i : i + chunk])
        v = net.embed_ips(pairs.ip_hi[i : i + chunk], pairs.ip_lo[i : i + chunk])
        out.append((e * v).sum(dim=1))
    return torch.cat(out) if out else torch.zeros(0)


def validation_auc(net: IPInsightsNet, validation: PairTensors) -> float:
    """The reference's ``validation:discriminator_auc``.

    Each validation pair (label 1) is matched with one negative: the same entity with a uniformly
    random IPv4 address (label 0), drawn from :data:`VALIDATION_SEED`. Returns the exact ROC AUC.
    """
    generator = torch.Generator(device="cpu").manual_seed(VALIDATION_SEED)
    hi, lo = random_ips((len(validation),), generator)
    negatives = PairTensors(
        validation.entity_rows, hi.to(validation.ip_hi.device), lo.to(validation.ip_lo.device)
    )
    pos = score_pairs(net, validation).cpu().numpy()
    neg = score_pairs(net, negatives).cpu().numpy()
    return discriminator_auc(pos, neg)


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("training"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} batches"),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self.task = self.bar.add_task("train", total=total, loss="-")
            self.bar.start()

    def advance(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, loss=f"{loss:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def train_network(
    net: IPInsightsNet,
    train: PairTensors,
    hp: HyperParameters,
    *,
    generator: torch.Generator,
    validation: PairTensors | None = None,
    callbacks: Sequence[EpochCallback] = (),
    log: TextIO | None = None,
    host: str = "algo-1",
    ipv6_share: float = 0.0,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``net`` in place for ``hp.epochs`` epochs (fewer if a callback stops it).

    Each step takes ``mini_batch_size`` observed pairs (reshuffled every epoch), adds
    R = ``random_negative_sampling_rate`` random-IP negatives and S =
    ``shuffled_negative_sampling_rate`` in-batch shuffled negatives per pair, and minimises the
    binary cross-entropy with Adam (lazy, row-sparse Adam for the embedding tables).

    Args:
        net: The model, already on the training device.
        train: Observed pairs on the same device.
        hp: Hyperparameters.
        generator: Randomness for shuffling and negatives (on the training device).
        validation: Pairs for ``validation:discriminator_auc``, computed after every epoch.
        callbacks: Called after each epoch with (completed epochs, metrics); True stops.
        log: Where the metric lines go (``None``: nowhere).
        host: The ``host=`` field of the metric lines.
        ipv6_share: Share of random negatives drawn from IPv6 (see :func:`random_ips`).
        progress: Show a progress bar when stderr is a terminal.

    Returns:
        One metrics dict per completed epoch.
    """
    device = train.entity_rows.device
    sparse_opt = LazyAdam(net.sparse_parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
    dense_opt = torch.optim.Adam(net.dense_parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
    n, batch_size = len(train), hp.mini_batch_size
    num_batches = math.ceil(n / batch_size)
    R, S = hp.random_negative_sampling_rate, hp.shuffled_negative_sampling_rate

    def emit(*lines: str) -> None:
        if log is not None:
            for line in lines:
                print(line, file=log)
            log.flush()

    history: list[dict[str, float]] = []
    bar = _Progress(num_batches * hp.epochs, progress)
    try:
        for epoch in range(hp.epochs):
            net.train()
            started = time.perf_counter()
            order = torch.randperm(n, generator=generator, device=device)
            epoch_loss = epoch_acc = 0.0
            window_loss = window_acc = 0.0
            window = 0
            for b in range(num_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                size = len(idx)
                entity = net.embed_entities(train.entity_rows[idx])  # (batch, d)
                # One pool of `size` uniformly random addresses per step; each pair draws its R
                # random negatives from it. Every negative is still uniform over the address
                # space, but the step encodes 2 x batch addresses instead of (1 + R) x batch:
                # see docs/design.md for the speed and AUC comparison.
                pool_hi, pool_lo = random_ips((size,), generator, ipv6_share=ipv6_share, device=device)
                ips = net.embed_ips(torch.cat([train.ip_hi[idx], pool_hi]), torch.cat([train.ip_lo[idx], pool_lo]))
                pos_ips, pool_ips = ips[:size], ips[size:]  # (batch, d) each
                pos_scores = (entity * pos_ips).sum(dim=1)  # (batch,)
                rand = torch.randint(0, size, (size, R), generator=generator, device=device)  # (batch, R)
                shuffled = shuffled_indices(size, S, generator, device)  # (batch, S)
                negatives = torch.cat(
                    [pool_ips.index_select(0, rand.reshape(-1)).view(size, R, hp.vector_dim),
                     pos_ips.index_select(0, shuffled.reshape(-1)).view(size, S, hp.vector_dim)],
                    dim=1,
                )  # (batch, R + S, d); index_select rather than fancy indexing or bmm: measured faster on CPU
                neg_scores = (entity[:, None, :] * negatives).sum(dim=2)  # (batch, R + S)
                loss, accuracy = loss_and_accuracy(pos_scores, neg_scores)

                sparse_opt.zero_grad(set_to_none=True)
                dense_opt.zero_grad(set_to_none=True)
                loss.backward()
                sparse_opt.step()
                dense_opt.step()

                loss_value, acc_value = loss.item(), accuracy.item()
                if not math.isfinite(loss_value):
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch}, batch {b + 1}: loss is {loss_value}; "
                        f"lower learning_rate (now {hp.learning_rate:g})"
                    )
                epoch_loss += loss_value * size
                epoch_acc += acc_value * size
                window_loss += loss_value
                window_acc += acc_value
                window += 1
                bar.advance(loss_value)
                if (b + 1) % hp.batch_metrics_publish_interval == 0:
                    emit(*batch_lines(host, epoch, b + 1, window_loss / window, window_acc / window))
                    window_loss = window_acc = 0.0
                    window = 0
            elapsed = time.perf_counter() - started
            metrics = {
                "train:binary_classification_cross_entropy:epoch": epoch_loss / n,
                "train:binary_classification_accuracy:epoch": epoch_acc / n,
                "train:throughput": n / elapsed,
            }
            emit(
                *epoch_lines(
                    host,
                    epoch,
                    metrics["train:binary_classification_cross_entropy:epoch"],
                    metrics["train:binary_classification_accuracy:epoch"],
                )
            )
            emit(throughput_line(host, metrics["train:throughput"]))
            if validation is not None:
                net.eval()
                metrics["validation:discriminator_auc"] = validation_auc(net, validation)
                emit(validation_line(host, epoch, metrics["validation:discriminator_auc"]))
            emit(progress_line(host, 100.0 * (epoch + 1) / hp.epochs))
            history.append(metrics)
            stop = False
            for callback in callbacks:
                stop = bool(callback(epoch + 1, dict(metrics))) or stop
            if stop:
                break
    finally:
        bar.close()
    net.eval()
    return history
