"""`roibench compare --paired` and `roibench plan` on a real pilot of the quickstart suite (the
built-in simulator over loopback HTTP), checked against figures computed here from the journal's
trial lines, and the plan's design by simulation from the pilot's components."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from roibench.journal.store import iter_trials
from roibench.results.paired import holm, paired_figures
from roibench.results.tasksums import EconParams, TaskMatrix, column_names

REPO = Path(__file__).resolve().parents[2]
FRONTIER, BALANCED, BUDGET = (f"refunds/react/sim/{m}" for m in ("frontier", "balanced", "budget"))


def roibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pilot: the quickstart on 30 tasks × 3 trials, journal only."""
    tmp = tmp_path_factory.mktemp("pilot")
    out = roibench(
        "run", str(REPO / "evals/quickstart.toml"), "--no-mlflow", "--limit", "30",
        "--trials", "3", "--out", str(tmp / "runs"), cwd=tmp,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (journal,) = (tmp / "runs").rglob("journal.jsonl")
    return journal


def by_task(journal: Path, cell: str) -> dict[str, list[int]]:
    """Resolved flags per task of one cell, straight from the trial lines."""
    found: dict[str, list[int]] = defaultdict(list)
    for t in iter_trials(journal):
        if t.cell == cell:
            found[t.task_id].append(int(t.outcome.status == "resolved"))
    return found


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_paired_success_difference_and_mdd_by_hand(pilot: Path, tmp_path: Path) -> None:
    out = roibench(
        "compare", "--paired", f"{pilot}#{FRONTIER}", f"{pilot}#{BUDGET}", "--format", "csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {r["metric"]: r for r in csv_rows(out.stdout)}
    a, b = by_task(pilot, FRONTIER), by_task(pilot, BUDGET)
    tasks = sorted(a)
    rate = lambda x: sum(map(sum, x.values())) / sum(map(len, x.values()))  # noqa: E731
    s = rows["success_rate"]
    assert float(s["delta"]) == pytest.approx(rate(b) - rate(a))
    assert float(s["ci_low"]) <= float(s["delta"]) <= float(s["ci_high"])
    assert 0 < float(s["p_value"]) <= 1 and s["p_holm"] == s["p_value"]  # one pair
    # MDD: (t + t) · sqrt((ω_d² + σ_A²/k + σ_B²/k) / N) from the per-task data
    from scipy import stats

    k, n = 3, len(tasks)
    d = [np.mean(b[t]) - np.mean(a[t]) for t in tasks]

    def within(x: dict[str, list[int]]) -> float:  # ANOVA mean square within
        return sum(float(y - np.mean(v)) ** 2 for v in x.values() for y in v) / (n * k - n)

    wa, wb = within(a), within(b)
    omega = max(0.0, float(np.var(d, ddof=1)) - wa / k - wb / k)
    mult = stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)
    assert float(s["mdd"]) == pytest.approx(mult * math.sqrt((omega + (wa + wb) / k) / n))
    assert rows["pass_hat_k"]["k"] == "3"
    figures = ("cost_per_task_usd", "cost_per_outcome_usd", "roi_token_pricing",
               "roi_outcome_pricing", "harm_per_trial_usd", "escalation_rate")  # fmt: skip
    assert set(rows) >= set(figures)


def test_a_cell_against_a_whole_run_is_holm_corrected(pilot: Path, tmp_path: Path) -> None:
    out = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", str(pilot), "-f", "csv",
                   cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [r for r in csv_rows(out.stdout) if r["metric"] == "success_rate"]
    assert [r["b"] for r in rows] == [BALANCED, BUDGET]
    ps = [float(r["p_value"]) for r in rows]
    # Holm for two: the smaller p doubled, the larger kept (and never below the first)
    low, high = sorted(ps)
    expected = {low: min(1, 2 * low), high: max(min(1, 2 * low), high)}
    assert [float(r["p_holm"]) for r in rows] == pytest.approx([expected[p] for p in ps])
    table = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", str(pilot), cwd=tmp_path)
    assert "minimum detectable success difference" in table.stdout
    assert "Paired comparison" in table.stdout and BUDGET in table.stdout
    md = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", str(pilot), "-f", "markdown",
                  cwd=tmp_path)  # fmt: skip
    assert md.stdout.startswith("| pair | metric |")


def test_cells_on_different_tasks_are_refused_unless_forced(pilot: Path, tmp_path: Path) -> None:
    # a second journal: the same run without one task of the budget cell
    dropped = sorted(by_task(pilot, BUDGET))[0]
    other = tmp_path / "other.jsonl"
    lines = pilot.read_text().splitlines(keepends=True)
    other.write_text("".join(
        line for line in lines
        if not (f'"cell":"{BUDGET}"' in line and f'"task_id":"{dropped}"' in line)
    ))  # fmt: skip
    refused = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", f"{other}#{BUDGET}",
                       cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert "task ids differ (30 vs 29 tasks)" in refused.stderr and "--force" in refused.stderr
    forced = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", f"{other}#{BUDGET}",
                      "--force", "-f", "csv", cwd=tmp_path)  # fmt: skip
    assert forced.returncode == 0, forced.stderr[-2000:]
    rows = csv_rows(forced.stdout)
    assert all(r["forced"] == "True" and "task ids differ" in r["differences"] for r in rows)
    assert rows[0]["tasks"] == "29"  # the common tasks


def test_cells_of_another_dataset_are_refused(pilot: Path, tmp_path: Path) -> None:
    """The same tasks, but the RunSpec records another dataset digest for the budget cell."""
    header, *rest = pilot.read_text().splitlines(keepends=True)
    spec = json.loads(header)
    for cell in spec["spec"]["cells"]:
        if cell["label"] == BUDGET:
            cell["workflow"]["dataset_sha256"] = "f" * 64
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(spec) + "\n" + "".join(rest))
    refused = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", f"{other}#{BUDGET}",
                       cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "dataset digest" in refused.stderr, refused.stderr
    same = roibench("compare", "--paired", f"{pilot}#{FRONTIER}", f"{pilot}#{BUDGET}",
                    cwd=tmp_path)  # fmt: skip
    assert "not recorded in the journals" not in same.stdout  # RunSpec records every digest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--paired", "nowhere.jsonl", "also.jsonl"], "no journal"),
        (["--paired", "{j}#no/such/cell", "{j}"], "no cell 'no/such/cell'"),
        (["--paired", "{j}", "{j}"], "name a baseline cell"),
    ],
)
def test_bad_paired_references_exit_2(
    pilot: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = roibench("compare", *[a.format(j=pilot) for a in args], cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def plan_json(pilot: Path, cwd: Path, *args: str) -> dict:
    out = roibench("plan", str(pilot), *args, "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def simulated_power(target: dict, tasks: int, k: int, reps: int = 400, seed: int = 5) -> float:
    """Share of `reps` simulated runs of the design where the paired test (roibench's own,
    sign flips) finds p < 0.05. Trials drawn from the pilot's components: task-level
    differences N(δ, ω_d²), a trial N(task mean, σ²) within each cell."""
    rng = np.random.default_rng(seed)
    params = EconParams(1.0, 1.0, 0.0, 1.0, 0.0, "per_resolution", False, True)
    names = column_names([1])
    ids = tuple(f"t{i}" for i in range(tasks))
    n = np.full(tasks, float(k))

    def matrix(values: np.ndarray) -> TaskMatrix:
        cols = dict.fromkeys(names, np.zeros(tasks))
        cols["n"], cols["resolved"], cols["has1"] = n, values.sum(axis=1), np.ones(tasks)
        return TaskMatrix(ids, np.column_stack([cols[c] for c in names]), names, True)

    hits = 0
    for _ in range(reps):
        base = rng.normal(0, 1, tasks)[:, None]
        shift = rng.normal(target["delta"], math.sqrt(target["between"]), tasks)[:, None]
        a = base + rng.normal(0, math.sqrt(target["within_a"]), (tasks, k))
        b = base + shift + rng.normal(0, math.sqrt(target["within_b"]), (tasks, k))
        fig = paired_figures(matrix(a), matrix(b), params, params, ["success_rate"], seed=1,
                             resamples=100, permutations=999)[0]["success_rate"]  # fmt: skip
        hits += fig.p_value is not None and fig.p_value < 0.05
    return hits / reps


def test_plan_design_reaches_80_percent_power(pilot: Path, tmp_path: Path) -> None:
    plan = plan_json(pilot, tmp_path, "--detect", "0.25")
    chosen = plan["chosen"]
    assert chosen is not None, plan["notes"]
    assert chosen["tasks"] <= plan["tasks_available"] == 60  # the refunds dataset
    assert chosen["mdd"] <= 0.25
    assert chosen["trials"] == chosen["tasks"] * chosen["trials_per_task"] * 3
    assert chosen["spend_usd"] > 0 and chosen["wall_s"] > 0
    # the pair that is hardest to tell apart decides the design
    worst = max(plan["targets"], key=lambda t: (t["between"] * chosen["trials_per_task"]
                + t["within_a"] + t["within_b"]))  # fmt: skip
    power = simulated_power(worst, chosen["tasks"], chosen["trials_per_task"])
    assert power >= 0.80, power


def test_plan_says_when_the_dataset_is_too_small(pilot: Path, tmp_path: Path) -> None:
    plan = plan_json(pilot, tmp_path, "--detect", "0.03")
    assert plan["chosen"] is None and plan["candidates"] == []
    assert plan["tasks_needed"] > 60
    assert any("too few to detect" in n for n in plan["notes"])
    text = roibench("plan", str(pilot), "--detect", "0.03", cwd=tmp_path).stdout
    assert f"it needs {plan['tasks_needed']} tasks" in text


def test_plan_within_a_budget(pilot: Path, tmp_path: Path) -> None:
    cheapest = plan_json(pilot, tmp_path, "--detect", "0.25")["chosen"]
    budget = cheapest["spend_usd"] / 2
    plan = plan_json(pilot, tmp_path, "--detect", "0.25", "--max-spend", str(budget))
    assert plan["chosen"] is None
    assert any("fits --max-spend" in n for n in plan["notes"])
    best = plan["best_within_budget"]
    assert best is not None and best["spend_usd"] <= budget and best["mdd"] > 0.25
    cpo = plan_json(pilot, tmp_path, "--detect", "0.5", "--metric", "cost_per_outcome_usd")
    assert cpo["metric"] == "cost_per_outcome_usd" and cpo["targets"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["missing.jsonl", "--detect", "0.1"], "journal not found"),
     (["{j}", "--detect", "0.1", "--metric", "latency"], "unknown metric 'latency'")],
)  # fmt: skip
def test_plan_bad_input_exits_2(pilot: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = roibench("plan", *[a.format(j=pilot) for a in args], cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_holm_helper_is_monotone() -> None:
    assert holm([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.04, 0.5])


def test_agents_compared_on_the_simulator_get_a_note(tmp_path: Path) -> None:
    base = REPO / "evals" / "shared" / "sim_models.toml"
    suite = f'extends = "{base}"\nname = "two-agents"\nworkflows = ["refunds"]\n'
    suite += 'agents = ["react", "self_check"]\n'

    (tmp_path / "two_agents.toml").write_text(suite)
    out = roibench("run", str(tmp_path / "two_agents.toml"), "--no-mlflow", "--limit", "4",
                   "--trials", "2", "--out", str(tmp_path / "runs"), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (journal,) = (tmp_path / "runs").rglob("journal.jsonl")
    agents = roibench("compare", "--paired", f"{journal}#refunds/react/sim/frontier",
                      f"{journal}#refunds/self_check/sim/frontier", cwd=tmp_path)  # fmt: skip
    assert agents.returncode == 0 and "differ only in agent" in agents.stderr
    models = roibench("compare", "--paired", f"{journal}#refunds/react/sim/frontier",
                      f"{journal}#refunds/react/sim/budget", cwd=tmp_path)  # fmt: skip
    assert models.returncode == 0 and "differ only in agent" not in models.stderr
