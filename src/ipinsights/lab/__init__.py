"""The evaluation lab: synthetic logins, attack sets, baselines and the report that compares them.

Nothing here is needed to train or score; the lab answers "does the model catch attacks better
than simple rules?" on data whose ground truth is known. Its modules, in pipeline order:

* ``ranges``: the IPv4 → ASN range table (``RangeTable``; the built-in one is
  ``data/asn_ipv4.npz`` beside this file, with its licences) and its file readers;
* ``simulate``: the login simulator, the public example's generative model (``generate_logins``);
* ``attacks``: synthetic attack sets built from the training logins (``ATTACKS``, ``make_attacks``);
* ``datasets``: time splits and the files on disk (``write_dataset``), ``ipinsights generate``;
* ``log_attacks``: attack sets drawn from the user's own logs instead of a generator;
* ``baselines``: training-free scorers (new IP, prefix counts, hierarchical back-off);
* ``evaluation``: the model and the baselines scored on the same normal and attack pairs;
* ``report``: their ROC AUCs and operating points, verdicts, thresholds, plots (``Report``);
* ``demo``: ``ipinsights demo``, generate → train → evaluate → report on built-in data;
* ``_text``: the byte-string columns the generator formats, parses and writes without a
  Python object per row.

The public names are re-exported here and loaded on first use (PEP 562 ``__getattr__``), so
``import ipinsights.lab`` stays light: pandas and PyTorch load with the module that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.lab.attacks import (
        ATTACKS,
        make_attacks,
        nearby_ranges_attack,
        other_users_attack,
        random_ipv4_attack,
        random_range_attack,
        write_attacks,
    )
    from ipinsights.lab.baselines import (
        BackoffBaseline,
        NewIPBaseline,
        PrefixCountBaseline,
        Scorer,
        default_baselines,
    )
    from ipinsights.lab.datasets import split_by_time, write_dataset
    from ipinsights.lab.demo import DemoSettings, run_demo
    from ipinsights.lab.evaluation import evaluate, evaluate_logs
    from ipinsights.lab.log_attacks import LOG_ATTACKS, LogAttack, make_log_attacks
    from ipinsights.lab.ranges import ATTRIBUTION, RangeTable
    from ipinsights.lab.report import (
        AttackResult,
        OperatingPoint,
        Report,
        ScorerResult,
        Verdict,
        operating_point,
    )
    from ipinsights.lab.simulate import generate_logins

_LAZY = {
    "ATTRIBUTION": "ipinsights.lab.ranges",
    "RangeTable": "ipinsights.lab.ranges",
    "generate_logins": "ipinsights.lab.simulate",
    "ATTACKS": "ipinsights.lab.attacks",
    "make_attacks": "ipinsights.lab.attacks",
    "nearby_ranges_attack": "ipinsights.lab.attacks",
    "other_users_attack": "ipinsights.lab.attacks",
    "random_ipv4_attack": "ipinsights.lab.attacks",
    "random_range_attack": "ipinsights.lab.attacks",
    "write_attacks": "ipinsights.lab.attacks",
    "split_by_time": "ipinsights.lab.datasets",
    "write_dataset": "ipinsights.lab.datasets",
    "LOG_ATTACKS": "ipinsights.lab.log_attacks",
    "LogAttack": "ipinsights.lab.log_attacks",
    "make_log_attacks": "ipinsights.lab.log_attacks",
    "BackoffBaseline": "ipinsights.lab.baselines",
    "NewIPBaseline": "ipinsights.lab.baselines",
    "PrefixCountBaseline": "ipinsights.lab.baselines",
    "Scorer": "ipinsights.lab.baselines",
    "default_baselines": "ipinsights.lab.baselines",
    "evaluate": "ipinsights.lab.evaluation",
    "evaluate_logs": "ipinsights.lab.evaluation",
    "AttackResult": "ipinsights.lab.report",
    "OperatingPoint": "ipinsights.lab.report",
    "Report": "ipinsights.lab.report",
    "ScorerResult": "ipinsights.lab.report",
    "Verdict": "ipinsights.lab.report",
    "operating_point": "ipinsights.lab.report",
    "DemoSettings": "ipinsights.lab.demo",
    "run_demo": "ipinsights.lab.demo",
}

__all__ = [
    "ATTACKS",
    "ATTRIBUTION",
    "LOG_ATTACKS",
    "AttackResult",
    "BackoffBaseline",
    "DemoSettings",
    "LogAttack",
    "NewIPBaseline",
    "OperatingPoint",
    "PrefixCountBaseline",
    "RangeTable",
    "Report",
    "Scorer",
    "ScorerResult",
    "Verdict",
    "default_baselines",
    "evaluate",
    "evaluate_logs",
    "generate_logins",
    "make_attacks",
    "make_log_attacks",
    "nearby_ranges_attack",
    "operating_point",
    "other_users_attack",
    "random_ipv4_attack",
    "random_range_attack",
    "run_demo",
    "split_by_time",
    "write_attacks",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ipinsights.lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
