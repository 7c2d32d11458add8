"""The 80/20 split: stratified by class, deterministic for a seed, grouped by near-duplicates.

A near-duplicate on both sides of the split would let the model be graded on a picture it
trained on, so whole groups go to one side.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from training.dataset import Sample

VALIDATION_FRACTION = 0.2


def split(
    samples: list[Sample], seed: int, fraction: float = VALIDATION_FRACTION
) -> tuple[list[Sample], list[Sample]]:
    """(train, validation)."""
    groups: dict[int, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.sha256):
        groups[sample.group].append(sample)
    by_class: dict[int, list[int]] = defaultdict(list)
    for group_id, members in sorted(groups.items()):
        by_class[members[0].target].append(group_id)
    rng = np.random.default_rng(seed)
    validation_groups: set[int] = set()
    for target in sorted(by_class):
        ids = by_class[target]
        rng.shuffle(ids)
        wanted = round(fraction * sum(len(groups[g]) for g in ids))
        taken = 0
        for group_id in ids:
            if taken >= wanted:
                break
            validation_groups.add(group_id)
            taken += len(groups[group_id])
    train = [s for g, m in sorted(groups.items()) if g not in validation_groups for s in m]
    validation = [s for g, m in sorted(groups.items()) if g in validation_groups for s in m]
    return train, validation
