"""Paired statistics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from attn_seg.studies import bootstrap_interval, compare_paired, wilcoxon_p
from attn_seg.studies.stats import paired_differences


def test_wilcoxon_exact_p_values() -> None:
    # n = 5, all positive: W- = 0, the exact two-sided p is 2 * P(T <= 0) = 2 / 2**5.
    assert wilcoxon_p([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(0.0625)
    # One negative difference of the smallest rank: T = 1, P(T <= 1) = 2 / 32, two-sided 0.125.
    assert wilcoxon_p([-0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(0.125)


def test_wilcoxon_edge_cases() -> None:
    assert wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    assert math.isnan(wilcoxon_p([]))


def test_bootstrap_interval_of_two_values_matches_the_binomial() -> None:
    # Resampled means of ten 0s and ten 1s are Binomial(20, 1/2) / 20: P(X <= 5) = 0.021 and P(X <= 6) = 0.058, so
    # the 2.5 % quantile is 6/20; by symmetry the 97.5 % one is 14/20.
    low, high = bootstrap_interval([0.0, 1.0] * 10, n_resamples=10000, seed=0)
    assert (low, high) == pytest.approx((0.30, 0.70))


def test_bootstrap_interval_is_reproducible_and_checked() -> None:
    values = [0.01, -0.02, 0.03, 0.05, 0.0, 0.02]
    assert bootstrap_interval(values, seed=7) == bootstrap_interval(values, seed=7)
    assert bootstrap_interval([0.02] * 8) == pytest.approx((0.02, 0.02))
    with pytest.raises(ValueError, match="empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([0.1], confidence=1.0)


def test_pairs_are_matched_by_replicate_and_case() -> None:
    setting = {(0, "a"): 0.9, (0, "b"): 0.8, (1, "a"): 0.7, (1, "c"): 0.5}
    reference = {(0, "a"): 0.85, (0, "b"): 0.8, (1, "a"): 0.75, (2, "a"): 0.1}
    assert paired_differences(setting, reference).tolist() == pytest.approx([0.05, 0.0, -0.05])
    assert paired_differences(setting, reference, maximize=False).tolist() == pytest.approx([-0.05, 0.0, 0.05])


def test_verdicts() -> None:
    reference = {(r, f"case{i}"): 0.80 for r in range(2) for i in range(10)}
    better = {k: v + 0.02 + 0.001 * int(k[1][4:]) for k, v in reference.items()}
    noisy = {k: v + (0.01 if int(k[1][4:]) % 2 else -0.01) for k, v in reference.items()}
    up = compare_paired("better", better, "ref", reference)
    tie = compare_paired("noisy", noisy, "ref", reference)
    down = compare_paired("worse", reference, "ref", better)
    assert up is not None
    assert tie is not None
    assert down is not None
    assert (up.verdict, tie.verdict, down.verdict) == ("better", "no difference", "worse")
    assert up.n_pairs == 20
    assert up.mean_difference == pytest.approx(0.0245)
    assert up.ci_low > 0
    assert up.p_value < 0.001
    assert tie.ci_low < 0 < tie.ci_high
    assert tie.p_value == pytest.approx(1.0)
    assert compare_paired("other", {(5, "x"): 1.0}, "ref", reference) is None
    few = compare_paired("few", {k: better[k] for k in list(better)[:4]}, "ref", reference)
    assert few is not None
    assert few.ci_low > 0
    assert few.verdict == "too few pairs"
