"""The runner against the in-process simulator: what a run returns, and what it does not keep."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roibench.config.suite import load_suite
from roibench.core.records import TrialRecord
from roibench.journal.store import Journal, iter_trials, trial_key
from roibench.results.summary import new_tallies, summarize, tally_trials
from roibench.run.plan import spec_for
from roibench.run.runner import Runner, RunOptions, plan_suite

REPO = Path(__file__).resolve().parents[2]


def test_a_run_that_keeps_no_trials_loses_nothing(tmp_path: Path) -> None:
    """With keep_trials off (as `roibench run` runs), every record still reaches the journal
    and the progress callback, and the tallies fed by the callback give the same figures as
    the records kept in memory."""
    plan = plan_suite(load_suite(REPO / "evals/quickstart.toml"), limit=4, trials=2)
    kept = asyncio.run(Runner(plan).run())
    reference = [t for ts in kept.trials.values() for t in ts]
    assert len(reference) == plan.total_trials == 4 * 3 * 2

    tallies = new_tallies(spec_for(plan))
    seen: list[TrialRecord] = []

    def progress(record: TrialRecord) -> None:
        seen.append(record)
        tallies[record.cell].add(record)

    journal = Journal(tmp_path / "journal.jsonl", header={"suite": "quickstart"})
    options = RunOptions(keep_trials=False)
    result = asyncio.run(Runner(plan, journal=journal, progress=progress, options=options).run())
    journal.close()
    assert all(not records for records in result.trials.values())
    journaled = list(iter_trials(journal.path))
    assert len(seen) == len(journaled) == plan.total_trials
    assert {trial_key(t) for t in journaled} == {trial_key(t) for t in reference}

    # the simulator is deterministic per (task, trial seed): same outcomes and costs
    from_tallies = summarize(spec_for(plan), tallies)
    from_records = summarize(spec_for(plan), tally_trials(spec_for(plan), reference))
    for label, summary in from_records.items():
        streamed = from_tallies[label].metrics
        for name in ("trials", "success_rate", "spend_usd", "pass_hat_2", "harm_rate"):
            assert streamed.get(name) == summary.metrics.get(name), (label, name)
