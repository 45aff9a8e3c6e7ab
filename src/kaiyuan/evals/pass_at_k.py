"""pass@k: the chance that at least one of k samples passes, estimated from n >= k samples.

Chen et al. 2021, "Evaluating Large Language Models Trained on Code" (arXiv 2107.03374),
section 2.1: with n samples per problem of which c pass, the unbiased estimator is
1 - C(n-c, k) / C(n, k). The binomials overflow floats for large n; the ratio equals the
product of (1 - k/i) for i from n-c+1 to n, the numerically stable form of the paper's
Figure 3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with `n` samples of which `c` passed."""
    if n < 1:
        raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
    if not 0 <= c <= n:
        raise ValueError(f"c counts passing samples, so 0 <= c <= n={n}; got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n: draw at least k={k} samples per problem,"
                         f" got n={n}")
    if n - c < k:  # every draw of k samples contains a passing one
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(results: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k over problems, each given as (samples, passing samples)."""
    if not results:
        raise ValueError("no results: pass@k over zero problems is undefined")
    return math.fsum(pass_at_k(n, c, k) for n, c in results) / len(results)
