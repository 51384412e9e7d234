"""Seed statistics: mean, standard deviation, Student-t 95% intervals, paired differences.

Every training seed of every variant sees the same data splits (`data_seed`),
so two variants compared seed by seed form pairs: the paired difference
d_s = a_s - b_s removes the seed-to-seed noise the two share, and its
interval is the honest answer to "is A better than B".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as _st


def ci95(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t interval of the mean: mean ± t_{n-1} * sd / sqrt(n).

    With one value there is no spread to estimate: the interval is (nan, nan).
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return (math.nan, math.nan)
    half = float(_st.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    m = float(v.mean())
    return (m - half, m + half)


def describe(per_seed: Mapping[int | str, float]) -> dict[str, object]:
    """{"mean", "std" (ddof=1; 0 for one seed), "ci95": [lo, hi] (null for one seed), "per_seed"}."""
    v = np.array(list(per_seed.values()), dtype=np.float64)
    lo, hi = ci95(v)
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "ci95": None if math.isnan(lo) else [lo, hi],
        "per_seed": {str(s): float(x) for s, x in per_seed.items()},
    }


def paired(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, object]:
    """Paired difference a - b over the seeds both have, with its t interval.

    `significant` is true when the 95% interval excludes zero (a two-sided
    paired t-test at 5%); `p_value` is that test's.
    """
    seeds = sorted(set(a) & set(b), key=lambda s: int(s))
    if not seeds:
        raise ValueError("paired difference needs at least one seed present in both variants")
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    out = describe({s: x for s, x in zip(seeds, d)})
    lo_hi = out["ci95"]
    if lo_hi is None:
        p = math.nan
    elif d.std(ddof=1) == 0:
        p = 0.0 if d.mean() != 0 else 1.0
    else:
        p = float(_st.ttest_1samp(d, 0.0).pvalue)
    out["n"] = len(seeds)
    out["p_value"] = None if math.isnan(p) else p
    out["significant"] = bool(lo_hi is not None and (lo_hi[0] > 0 or lo_hi[1] < 0))
    return out
