"""Is a difference between the two backends real? Welch's t on per-seed results.

Each seed is one paired draw of the initial weights and batch plan, shared by both backends, but
the two frameworks' runs are independent samples of "what training gives" — their fp32 round-off
decorrelates them within an epoch — so the test is Welch's two-sample t (unequal variances), not
a paired one. The verdict reads the confidence interval of Δ = mean(PyTorch) − mean(Keras):

- agree: the whole interval lies within ± the tolerance;
- differ: the whole interval lies outside it (on one side);
- inconclusive: it straddles a bound; `seeds_needed` estimates how many seeds per backend would
  shrink it enough, assuming the observed spread and difference stay as they are;
- single run: fewer than two seeds in a backend — no interval exists; Δ only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Points of accuracy. Smaller than the single-run tolerance (shared.reporting.tables), because an interval
# over seeds has the seed-to-seed noise averaged out.
STATISTICAL_TOLERANCE = 0.5
CONFIDENCE = 0.95
MAX_SEEDS_SUGGESTED = 1000
# One seed per backend has no spread to measure, so it is assumed. A run's validation accuracy
# varies from seed to seed by the binomial draw of its validation images, plus what training
# itself varies: TRAINING_SPREAD (points, one standard deviation), a cautious bound above what the
# stored short CPU seeds showed (docs/results.md, "Is Keras ahead?"); longer runs vary less. A Δ
# within SEED_NOISE_Z standard deviations of the difference of two such runs is no evidence of a
# difference.
TRAINING_SPREAD = 2.0
SEED_NOISE_Z = 3.0


@dataclass(frozen=True)
class Comparison:
    delta: float                 # mean(a) − mean(b)
    low: float | None            # confidence interval of delta (None: a single run)
    high: float | None
    verdict: str                 # "agree", "differ", "inconclusive" or "single run"
    seeds: tuple[int, int]       # samples in a and b
    seeds_needed: int | None = None


def compare_means(a, b, tolerance: float = STATISTICAL_TOLERANCE, confidence: float = CONFIDENCE) -> Comparison:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    delta = float(a.mean() - b.mean())
    seeds = (len(a), len(b))
    if min(seeds) < 2:
        return Comparison(delta, None, None, "single run", seeds)
    from scipy import stats  # here, not at the top: it takes a second to import, and --help should not wait

    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        low = high = delta  # no spread at all: the interval is the point (scipy would give NaN)
    else:
        interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
        low, high = float(interval.low), float(interval.high)
    if -tolerance <= low and high <= tolerance:
        return Comparison(delta, low, high, "agree", seeds)
    if high < -tolerance or low > tolerance:
        return Comparison(delta, low, high, "differ", seeds)
    spread = a.var(ddof=1) + b.var(ddof=1)
    return Comparison(delta, low, high, "inconclusive", seeds,
                      seeds_needed(spread, abs(abs(delta) - tolerance), confidence, start=max(seeds) + 1))


def seeds_needed(spread: float, margin: float, confidence: float, start: int) -> int | None:
    """Smallest n (seeds per backend) whose interval half-width, t(df = 2n − 2) · √(spread / n),
    is below the distance between |Δ| and the tolerance; None if Δ sits on the bound or more than
    MAX_SEEDS_SUGGESTED would be needed."""
    from scipy import stats

    if margin <= 0:
        return None
    for n in range(start, MAX_SEEDS_SUGGESTED + 1):
        t = stats.t.ppf(0.5 + confidence / 2, 2 * n - 2)
        if t * math.sqrt(spread / n) < margin:
            return n
    return None


def describe(c: Comparison, tolerance: float = STATISTICAL_TOLERANCE, confidence: float = CONFIDENCE,
             what: str = "mean validation accuracy (PyTorch − Keras)") -> str:
    """One line for a table's verdict."""
    if c.verdict == "single run":
        return (f"Parity: no statistical verdict — {c.seeds[0]} and {c.seeds[1]} seed(s); Δ {what} = "
                f"{c.delta:+.2f} points. Run --seeds 2 or more for a confidence interval.")
    interval = f"{confidence:.0%} CI [{c.low:+.2f}, {c.high:+.2f}] (Welch's t, {c.seeds[0]} vs {c.seeds[1]} seeds)"
    reading = {"agree": f"within ±{tolerance:g} points",
               "differ": f"outside ±{tolerance:g} points",
               "inconclusive": f"straddles ±{tolerance:g} points — " + (
                   f"about {c.seeds_needed} seeds per backend would decide it" if c.seeds_needed else
                   "Δ sits on the bound: no number of seeds decides it" if abs(c.delta) == tolerance else
                   f"over {MAX_SEEDS_SUGGESTED} seeds per backend would be needed at this spread")}
    return f"Parity: {c.verdict.upper()} — Δ {what} = {c.delta:+.2f} points, {interval}, {reading[c.verdict]}."


def seed_spread_points(accuracy: float, images: int) -> float:
    """The assumed run-to-run standard deviation of one backend's validation accuracy (points)."""
    binomial = 100 * math.sqrt(max(accuracy * (1 - accuracy), 0.0) / images)
    return math.hypot(binomial, TRAINING_SPREAD)


def seed_noise_points(accuracy: float, images: int) -> float:
    """The largest |Δ| (points) that seed noise plausibly gives with one run per backend."""
    return SEED_NOISE_Z * math.sqrt(2) * seed_spread_points(accuracy, images)


def seeds_to_decide(delta: float, accuracy: float, images: int, tolerance: float = STATISTICAL_TOLERANCE) -> int | None:
    """About how many seeds per backend Welch's interval would need to decide Δ against ±tolerance,
    at the assumed spread (None: Δ sits on the bound, or over MAX_SEEDS_SUGGESTED)."""
    spread = 2 * seed_spread_points(accuracy, images) ** 2
    return seeds_needed(spread, abs(abs(delta) - tolerance), CONFIDENCE, start=2)
