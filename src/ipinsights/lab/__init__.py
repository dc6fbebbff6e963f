"""The evaluation lab: synthetic logins, attack sets, baselines and the report that compares them.

Nothing here is needed to train or score; the lab answers "does the model catch attacks better
than simple rules?" on data whose ground truth is known. Its modules, in pipeline order:

* ``generate``: the built-in IPv4 → ASN range table (``data/asn_ipv4.npz`` beside this file,
  with its licences), the login simulator, the time splits, the synthetic attack sets and the
  ``ipinsights generate`` command;
* ``log_attacks``: attack sets drawn from the user's own logs instead of a generator;
* ``baselines``: training-free scorers (new IP, prefix counts, hierarchical back-off);
* ``evaluation``: the model and the baselines on the same normal and attack pairs → ``Report``;
* ``demo``: ``ipinsights demo``, generate → train → evaluate → report on built-in data.

The public names are re-exported here and loaded on first use (PEP 562 ``__getattr__``), so
``import ipinsights.lab`` stays light: pandas and PyTorch load with the module that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.lab.baselines import (
        BackoffBaseline,
        NewIPBaseline,
        PrefixCountBaseline,
        Scorer,
        default_baselines,
    )
    from ipinsights.lab.demo import DemoSettings, run_demo
    from ipinsights.lab.evaluation import (
        AttackResult,
        OperatingPoint,
        Report,
        ScorerResult,
        Verdict,
        evaluate,
        evaluate_logs,
        operating_point,
    )
    from ipinsights.lab.generate import (
        ATTACKS,
        ATTRIBUTION,
        RangeTable,
        generate_logins,
        make_attacks,
        nearby_ranges_attack,
        other_users_attack,
        random_ipv4_attack,
        random_range_attack,
        split_by_time,
        write_attacks,
        write_dataset,
    )
    from ipinsights.lab.log_attacks import LOG_ATTACKS, LogAttack, make_log_attacks

_LAZY = {
    "BackoffBaseline": "ipinsights.lab.baselines",
    "NewIPBaseline": "ipinsights.lab.baselines",
    "PrefixCountBaseline": "ipinsights.lab.baselines",
    "Scorer": "ipinsights.lab.baselines",
    "default_baselines": "ipinsights.lab.baselines",
    "DemoSettings": "ipinsights.lab.demo",
    "run_demo": "ipinsights.lab.demo",
    "AttackResult": "ipinsights.lab.evaluation",
    "OperatingPoint": "ipinsights.lab.evaluation",
    "Report": "ipinsights.lab.evaluation",
    "ScorerResult": "ipinsights.lab.evaluation",
    "Verdict": "ipinsights.lab.evaluation",
    "evaluate": "ipinsights.lab.evaluation",
    "evaluate_logs": "ipinsights.lab.evaluation",
    "operating_point": "ipinsights.lab.evaluation",
    "ATTACKS": "ipinsights.lab.generate",
    "ATTRIBUTION": "ipinsights.lab.generate",
    "RangeTable": "ipinsights.lab.generate",
    "generate_logins": "ipinsights.lab.generate",
    "make_attacks": "ipinsights.lab.generate",
    "nearby_ranges_attack": "ipinsights.lab.generate",
    "other_users_attack": "ipinsights.lab.generate",
    "random_ipv4_attack": "ipinsights.lab.generate",
    "random_range_attack": "ipinsights.lab.generate",
    "split_by_time": "ipinsights.lab.generate",
    "write_attacks": "ipinsights.lab.generate",
    "write_dataset": "ipinsights.lab.generate",
    "LOG_ATTACKS": "ipinsights.lab.log_attacks",
    "LogAttack": "ipinsights.lab.log_attacks",
    "make_log_attacks": "ipinsights.lab.log_attacks",
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
