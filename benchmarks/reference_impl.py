"""A straightforward PyTorch implementation of IP Insights, kept as the speed and quality reference.

The same model as :class:`ipinsights.model.IPInsightsNet` (hashed entity table; IP encoder with
exact IPv4 /8 and /16 tables, a linear map of the address bits and ``num_ip_encoder_layers``
fully connected layers; score = dot product), trained on the same tensors with PyTorch's
standard sparse path and nothing else:

* ``nn.Embedding(sparse=True)`` for the three tables, ``torch.optim.SparseAdam`` for them
  (which has no weight decay: the tables get no L2 term) and ``torch.optim.Adam`` for the
  dense layers;
* per step, R fresh uniformly random IPv4 addresses per pair (``torch.randint``) and S in-batch
  shuffles (``torch.randperm``), so a step encodes (1 + R) x batch addresses;
* a plain Python loop over mini-batches, mean binary cross-entropy over all scores.

``benchmarks/train_bench.py`` runs it next to :func:`ipinsights.train.train_network` on the same
data for the speed-up and the validation AUC.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from ipinsights.addresses import IPV4_MAPPED
from ipinsights.config import HyperParameters
from ipinsights.model import LEVEL_BUCKETS, ip_features
from ipinsights.train import PairTensors, validation_auc

__all__ = ["ReferenceNet", "read_reference", "train_reference"]


class ReferenceNet(nn.Module):
    """Entity table + IP encoder (/8 and /16 tables, bits, fully connected layers)."""

    def __init__(self, num_entity_vectors: int, vector_dim: int, num_ip_encoder_layers: int) -> None:
        super().__init__()
        self.entity = nn.Embedding(num_entity_vectors, vector_dim, sparse=True)
        self.prefix8 = nn.Embedding(LEVEL_BUCKETS[0], vector_dim, sparse=True)
        self.prefix16 = nn.Embedding(LEVEL_BUCKETS[1], vector_dim, sparse=True)
        self.bits = nn.Linear(97, vector_dim)
        self.layers = nn.ModuleList([nn.Linear(vector_dim, vector_dim) for _ in range(num_ip_encoder_layers)])
        std = 1.0 / math.sqrt(vector_dim)  # the same initialisation as IPInsightsNet
        for table in (self.entity, self.prefix8, self.prefix16):
            nn.init.normal_(table.weight, std=std)
        nn.init.normal_(self.bits.weight, std=1.0 / math.sqrt(97 * vector_dim))
        nn.init.zeros_(self.bits.bias)
        for layer in self.layers:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embed_entities(self, rows: torch.Tensor) -> torch.Tensor:
        return self.entity(rows)

    def embed_ips(self, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
        features = ip_features(hi, lo)
        x = (
            self.bits(features.bits)
            + self.prefix8(features.levels[:, 0])
            + self.prefix16(features.levels[:, 1])
        )
        for i, layer in enumerate(self.layers):
            x = layer(torch.relu(x) if i else x)
        return x


def train_reference(
    train: PairTensors,
    hp: HyperParameters,
    *,
    seed: int = 0,
    validation: PairTensors | None = None,
    on_epoch=None,
) -> tuple[ReferenceNet, list[dict[str, float]]]:
    """Train a :class:`ReferenceNet` for ``hp.epochs`` epochs; returns it and per-epoch metrics.

    ``on_epoch(epoch, metrics)`` is called after each epoch. The metrics hold the training
    throughput (observed pairs per second, training only) and, with ``validation``, the same
    ``validation:discriminator_auc`` as :func:`ipinsights.train.validation_auc`.
    """
    torch.manual_seed(seed)
    net = ReferenceNet(hp.num_entity_vectors, hp.vector_dim, hp.num_ip_encoder_layers)
    generator = torch.Generator().manual_seed(seed)
    sparse_opt = torch.optim.SparseAdam(
        [net.entity.weight, net.prefix8.weight, net.prefix16.weight], lr=hp.learning_rate
    )
    dense_opt = torch.optim.Adam(
        [*net.bits.parameters(), *net.layers.parameters()], lr=hp.learning_rate, weight_decay=hp.weight_decay
    )
    R, S, n = hp.random_negative_sampling_rate, hp.shuffled_negative_sampling_rate, len(train)
    history = []
    for epoch in range(hp.epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, hp.mini_batch_size):
            idx = order[start : start + hp.mini_batch_size]
            size = len(idx)
            entity = net.embed_entities(train.entity_rows[idx])  # (size, d)
            random_lo = torch.randint(0, 1 << 32, (size * R,), generator=generator) | IPV4_MAPPED
            ips = net.embed_ips(
                torch.cat([train.ip_hi[idx], torch.zeros_like(random_lo)]),
                torch.cat([train.ip_lo[idx], random_lo]),
            )  # (size * (1 + R), d)
            pos_ips = ips[:size]
            shuffled = torch.stack(
                [torch.randperm(size, generator=generator) for _ in range(S)], dim=1
            )  # (size, S)
            negatives = torch.cat(
                [ips[size:].view(size, R, -1), pos_ips[shuffled]], dim=1
            )  # (size, R + S, d)
            logits = torch.cat(
                [(entity * pos_ips).sum(1, keepdim=True), (entity[:, None, :] * negatives).sum(2)], dim=1
            )  # (size, 1 + R + S)
            labels = torch.zeros_like(logits)
            labels[:, 0] = 1.0
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss.backward()
            sparse_opt.step()
            dense_opt.step()
        metrics = {"train:throughput": n / (time.perf_counter() - started), "loss": loss.item()}
        if validation is not None:
            with torch.no_grad():
                metrics["validation:discriminator_auc"] = validation_auc(net, validation)  # type: ignore[arg-type]
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    return net, history


def read_reference(path: str, num_entity_vectors: int) -> PairTensors:
    """Read ``entity,ip`` CSV the straightforward way: pandas, string splitting, pandas hashing.

    IPv4 only, no validation beyond what the conversions reject.
    """
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(path, header=None, names=["entity", "ip"], dtype=str, skipinitialspace=True)
    octets = frame["ip"].str.strip().str.split(".", expand=True).astype(np.int64).to_numpy()  # (n, 4)
    v4 = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    hashes = pd.util.hash_array(frame["entity"].str.strip().to_numpy()).astype(np.uint64)
    rows = (hashes % np.uint64(num_entity_vectors)).astype(np.int64)
    return PairTensors(
        torch.from_numpy(rows), torch.zeros(len(v4), dtype=torch.int64), torch.from_numpy(v4 | IPV4_MAPPED)
    )
