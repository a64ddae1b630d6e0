"""The multi-seed parity statistics: known inputs give the known interval and verdict."""

import pytest

from shared.reporting.stats import compare_means, describe


def test_welch_interval_of_a_worked_example():
    # Δ = 2 − 3.1667; s² = 1 and 1.5833; se = √(1/3 + 1.5833/3) = 0.92796; Welch df = 3.806,
    # t(0.975, 3.806) = 2.833, so the half-width is 2.629.
    c = compare_means([1.0, 2.0, 3.0], [2.0, 3.0, 4.5], tolerance=0.5)
    assert c.delta == pytest.approx(-1.16667, abs=1e-4)
    assert (c.low, c.high) == (pytest.approx(-3.7957, abs=1e-3), pytest.approx(1.4624, abs=1e-3))
    assert c.verdict == "inconclusive"


def test_identical_samples_agree():
    c = compare_means([86.7, 86.7, 86.7], [86.7, 86.7, 86.7])
    assert (c.verdict, c.delta, c.low, c.high) == ("agree", 0.0, 0.0, 0.0)
    assert "AGREE" in describe(c) and "within ±0.5 points" in describe(c)


def test_close_samples_agree_within_the_tolerance():
    c = compare_means([86.70, 86.80, 86.75, 86.72], [86.74, 86.69, 86.78, 86.71])
    assert c.verdict == "agree" and -0.5 < c.low < c.high < 0.5


def test_clearly_separated_samples_differ():
    c = compare_means([44.8, 45.1, 44.9], [47.4, 47.6, 47.3])
    assert c.verdict == "differ" and c.high < -0.5
    assert "DIFFER" in describe(c) and "outside ±0.5 points" in describe(c)


def test_a_wide_interval_is_inconclusive_and_says_how_many_seeds():
    a, b = [84.0, 84.6, 84.3], [84.4, 84.2, 84.0]
    c = compare_means(a, b)
    assert c.verdict == "inconclusive" and c.low < -0.5 < c.high
    assert c.seeds_needed is not None and c.seeds_needed > 3
    assert f"about {c.seeds_needed} seeds per backend would decide it" in describe(c)
    # that many seeds with the same spread and difference do decide it
    assert compare_means(a * c.seeds_needed, b * c.seeds_needed).verdict == "agree"


def test_huge_variance_says_that_seeds_will_not_settle_it():
    c = compare_means([80.0, 88.0, 84.0], [81.0, 87.0, 85.0])  # Δ −0.33, spread ±4 points
    assert c.verdict == "inconclusive" and c.seeds_needed is None
    assert "over 1000 seeds per backend would be needed" in describe(c)


def test_a_single_seed_gives_no_statistical_verdict():
    c = compare_means([86.74], [86.73])
    assert (c.verdict, c.low, c.high) == ("single run", None, None)
    assert c.delta == pytest.approx(0.01)
    assert "no statistical verdict" in describe(c) and "+0.01 points" in describe(c)
