import math
import re

import numpy as np
import torch

from ipinsights.metrics import (
    METRIC_REGEXES,
    batch_lines,
    discriminator_auc,
    epoch_lines,
    loss_and_accuracy,
    progress_line,
    throughput_line,
    validation_line,
)


def test_the_loss_is_the_mean_binary_cross_entropy_over_positive_and_negative_scores():
    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([[0.5, -3.0], [1.0, 0.0]])
    loss, accuracy = loss_and_accuracy(pos, neg)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    by_hand = -(
        math.log(sig(2.0)) + math.log(sig(-1.0))
        + math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0)) + math.log(1 - sig(1.0)) + math.log(1 - sig(0.0))
    ) / 6
    assert abs(loss.item() - by_hand) < 1e-6
    # correct: pos 2.0 (yes), pos -1.0 (no), neg 0.5 (no), neg -3 (yes), neg 1.0 (no), neg 0.0 (yes)
    assert accuracy.item() == 3 / 6


def test_the_loss_is_differentiable_and_large_scores_do_not_overflow():
    pos = torch.tensor([1000.0], requires_grad=True)
    loss, _ = loss_and_accuracy(pos, torch.tensor([[-1000.0]]))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(pos.grad).all()


def test_auc_is_the_probability_a_positive_outscores_a_negative_with_ties_as_half():
    # pairs (pos, neg): (3,2) win, (3,0) win, (1,2) lose, (1,0) win -> 3/4
    assert discriminator_auc(np.array([3.0, 1.0]), np.array([2.0, 0.0])) == 0.75
    # one tie among four comparisons: (1,1) counts 1/2; (1,0) win; (2,1) win; (2,0) win -> 3.5/4
    assert discriminator_auc(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 0.875
    assert discriminator_auc(np.array([5.0]), np.array([6.0])) == 0.0


def test_every_metric_line_matches_the_reference_regular_expression():
    lines = {
        "train:binary_classification_cross_entropy": batch_lines("algo-1", 0, 1000, 0.25, 0.9)[0],
        "train:binary_classification_accuracy": batch_lines("algo-1", 0, 1000, 0.25, 0.9)[1],
        "train:binary_classification_cross_entropy:epoch": epoch_lines("algo-1", 2, 0.125, 0.95)[0],
        "train:binary_classification_accuracy:epoch": epoch_lines("algo-1", 2, 0.125, 0.95)[1],
        "train:progress": progress_line("algo-1", 40.0),
        "train:throughput": throughput_line("algo-1", 12345.678),
        "validation:discriminator_auc": validation_line("algo-1", 2, "validation:discriminator_auc", 0.987654),
        "validation:other_users_auc": validation_line("algo-1", 2, "validation:other_users_auc", 0.9),
        "validation:nearby_auc": validation_line("algo-1", 2, "validation:nearby_auc", 0.8),
        "validation:detection_auc": validation_line("algo-1", 2, "validation:detection_auc", 0.7),
    }
    expected = {
        "train:binary_classification_cross_entropy": 0.25,
        "train:binary_classification_accuracy": 0.9,
        "train:binary_classification_cross_entropy:epoch": 0.125,
        "train:binary_classification_accuracy:epoch": 0.95,
        "train:progress": 40.0,
        "train:throughput": 12345.68,
        "validation:discriminator_auc": 0.987654,
        "validation:other_users_auc": 0.9,
        "validation:nearby_auc": 0.8,
        "validation:detection_auc": 0.7,
    }
    for name, line in lines.items():
        matches = [n for n, rx in METRIC_REGEXES.items() if re.search(rx, line)]
        assert matches == [name], (line, matches)
        assert float(re.search(METRIC_REGEXES[name], line).group(1)) == expected[name]
