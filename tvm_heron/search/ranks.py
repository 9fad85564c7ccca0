"""Average ranks (plain numpy): what rank roulette, the rank target and Spearman's correlation share."""

from __future__ import annotations

import numpy as np


def average_ranks(values) -> np.ndarray:
    """Ranks from 1 (smallest value) to n, tied values sharing their average rank."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(1, values.size + 1)
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks
