"""`unembed explain`: what a direction, a cluster, a probe or a sparse-autoencoder feature means, in words.

    from unembed.explain import explain, group_objective, read_items
    space = load_space("minibind")
    objective = group_objective(read_items(["red1.png", "red2.png"], space), read_items(["blue.png"], space))
    [explanation] = explain(objective, space=space, generator="edit")
    explanation.text, explanation.bank_text, explanation.lift

`unembed.explain.training` trains what a study asks about: directions between labelled groups, linear
probes, a small sparse autoencoder, and matches SAE features to labels.

A pipeline over the rooms: objectives (what is maximised), the inverter (one `invert_many` batch for
all objectives) and the bank (what the caption bank alone says, for the lift).
"""

from .explanation import (
    BASELINE_TEXTS,
    REPORT_FORMATS,
    TOP,
    Explanation,
    bank_baseline,
    check_report_path,
    explain,
    group_objective,
    parse_features,
    probe_objectives,
    read_items,
    sae_objectives,
    table,
    write_report,
)
from .training import MATCH_F1, directions, match_features, train_probes, train_sae

__all__ = [
    "BASELINE_TEXTS",
    "REPORT_FORMATS",
    "TOP",
    "Explanation",
    "bank_baseline",
    "check_report_path",
    "explain",
    "group_objective",
    "parse_features",
    "probe_objectives",
    "read_items",
    "sae_objectives",
    "table",
    "write_report",
    "MATCH_F1",
    "directions",
    "match_features",
    "train_probes",
    "train_sae",
]
