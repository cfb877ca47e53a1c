"""Is the difference between A/B variants more than chance? Pearson's chi-square test on
the variants' successes and failures, in plain Python (no SciPy for one function)."""

from __future__ import annotations

import math

_EPSILON = 1e-12
_MAX_ITERATIONS = 500


def _lower_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its series (good for x < a + 1)."""
    term = total = 1.0 / a
    n = a
    for _ in range(_MAX_ITERATIONS):
        n += 1
        term *= x / n
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by Lentz's continued fraction (x >= a + 1)."""
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPSILON:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_survival(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for a chi-square variable with `degrees` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    a, x = degrees / 2, statistic / 2
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x))
    return min(1.0, _upper_fraction(a, x))


def chi_square_p(successes: list[int], totals: list[int]) -> float | None:
    """The p-value that the success rates of these groups differ only by chance; None when
    there is nothing to compare (fewer than two groups with friends, or no variation)."""
    groups = [(s, n) for s, n in zip(successes, totals, strict=True) if n > 0]
    if len(groups) < 2:
        return None
    all_successes = sum(s for s, _ in groups)
    everyone = sum(n for _, n in groups)
    if all_successes == 0 or all_successes == everyone:
        return None
    rate = all_successes / everyone
    statistic = 0.0
    for s, n in groups:
        expected_yes, expected_no = n * rate, n * (1 - rate)
        statistic += (s - expected_yes) ** 2 / expected_yes
        statistic += ((n - s) - expected_no) ** 2 / expected_no
    return chi_square_survival(statistic, len(groups) - 1)
