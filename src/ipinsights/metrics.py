"""Metrics and the SageMaker-format metric log lines that tuners parse.

The line formats and the regular expressions are the reference's; ``METRIC_REGEXES`` is what
a tuner (ours, or SageMaker's ``MetricDefinitions``) applies to the training log.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

__all__ = [
    "METRIC_REGEXES",
    "batch_lines",
    "discriminator_auc",
    "epoch_lines",
    "loss_and_accuracy",
    "progress_line",
    "throughput_line",
    "validation_line",
]

METRIC_REGEXES = {
    "train:binary_classification_cross_entropy": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train binary_classification_cross_entropy <loss>=(\S+)",
    "train:binary_classification_accuracy": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train binary_classification_accuracy <score>=(\S+)",
    "train:binary_classification_cross_entropy:epoch": r"#quality_metric: host=\S+, epoch=\S+, train binary_classification_cross_entropy <loss>=(\S+)",
    "train:binary_classification_accuracy:epoch": r"#quality_metric: host=\S+, epoch=\S+, train binary_classification_accuracy <score>=(\S+)",
    "train:progress": r"#progress_metric: host=\S+, completed (\S+) %",
    "train:throughput": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
    "validation:discriminator_auc": r"#quality_metric: host=\S+, epoch=\S+, validation discriminator_auc <score>=(\S+)",
    # Ours, in the reference's format (ipinsights.train.ValidationSet says what each measures).
    "validation:other_users_auc": r"#quality_metric: host=\S+, epoch=\S+, validation other_users_auc <score>=(\S+)",
    "validation:nearby_auc": r"#quality_metric: host=\S+, epoch=\S+, validation nearby_auc <score>=(\S+)",
    "validation:nearby_24_auc": r"#quality_metric: host=\S+, epoch=\S+, validation nearby_24_auc <score>=(\S+)",
    "validation:populated_auc": r"#quality_metric: host=\S+, epoch=\S+, validation populated_auc <score>=(\S+)",
    "validation:roaming_auc": r"#quality_metric: host=\S+, epoch=\S+, validation roaming_auc <score>=(\S+)",
    "validation:detection_auc": r"#quality_metric: host=\S+, epoch=\S+, validation detection_auc <score>=(\S+)",
}


def loss_and_accuracy(
    pos_scores: torch.Tensor, neg_scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary cross-entropy of observed (label 1) vs negative (label 0) pairs, and accuracy.

    Args:
        pos_scores: (batch,) dot products of observed pairs.
        neg_scores: (batch, R + S) dot products of their negatives.

    Returns:
        ``(loss, accuracy)``: mean BCE over all ``batch * (1 + R + S)`` scores (differentiable),
        and the share of scores on the right side of 0 (a probability of 0.5).

    Example:
        >>> loss, acc = loss_and_accuracy(torch.tensor([0.0]), torch.tensor([[0.0]]))
        >>> round(loss.item(), 6), acc.item()   # log(2), and 0 counts as "negative"
        (0.693147, 0.5)
    """
    logits = torch.cat([pos_scores[:, None], neg_scores], dim=1)  # (batch, 1 + R + S)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    with torch.no_grad():
        accuracy = ((logits > 0).float() == labels).float().mean()
    return loss, accuracy


def discriminator_auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """Exact ROC AUC: probability that an observed pair outscores a negative (ties count 1/2).

    Example:
        >>> discriminator_auc(np.array([3.0, 1.0]), np.array([2.0, 0.0]))
        0.75
    """
    scores = np.concatenate([pos_scores, neg_scores]).astype(np.float64)
    labels = np.concatenate([np.ones(len(pos_scores)), np.zeros(len(neg_scores))])
    return float(roc_auc_score(labels, scores))


def batch_lines(host: str, epoch: int, batch: int, loss: float, accuracy: float) -> list[str]:
    return [
        f"#quality_metric: host={host}, epoch={epoch}, batch={batch} train binary_classification_cross_entropy <loss>={loss:.6f}",
        f"#quality_metric: host={host}, epoch={epoch}, batch={batch} train binary_classification_accuracy <score>={accuracy:.6f}",
    ]


def epoch_lines(host: str, epoch: int, loss: float, accuracy: float) -> list[str]:
    return [
        f"#quality_metric: host={host}, epoch={epoch}, train binary_classification_cross_entropy <loss>={loss:.6f}",
        f"#quality_metric: host={host}, epoch={epoch}, train binary_classification_accuracy <score>={accuracy:.6f}",
    ]


def validation_line(host: str, epoch: int, metric: str, auc: float) -> str:
    """The line of ``metric`` (``validation:<name>``), in the reference's format."""
    name = metric.removeprefix("validation:")
    return f"#quality_metric: host={host}, epoch={epoch}, validation {name} <score>={auc:.6f}"


def progress_line(host: str, percent: float) -> str:
    return f"#progress_metric: host={host}, completed {percent:.1f} % of epochs"


def throughput_line(host: str, records_per_second: float) -> str:
    return f"#throughput_metric: host={host}, train throughput={records_per_second:.2f} records/second"
