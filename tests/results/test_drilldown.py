"""Per-task and per-tier figures (`roibench show`) and the per-tier / injection metrics, on
hand-made trials whose figures are worked out here by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Outcome, OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.core.usage import Usage
from roibench.results.drilldown import TrialFilter, breakdown
from roibench.results.groups import group_metrics, is_injection, task_groups
from roibench.results.summary import summarize_tally
from roibench.results.tally import CellTally

D = Decimal
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)
R, F, E = Outcome.resolved(), Outcome.failed("wrong amount"), Outcome.escalated("handoff")
INJ = "refunds-adversarial-inject-1"


def harm(loss: str) -> Outcome:
    return Outcome.harmful(f"paid {loss} beyond policy", D(loss))


def trial(cell: str, task: str, tier: str, k: int, outcome: Outcome) -> TrialRecord:
    return TrialRecord(
        cell=cell, workflow=cell.split("/")[0], agent="react", model=cell.split("/", 2)[2],
        task_id=task, tier=tier, trial=k, seed=k, outcome=outcome, calls=(), usage=Usage(),
        cost_usd=D("0.01"), steps=1, started_at=T0, duration_s=1.0,
    )  # fmt: skip


A, B = "refunds/react/sim/a", "refunds/react/sim/b"
TRIALS = [
    # cell A: an easy task 2 of 3, an injection task 1 of 3 with $15 lost, a hard task 1 of 2
    trial(A, "easy-1", "easy", 0, R), trial(A, "easy-1", "easy", 1, R),
    trial(A, "easy-1", "easy", 2, F),
    trial(A, INJ, "adversarial", 0, harm("10")), trial(A, INJ, "adversarial", 1, R),
    trial(A, INJ, "adversarial", 2, harm("5")),
    trial(A, "hard-1", "hard", 0, E), trial(A, "hard-1", "hard", 1, R),
    # cell B: the easy task every time
    trial(B, "easy-1", "easy", 0, R), trial(B, "easy-1", "easy", 1, R),
    trial(B, "easy-1", "easy", 2, R),
]  # fmt: skip


def test_per_task_and_per_tier_figures_by_hand() -> None:
    result = breakdown(TRIALS, TrialFilter(), k=2)
    assert result.trials_seen == result.trials_in_scope == len(TRIALS)
    tasks = {(t.cell, t.task_id): t for t in result.tasks}
    easy = tasks[(A, "easy-1")]
    assert easy.counts.resolved == 2 and easy.counts.failed == 1
    assert easy.success_rate == pytest.approx(2 / 3)
    assert easy.pass_hat(2) == pytest.approx(1 / 3)  # C(2,2)/C(3,2)
    inj = tasks[(A, INJ)]
    assert inj.loss_usd == D(15) and inj.counts.harmful == 2 and inj.injection
    assert inj.pass_hat(2) == 0.0
    # tiers listed easy -> adversarial, the injection group after them
    groups = [(g.cell, g.group) for g in result.groups()]
    assert groups == [
        (A, "easy"), (A, "hard"), (A, "adversarial"), (A, "injection"), (B, "easy"),
    ]  # fmt: skip
    by = {(g.cell, g.group): g for g in result.groups()}
    assert by[(A, "hard")].pass_hat(2) == 0.0  # 1 of 2 resolved: C(1,2)/C(2,2) = 0
    assert by[(A, "adversarial")].success_rate == pytest.approx(1 / 3)
    assert by[(A, "adversarial")].loss_usd == D(15)
    assert by[(B, "easy")].pass_hat(2) == 1.0


def test_worst_tasks_and_the_trial_to_render() -> None:
    result = breakdown(TRIALS, TrialFilter())
    assert result.k == 3  # the most trials any task has
    assert [(t.cell, t.task_id) for t in result.worst(5)] == [(A, INJ)]
    assert result.picked is not None
    assert result.picked.outcome.loss_usd == D(10)  # the costliest trial of the run
    assert result.picked_of == len(TRIALS)


@pytest.mark.parametrize(
    ("flt", "tasks", "picked"),
    [
        (TrialFilter(cells=("*/b",)), {(B, "easy-1")}, (B, "easy-1", 0)),
        (TrialFilter(tasks=("*inject*",)), {(A, INJ)}, (A, INJ, 0)),
        (TrialFilter(tiers=("hard",)), {(A, "hard-1")}, (A, "hard-1", 0)),
        # tasks with a failed trial, with all their trials; the failed one rendered
        (TrialFilter(statuses=(OutcomeStatus.FAILED,)), {(A, "easy-1")}, (A, "easy-1", 2)),
        (TrialFilter(tasks=(INJ,), trial=1), {(A, INJ)}, (A, INJ, 1)),
    ],
)
def test_filters(
    flt: TrialFilter, tasks: set[tuple[str, str]], picked: tuple[str, str, int]
) -> None:
    result = breakdown(TRIALS, flt)
    assert {(t.cell, t.task_id) for t in result.tasks} == tasks
    assert result.picked is not None
    assert (result.picked.cell, result.picked.task_id, result.picked.trial) == picked
    if flt.statuses:
        (task,) = result.tasks
        assert task.counts.total == 3  # the task's figures cover all its trials


def test_group_metrics_by_hand() -> None:
    tally = CellTally.of(t for t in TRIALS if t.cell == A)
    m = group_metrics(tally)
    assert m["trials_tier_easy"] == 3 and m["success_rate_tier_easy"] == pytest.approx(2 / 3)
    assert m["harm_rate_tier_adversarial"] == pytest.approx(2 / 3)
    assert m["loss_usd_tier_adversarial"] == 15.0
    assert m["success_rate_tier_hard"] == 0.5 and m["harm_rate_tier_hard"] == 0.0
    assert m["success_rate_injection"] == pytest.approx(1 / 3)
    assert m["harm_rate_injection"] == pytest.approx(2 / 3) and m["trials_injection"] == 3
    # and in the cell's metrics (what MLflow logs)
    value = ValueModel(unit="ticket", human_cost_per_task_usd=D(10), source="test")
    summary = summarize_tally(A, tally, value, OutcomePricing(price_usd=D(1)))
    assert summary.metrics["harm_rate_injection"] == pytest.approx(2 / 3)
    # a cell without injection tasks has no injection metrics
    assert not any("injection" in k for k in group_metrics(CellTally.of(TRIALS[-3:])))


def test_injection_tasks_are_named_so() -> None:
    assert is_injection("kyc-adversarial-memo-inject-2") and not is_injection("easy-1")
    groups = task_groups([("a", "easy"), ("b-inject-1", "adversarial"), ("c", "Odd Tier")])
    assert groups == {
        "tier_easy": ["a"], "tier_adversarial": ["b-inject-1"], "tier_odd_tier": ["c"],
        "injection": ["b-inject-1"],
    }  # fmt: skip
