"""Running tallies: what a cell's summary needs, counted one trial at a time, by hand; the
user simulator's calls apart; order independence; memory that grows with tasks, not trials."""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, CallRole, ErrorClass, ToolCallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.results.summary import summarize_tally
from roibench.results.tally import CellTally, MoneySum

D = Decimal
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)
VALUE = ValueModel(unit="ticket", human_cost_per_task_usd=D(10), source="test figures")
PRICING = OutcomePricing(price_usd=D("1.00"))
WRITE = frozenset({"issue_refund"})


def call(
    cost: str | None,
    *,
    role: CallRole = CallRole.AGENT,
    latency_s: float = 0.1,
    error: ErrorClass | None = None,
    cached: bool = False,
    estimated: bool = False,
    tokens: int = 100,
    attempt: int = 0,
) -> CallRecord:
    return CallRecord(
        role=role,
        started_at=T0,
        latency_s=latency_s,
        usage=Usage(input_tokens=tokens, output_tokens=tokens // 10, requests=1),
        cost_usd=None if cost is None else D(cost),
        error=error,
        cached=cached,
        usage_estimated=estimated,
        attempt=attempt,
    )


def trial(
    task: str,
    k: int,
    outcome: Outcome,
    calls: tuple[CallRecord, ...],
    *,
    writes: int = 0,
    lost: tuple[CallRecord, ...] = (),
    invalid: int = 0,
) -> TrialRecord:
    costs = [c.cost_usd for c in calls]
    total = None if None in costs else sum((c for c in costs if c is not None), D(0))
    return TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id=task, tier="easy", trial=k,
        seed=k, outcome=outcome, calls=calls, usage=sum((c.usage for c in calls), Usage()),
        cost_usd=total, steps=len(calls), started_at=T0, duration_s=1.0, lost_calls=lost,
        invalid_tool_calls=invalid,
        tool_log=tuple(
            ToolCallRecord(name="issue_refund", args={}, result="ok", ok=True)
            for _ in range(writes)
        ),
    )  # fmt: skip


def test_money_sum_is_none_once_a_cost_is_unknown() -> None:
    money = MoneySum()
    assert money.total_usd == D(0)
    money.add(D("0.25"))
    money.add(D("0.50"))
    assert money.total_usd == D("0.75") and money.calls == 2
    money.add(None)
    assert money.total_usd is None  # never shown as 0.75 nor as free
    assert money.priced_usd == D("0.75") and money.unpriced == 1 and money.calls == 3


def test_a_tally_counted_by_hand() -> None:
    tally = CellTally(write_tools=WRITE)
    tally.add(
        trial(
            "t1", 0, Outcome.resolved(),
            (call("0.10", latency_s=0.5), call("0.02", role=CallRole.USER_SIM),
             call("0.05", error=ErrorClass.RATE_LIMITED)),
            writes=2, lost=(call("0.30"), call("0.01")), invalid=1,
        )
    )  # fmt: skip
    tally.add(
        trial("t1", 1, Outcome.failed("wrong"), (call("0.20", cached=True, attempt=1),), writes=1)
    )
    tally.add(
        trial(
            "t2", 0, Outcome.harmful("over-refund", loss_usd=D("7.5")),
            (call("0.40", estimated=True), call("0.03", role=CallRole.USER_SIM)),
        )
    )  # fmt: skip
    # agent calls only: 0.10 + 0.05 + 0.20 + 0.40; the user simulator's 0.02 + 0.03 apart
    assert tally.spend.total_usd == D("0.75") and tally.spend.calls == 4
    assert tally.user_sim_spend.total_usd == D("0.05") and tally.user_sim_requests == 2
    assert sorted(tally.latencies_s) == [0.1, 0.1, 0.1, 0.5]
    assert tally.usage.requests == 4 and tally.usage.input_tokens == 400
    assert tally.loss_usd == D("7.5")
    # one failed attempt (the rate limit) and, apart, one call that was a retry (attempt 1)
    assert (tally.retried_calls, tally.failed_attempts) == (1, 1)
    assert (tally.cached_calls, tally.estimated_usage_calls) == (1, 1)
    assert tally.lost_spend.total_usd == D("0.31") and tally.lost_spend.calls == 2
    assert tally.invalid_tool_calls == 1
    assert tally.trials == 3
    t1, t2 = tally.task_groups()
    assert (t1.n, t1.resolved, t1.failed, t1.actions) == (2, 1, 1, 3)
    assert abs(t1.spend_usd - (0.10 + 0.05 + 0.20)) < 1e-12
    assert (t2.n, t2.harmful, t2.loss_usd) == (1, 1, 7.5)
    assert abs(t2.spend_usd - 0.40) < 1e-12

    m = summarize_tally("w/a/m", tally, VALUE, PRICING).metrics
    assert m["spend_usd"] == 0.75
    assert m["cost_per_outcome_usd"] == 0.75  # one resolution
    assert m["user_sim_spend_usd"] == 0.05
    assert abs(m["cost_per_outcome_with_user_sim_usd"] - 0.80) < 1e-12
    assert m["lost_spend_usd"] == 0.31 and m["lost_calls"] == 2
    # p95 of [0.1, 0.1, 0.1, 0.5]: position 0.95 * 3 = 2.85 -> 0.1 + 0.85 * (0.5 - 0.1) = 0.44
    assert m["latency_p50_s"] == 0.1 and abs(m["latency_p95_s"] - 0.44) < 1e-9
    # pass^1 = mean over tasks of c/n = (1/2 + 0/1) / 2; pass^2 only t1 has 2 trials: C(1,2)=0
    assert m["pass_hat_1"] == 0.25 and m["pass_hat_2"] == 0.0


def test_an_unpriced_agent_call_leaves_cost_metrics_absent() -> None:
    tally = CellTally.of([trial("t1", 0, Outcome.resolved(), (call("0.1"), call(None)))])
    m = summarize_tally("w/a/m", tally, VALUE, PRICING).metrics
    assert tally.spend.total_usd is None
    assert m["unpriced_calls"] == 1
    assert "spend_usd" not in m and "cost_per_outcome_usd" not in m
    assert "roi_token_pricing" not in m


def test_finishing_order_does_not_change_any_figure() -> None:
    rng = random.Random(7)
    outcomes = [Outcome.resolved(), Outcome.failed("x"), Outcome.escalated("y")]
    trials = [
        trial(f"t{i}", k, rng.choice(outcomes), (call(f"0.0{rng.randint(1, 9)}"),))
        for i in range(12)
        for k in range(3)
    ]
    shuffled = trials[:]
    rng.shuffle(shuffled)
    a = summarize_tally("c", CellTally.of(trials), VALUE, PRICING, seed=3).metrics
    b = summarize_tally("c", CellTally.of(shuffled), VALUE, PRICING, seed=3).metrics
    assert a.keys() == b.keys()
    for name in a:  # float sums may differ in the last bit; the bootstrap groups must not
        assert abs(a[name] - b[name]) <= 1e-9 * max(1.0, abs(a[name])), name


def test_memory_grows_with_tasks_not_trials() -> None:
    tasks = [f"t{i}" for i in range(20)]
    tally = CellTally(write_tools=WRITE)
    for t in tasks:  # every task seen once: the per-task entries exist
        tally.add(trial(t, 0, Outcome.resolved(), (call("0.01"),), writes=1))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for k in range(1, 501):
            for t in tasks:  # a fresh record each time, as a run produces them
                tally.add(trial(t, k, Outcome.resolved(), (call("0.01"),), writes=1))
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # 10,000 more trials, one call each: only the latency array grows, 8 bytes per call;
    # holding the records would take kilobytes each
    assert tally.trials == 10_020
    assert grown < 10_000 * 64, f"{grown} bytes for 10,000 trials"


def test_non_acting_roles_count_in_spend_and_show_apart() -> None:
    tally = CellTally.of(
        [
            trial(
                "t1", 0, Outcome.resolved(),
                (call("0.10", role=CallRole.PLANNER), call("0.20"),
                 call("0.05", role=CallRole.VERIFIER),
                 call("0.00", role=CallRole.VERIFIER, error=ErrorClass.RATE_LIMITED),
                 call("0.01", role=CallRole.USER_SIM)),
            ),
            trial("t2", 0, Outcome.resolved(), (call("0.30", role=CallRole.PLANNER), call(None))),
        ]
    )  # fmt: skip
    m = summarize_tally("w/a/m", tally, VALUE, PRICING).metrics
    # planner 0.10 + 0.30 and verifier 0.05 + 0.00 are the agent's: inside its spend, which is
    # unpriced overall (one agent call has no price) — so spend_usd is absent, not a number
    assert "spend_usd" not in m and m["unpriced_calls"] == 1
    assert m["planner_spend_usd"] == 0.40 and m["planner_requests"] == 2
    assert m["verifier_spend_usd"] == 0.05 and m["verifier_requests"] == 2
    assert m["user_sim_spend_usd"] == 0.01 and "user_sim_spend_usd_requests" not in m
    assert m["requests"] == 6  # every agent-side call: acting, planning and reviewing
