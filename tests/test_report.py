"""The report's pieces: operating points under ties, and verdicts (ipinsights.lab.report)."""

import numpy as np
import pytest

from ipinsights.errors import ConfigError
from ipinsights.lab.report import Verdict, operating_point


def test_operating_points_on_a_hand_made_example():
    normal, attack = np.arange(100.0), [50.5, 95.5, 98.5, 99.5, 120.0]
    at_1 = operating_point(normal, attack, 0.01)
    at_10 = operating_point(normal, attack, 0.10)
    # 1 % of 100 normals: only 99 may be flagged, so flag > 98; 10 %: 90..99, so flag > 89.
    assert (at_1.threshold, at_1.fpr, at_1.tpr) == (98.0, 0.01, 0.6)
    assert (at_10.threshold, at_10.fpr, at_10.tpr) == (89.0, 0.10, 0.8)


def test_tied_scores_never_exceed_the_false_alarm_budget():
    normal = [0.0] * 95 + [1.0] * 5  # a 1/0 rule that fires on 5 % of normal logins
    attack = [1.0] * 8 + [0.0] * 2
    at_1 = operating_point(normal, attack, 0.01)
    at_10 = operating_point(normal, attack, 0.10)
    assert (at_1.threshold, at_1.fpr, at_1.tpr) == (1.0, 0.0, 0.0)  # firing at all costs 5 %
    assert (at_10.threshold, at_10.fpr, at_10.tpr) == (0.0, 0.05, 0.8)
    with pytest.raises(ConfigError, match=r"target_fpr must be in \[0, 1\), got 1.5"):
        operating_point(normal, attack, 1.5)


def test_a_verdict_compares_as_printed_and_a_tie_is_not_a_win_or_a_loss():
    tie_at_zero = Verdict("nearby_24", 0.01, 0.7232, "same_24_count", 0.8791, 0.00004, "same_24_count", 0.0)
    assert tie_at_zero.text == (
        "nearby_24: the model LOSES: ROC AUC 0.7232 loses to same_24_count 0.8791; at 1 % false positives "
        "it flags 0.0 % of attacks, matches same_24_count 0.0 %"
    )
    mixed = Verdict("random_range", 0.01, 0.9914, "backoff", 0.9907, 0.661, "backoff_lr", 0.706)
    assert mixed.text.startswith("random_range: MIXED: ROC AUC 0.9914 beats backoff 0.9907;")
    assert mixed.wins_auc and not mixed.wins_tpr
    wins = Verdict("other_users", 0.01, 0.9991, "backoff_lr", 0.9991, 0.991, "backoff_lr", 0.803)
    assert wins.text.startswith("other_users: the model WINS: ROC AUC 0.9991 matches backoff_lr 0.9991;")
