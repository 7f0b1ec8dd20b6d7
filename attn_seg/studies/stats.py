"""Paired statistics of a study: does a setting score better than a reference on the same cases?

Every trial scores the same validation cases (the split is fixed by the replicate's seed and fold), so a setting
and the reference form pairs ``(replicate, case)``. For each pair the difference ``setting - reference`` is taken
(oriented so that positive is better when the metric is minimised), and over all pairs:

* the mean difference with a percentile bootstrap confidence interval (pairs resampled with replacement, a fixed
  seed, so a rerun gives the same interval);
* the two-sided Wilcoxon signed-rank p-value (SciPy; zero differences dropped, Wilcoxon's own convention).

A setting is called ``better`` (or ``worse``) only when the interval excludes zero; otherwise ``no difference``;
with fewer than :data:`MIN_PAIRS` pairs no call is made (``too few pairs``): a bootstrap of one or two cases is no
interval at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["MIN_PAIRS", "PairedComparison", "bootstrap_interval", "compare_paired", "paired_differences", "wilcoxon_p"]

#: The fewest pairs a verdict is given for.
MIN_PAIRS = 5
#: A pair's identity: (replicate, case).
PairKey = tuple[int, str]


@dataclass(frozen=True)
class PairedComparison:
    """A setting against the reference over their common ``(replicate, case)`` pairs.

    Attributes:
        setting: the compared setting's label.
        reference: the reference setting's label.
        n_pairs: number of pairs.
        mean_difference: mean of ``setting - reference`` (positive: the setting scores higher).
        ci_low: lower end of the bootstrap interval of the mean difference.
        ci_high: upper end.
        p_value: two-sided Wilcoxon signed-rank p-value (1.0 when every difference is zero).
        verdict: ``"better"``, ``"worse"`` (the interval excludes zero), ``"no difference"``, or
            ``"too few pairs"`` (fewer than :data:`MIN_PAIRS`).
    """

    setting: str
    reference: str
    n_pairs: int
    mean_difference: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """The comparison as plain values (JSON, CSV)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def paired_differences(
    scores: Mapping[PairKey, float], reference: Mapping[PairKey, float], *, maximize: bool = True
) -> np.ndarray:
    """The differences ``score - reference`` over the pairs both have a finite score for, in sorted pair order.

    With ``maximize=False`` the sign is flipped, so a positive difference always means "better than the reference".
    """
    keys = sorted(k for k in scores.keys() & reference.keys()
                  if math.isfinite(scores[k]) and math.isfinite(reference[k]))
    diffs = np.asarray([scores[k] - reference[k] for k in keys], dtype=float)
    return diffs if maximize else -diffs


def bootstrap_interval(
    differences: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = 10000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``differences``.

    Args:
        differences: one value per pair (at least one).
        confidence: the interval's coverage, in (0, 1).
        n_resamples: bootstrap resamples.
        seed: the resampling seed (the same seed gives the same interval).

    Raises:
        ValueError: for no differences, a confidence outside (0, 1) or fewer than 1 resample.
    """
    values = np.asarray(differences, dtype=float)
    if values.size == 0:
        raise ValueError("`differences` is empty: no pairs to bootstrap")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"`n_resamples` must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``differences`` (1.0 when all are zero, NaN when empty)."""
    values = np.asarray(differences, dtype=float)
    if values.size == 0:
        return math.nan
    if not np.any(values != 0.0):
        return 1.0
    return float(stats.wilcoxon(values, zero_method="wilcox", alternative="two-sided").pvalue)


def compare_paired(
    setting: str,
    scores: Mapping[PairKey, float],
    reference: str,
    reference_scores: Mapping[PairKey, float],
    *,
    maximize: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 10000,
    seed: int = 0,
) -> PairedComparison | None:
    """Compare ``setting`` with ``reference`` over their common pairs; ``None`` when they share none.

    Args:
        setting: label of the compared setting.
        scores: its per-pair scores, keyed by ``(replicate, case)``.
        reference: label of the reference setting.
        reference_scores: the reference's per-pair scores.
        maximize: whether higher scores are better.
        confidence: coverage of the bootstrap interval.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed.
    """
    diffs = paired_differences(scores, reference_scores, maximize=maximize)
    if diffs.size == 0:
        return None
    low, high = bootstrap_interval(diffs, confidence=confidence, n_resamples=n_resamples, seed=seed)
    verdict = "better" if low > 0.0 else "worse" if high < 0.0 else "no difference"
    if diffs.size < MIN_PAIRS:
        verdict = "too few pairs"
    return PairedComparison(setting=setting, reference=reference, n_pairs=int(diffs.size),
                            mean_difference=float(diffs.mean()), ci_low=low, ci_high=high,
                            p_value=wilcoxon_p(diffs), verdict=verdict)
