"""`summarize` (a cell's figures and every interval: cluster-robust success, task bootstrap of
CPO, both ROIs, margin, pass^j, corridor and break-even) and a paired comparison, timed at
growing task counts, k = 3 trials per task, 1,000 resamples.

    python benchmarks/stats.py [--tasks 1000 2000 5000 10000] [--repeat 5]

Prints the very first call (numpy/scipy imported, everything cold), the median of fresh calls
(each draws its resample matrix: the first cell of a run) and of calls that reuse it (the
other cells of a run with the same tasks and seed). The target is summarize <= 0.1 s at 1,000
tasks (fresh) and linear beyond (time per task flat).
Exit 1 when the 1,000-task median misses 0.1 s (a result, printed; never a test assertion).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal

from roibench.config.value import OutcomePricing, ValueModel
from roibench.results.tally import CellTally, MoneySum, TaskTally

VALUE = ValueModel(unit="ticket", human_cost_per_task_usd=Decimal("8.01"), source="benchmark")
PRICING = OutcomePricing(scheme="per_resolution", price_usd=Decimal("0.99"))
K = 3


def tally(tasks: int, seed: int = 0) -> CellTally:
    """A cell of `tasks` tasks × K trials with task-level success rates and spend."""
    import random

    rng = random.Random(seed)
    t = CellTally(spend=MoneySum(priced_usd=Decimal(0), calls=tasks * K * 3))
    spend = 0.0
    for i in range(tasks):
        p = rng.betavariate(1.2, 0.5)
        resolved = sum(rng.random() < p for _ in range(K))
        harmful = min(K - resolved, int(rng.random() < 0.05))
        cost = sum(rng.uniform(0.005, 0.02) for _ in range(K))
        spend += cost
        t.tasks[f"task-{i:05d}"] = TaskTally(
            n=K, resolved=resolved, failed=K - resolved - harmful, harmful=harmful,
            spend_usd=cost, loss_usd=25.0 * harmful,
        )  # fmt: skip
    t.spend.priced_usd = Decimal(str(round(spend, 6)))
    t.loss_usd = Decimal(str(sum(g.loss_usd for g in t.tasks.values())))
    return t


def timed(fn: object, repeat: int) -> tuple[float, float]:
    """(first call, median of the next `repeat`) in seconds."""
    assert callable(fn)
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return first, statistics.median(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from roibench.results.paired import paired_figures
    from roibench.results.summary import summarize_tally
    from roibench.results.tasksums import EconParams, matrix_of_tallies

    params = EconParams.of(VALUE, PRICING)
    names = ["success_rate", "cost_per_outcome_usd", "roi_outcome_pricing", f"pass_hat_{K}"]
    from roibench.results.stats import resample_weights

    print(f"summarize: one cell, k = {K}, 1,000 resamples; medians of {args.repeat} runs")
    print(f"{'tasks':>7} {'first s':>8} {'fresh s':>8} {'reused s':>9} {'µs/task':>8} "
          f"{'paired s':>9}")  # fmt: skip
    at_1000 = None
    for n in args.tasks:
        a, b = tally(n, 1), tally(n, 2)

        def fresh(a: CellTally = a) -> None:
            resample_weights.cache_clear()
            summarize_tally("bench", a, VALUE, PRICING, seed=7)

        cold, warm = timed(fresh, args.repeat)
        _, reused = timed(lambda a=a: summarize_tally("bench", a, VALUE, PRICING, seed=7),
                          args.repeat)  # fmt: skip
        xa = matrix_of_tallies(a.tasks, [K], priced=True)
        xb = matrix_of_tallies(b.tasks, [K], priced=True)

        def pair(xa: object = xa, xb: object = xb) -> None:
            resample_weights.cache_clear()
            paired_figures(xa, xb, params, params, names, seed=7)  # type: ignore[arg-type]

        _, paired = timed(pair, args.repeat)
        if n == 1000:
            at_1000 = warm
        print(f"{n:>7} {cold:>8.3f} {warm:>8.3f} {reused:>9.3f} {warm / n * 1e6:>8.1f} "
              f"{paired:>9.3f}")  # fmt: skip
    del np
    print(f"load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if at_1000 is not None:
        verdict = "met" if at_1000 <= 0.1 else "MISSED"
        print(f"target: summarize <= 0.1 s at 1,000 tasks — {verdict} ({at_1000:.3f} s)")
        return 0 if at_1000 <= 0.1 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
