"""Limits on every LLM call, not every trial: agents that ignore their budgets (a test agent
file, tests/fixtures/plugins/looping_agent.py) against the spend cap, the step and token
budgets and the trial timeout, through the real HTTP simulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from roibench.config.suite import load_suite
from roibench.core.outcomes import OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.run.runner import Runner, RunOptions, plan_suite

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "fixtures" / "plugins"
IN_PER_MTOK, OUT_PER_MTOK = Decimal("1.0"), Decimal("4.0")
MAX_TOKENS = 400


def suite_text(agent: str, *, cells: int = 1, concurrency: int = 4, extra: str = "") -> str:
    """Refunds x one agent x `cells` simulated models, priced $1 in / $4 out per million (cache
    reads at the input rate: the card names no cache price), output capped at MAX_TOKENS."""
    models = "".join(
        f'[[models]]\nname = "{name}"\nprovider = "sim"\nmax_tokens = {MAX_TOKENS}\n'
        f"[models.price]\ninput_per_mtok = {IN_PER_MTOK}\noutput_per_mtok = {OUT_PER_MTOK}\n"
        for name in ("sim/balanced", "sim/budget", "sim/frontier")[:cells]
    )
    return (
        f'name = "limits"\nseed = 3\ntrials = 2\nconcurrency = {concurrency}\n{extra}'
        f"agents = [{agent}]\n"
        '[[workflows]]\nname = "refunds"\nlimit = 6\n'
        f"[outcome_pricing]\nprice_usd = 0.5\n{models}"
    )


def by_hand(call: dict[str, Any]) -> Decimal:
    """A call's cost from its usage and the suite's prices, computed here, not by roibench."""
    usage = call["usage"]
    tokens_in, tokens_out = Decimal(usage["input_tokens"]), Decimal(usage["output_tokens"])
    return (tokens_in * IN_PER_MTOK + tokens_out * OUT_PER_MTOK) / 1_000_000


def journal_lines(out: Path) -> list[dict[str, Any]]:
    (journal,) = out.rglob("journal.jsonl")
    return [json.loads(line) for line in journal.read_text().splitlines()]


def roibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="250", MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'm.db'}")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_looping_agent_under_max_spend_stays_within_the_stated_bound(tmp_path: Path) -> None:
    """An agent that never stops (max_steps far away) under --max-spend: the cap is checked
    before every request, so the run spends at most the cap plus one request per concurrency
    slot (README, Reliability), and the trial it cut says budget_exhausted."""
    agent = f'{{ name = "{PLUGINS}/looping_agent.py:LOOPING", max_steps = 100000 }}'
    concurrency, cap = 4, Decimal("0.03")
    (tmp_path / "s.toml").write_text(suite_text(agent, cells=2, concurrency=concurrency))
    out = roibench(
        "run", "s.toml", "--out", "runs", "--no-mlflow", "--max-spend", str(cap), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = journal_lines(tmp_path / "runs")
    calls = [o["call"] for o in lines if o["kind"] == "call"]
    trials = [o["trial"] for o in lines if o["kind"] == "trial"]
    for call in calls:  # the journal's prices are the card's
        assert Decimal(call["cost_usd"]) == by_hand(call)
    spent = sum((by_hand(c) for c in calls if not c["cached"]), Decimal(0))
    bound = concurrency * max(by_hand(c) for c in calls)
    assert spent <= cap + bound, (spent, cap, bound)
    assert spent > cap / 2  # the cap, not something else, ended it
    assert len(calls) > 10  # the agent really looped
    assert trials and {t["error_class"] for t in trials} == {"budget_exhausted"}
    assert {t["outcome"]["status"] for t in trials} == {"error"}
    assert "budget exhausted" in out.stdout  # the table's limits column
    assert "spend cap reached" in out.stderr


def _plan(tmp_path: Path, agent: str, extra: str = "") -> Any:
    (tmp_path / "s.toml").write_text(suite_text(agent, extra=extra))
    return plan_suite(load_suite(tmp_path / "s.toml"))


async def _run_trials(runner: Runner, n: int) -> list[TrialRecord]:
    cell = runner.plan.cells[0]
    try:
        return list(
            await asyncio.gather(*(runner.run_trial(cell, cell.tasks[i], 0) for i in range(n)))
        )
    finally:
        await runner.aclose()


def test_concurrent_looping_trials_share_one_cap(tmp_path: Path) -> None:
    """Four looping trials in flight at once (no trial gate in between): every request is
    held against the cap, so together they overshoot it by at most one request each."""
    plan = _plan(tmp_path, f'{{ name = "{PLUGINS}/looping_agent.py:LOOPING", max_steps = 9999 }}')
    cap = Decimal("0.02")
    runner = Runner(plan, options=RunOptions(max_spend_usd=cap))
    records = asyncio.run(_run_trials(runner, 4))
    calls = [c.model_dump(mode="json") for r in records for c in r.calls]
    spent = sum((by_hand(c) for c in calls), Decimal(0))
    assert spent <= cap + 4 * max(by_hand(c) for c in calls), spent
    assert spent > cap / 2
    assert [r.error_class for r in records] == ["budget_exhausted"] * 4
    assert all(len(r.calls) >= 2 for r in records)  # all four made progress side by side


@pytest.mark.parametrize(
    ("agent", "budget", "reason", "agent_calls"),
    [
        ("LOOPING", "max_steps = 5", "step_limit", 5),
        # swallows every LimitReached and calls again: refused calls reach no model, and the
        # trial is cancelled after a few
        ("STUBBORN", "max_steps = 3", "step_limit", 3),
        ("LOOPING", "max_tokens_per_trial = 3000", "token_limit", None),
    ],
)
def test_budgets_hold_for_agents_that_ignore_them(
    tmp_path: Path, agent: str, budget: str, reason: str, agent_calls: int | None
) -> None:
    plan = _plan(tmp_path, f'{{ name = "{PLUGINS}/looping_agent.py:{agent}", {budget} }}')
    (record,) = asyncio.run(_run_trials(Runner(plan), 1))
    assert record.error_class == reason
    assert record.outcome.reason.startswith(f"{reason}: ")  # graded, the limit named
    assert record.outcome.status is OutcomeStatus.FAILED  # it never replied
    if agent_calls is not None:
        assert len(record.calls) == agent_calls
    else:  # the call that crossed the budget was the last one made
        tokens = [c.usage.total_tokens for c in record.calls]
        assert sum(tokens[:-1]) < 3000 <= sum(tokens)


def test_hung_agent_is_cancelled_by_the_trial_timeout(tmp_path: Path) -> None:
    plan = _plan(tmp_path, f'"{PLUGINS}/looping_agent.py:HANGING"', extra="trial_timeout_s = 0.5\n")
    (record,) = asyncio.run(_run_trials(Runner(plan), 1))
    assert record.error_class == "trial_timeout"
    assert record.outcome.status is OutcomeStatus.HARNESS_ERROR
    assert "agent hanging" in record.outcome.reason and "0.5 s" in record.outcome.reason
    assert record.duration_s >= 0.5


def test_hung_tool_is_cancelled_by_trial_timeout_flag(tmp_path: Path) -> None:
    """`--trial-timeout` on the command line: a tool that never returns is cancelled, the
    trial is a harness error naming the tool, and the run goes on to the end (exit 1: a
    harness error needs fixing)."""
    wf = f"{PLUGINS}/buggy_workflows.py"
    (tmp_path / "s.toml").write_text(
        'name = "hang"\ntrials = 1\nconcurrency = 4\n'
        f'workflows = ["{wf}:HangingTool", "{wf}:Healthy"]\nagents = ["react"]\n'
        '[outcome_pricing]\nprice_usd = 0.5\n[[models]]\nname = "sim/balanced"\nprovider = "sim"\n'
    )
    out = roibench("run", "s.toml", "--out", "runs", "--no-mlflow", "--trial-timeout", "0.5",
                   cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1, out.stderr[-3000:]
    trials = [o["trial"] for o in journal_lines(tmp_path / "runs") if o["kind"] == "trial"]
    assert len(trials) == 8  # 4 tasks x 2 workflows: none lost to the hang
    hung = [t for t in trials if t["workflow"] == "hanging_tool"]
    assert {t["outcome"]["status"] for t in hung} == {"harness_error"}
    assert {t["error_class"] for t in hung} == {"trial_timeout"}
    assert all("tool 'lookup'" in t["outcome"]["reason"] for t in hung)
    healthy = [t for t in trials if t["workflow"] == "healthy"]
    assert {t["outcome"]["status"] for t in healthy} == {"resolved"}
    assert "Traceback" not in out.stderr
