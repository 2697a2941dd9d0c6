"""The order trials start in: a cap or an interrupt leaves every cell partly measured, on a
fair mix of its tiers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from roibench.config.suite import parse_suite
from roibench.run.runner import plan_suite, tier_spread, work_order

SUITE = (
    'name = "order"\ntrials = 2\nagents = ["react"]\n'
    '[[workflows]]\nname = "refunds"\nlimit = 8\n'
    "[outcome_pricing]\nprice_usd = 1\n"
    '[[models]]\nname = "sim/balanced"\nprovider = "sim"\n'
    '[[models]]\nname = "sim/budget"\nprovider = "sim"\n'
    '[[models]]\nname = "sim/frontier"\nprovider = "sim"\n'
)


def test_cells_are_interleaved_task_by_task_and_trials_go_round_by_round() -> None:
    plan = plan_suite(parse_suite(SUITE, Path("order.toml")))
    order = [(c.label, t.id, k) for c, t, k in work_order(plan)]
    assert len(order) == len(set(order)) == 3 * 8 * 2
    labels = [c.label for c in plan.cells]
    # any prefix of the order holds every cell within one trial of the others
    for n in range(1, len(order) + 1):
        counts = Counter(label for label, _, _ in order[:n])
        assert max(counts[x] for x in labels) - min(counts[x] for x in labels) <= 1
    assert {k for _, _, k in order[:24]} == {0}  # every task's trial 0 before any trial 1


def test_tier_spread_keeps_every_prefix_in_proportion() -> None:
    plan = plan_suite(parse_suite(SUITE.replace("limit = 8", "limit = 20"), Path("o.toml")))
    tasks = plan.cells[0].tasks
    tiers = Counter(t.tier for t in tasks)
    spread = tier_spread(tasks)
    assert sorted(t.id for t in spread) == sorted(t.id for t in tasks)
    assert len(tiers) > 1
    for n in range(1, len(spread) + 1):
        seen = Counter(t.tier for t in spread[:n])
        for tier, total in tiers.items():  # within one task of its share of the prefix
            assert abs(seen[tier] - n * total / len(tasks)) <= 1, (n, tier)
    # each tier keeps its own order
    for tier in tiers:
        assert [t.id for t in spread if t.tier == tier] == [t.id for t in tasks if t.tier == tier]
