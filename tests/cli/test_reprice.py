"""`roibench reprice`: the original cards reproduce the run exactly; doubled prices double spend
and cost per outcome exactly; another date re-applies the time windows. The journal comes from
a real run of evals/pricing_mix.toml on the real simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.cli.reprice import reprice_journal
from roibench.core.errors import InputError

REPO = Path(__file__).resolve().parents[2]
M = Decimal(1_000_000)
DEEPSEEK = "refunds/react/sim/balanced"
CNY = "refunds/react/sim/budget"

DOUBLED = """\
# every price of the two cards pricing_mix uses, doubled by hand
cards:
  - id: deepseek/deepseek-flash
    model: deepseek-flash
    currency: USD
    input_per_mtok: 0.30
    cache_read_per_mtok: 0.006
    output_per_mtok: 1.20
    windows:
      - name: peak
        days: [mon, tue, wed, thu, fri]
        utc: ["01:00-04:00", "06:00-10:00"]
        input_per_mtok: 0.60
        cache_read_per_mtok: 0.012
        output_per_mtok: 2.40
  - id: zhipu/glm-5.3
    model: glm-5.3
    currency: CNY
    input_per_mtok: 16
    cache_read_per_mtok: 4
    output_per_mtok: 56
    max_input_tokens: 32000
"""


def run_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "roibench",
            "run",
            str(REPO / "evals" / "pricing_mix.toml"),
            "--no-mlflow",
            "--limit",
            "3",
            "--trials",
            "2",
            "--out",
            str(out),
        ],
        cwd=out,
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    found = sorted(out.glob("pricing_mix/*/journal.jsonl"))
    assert len(found) == 1
    return found[0]


def test_original_cards_reproduce_every_number_exactly(journal: Path) -> None:
    result = reprice_journal(journal)
    assert {c.label for c in result.cells} == {DEEPSEEK, CNY}
    for cell in result.cells:
        assert cell.mismatched_calls == 0
        assert cell.repriced.metrics == cell.original.metrics
        assert cell.repriced.economics.spend_usd == cell.original.economics.spend_usd
        assert cell.original.economics.priced
        assert cell.original.metrics["spend_usd"] > 0


def test_doubled_prices_double_spend_and_cost_per_outcome(journal: Path, tmp_path: Path) -> None:
    cards = tmp_path / "doubled.yaml"
    cards.write_text(DOUBLED, encoding="utf-8")
    result = reprice_journal(journal, prices=cards)
    for cell in result.cells:
        before, after = cell.original.economics, cell.repriced.economics
        assert before.spend_usd is not None and after.spend_usd is not None
        # per-call costs are exact decimals (USD, or CNY x a 12-digit FX multiplier): exact
        assert after.spend_usd == 2 * before.spend_usd
        # CPO = spend / S is one 28-digit division of the doubled spend
        assert after.cost_per_outcome_usd == (2 * before.spend_usd) / before.counts.resolved
        assert cell.repriced.metrics["spend_usd"] == 2 * cell.original.metrics["spend_usd"]
        assert (
            cell.repriced.metrics["cost_per_outcome_usd"]
            == 2 * cell.original.metrics["cost_per_outcome_usd"]
        )
        # nothing but money moved
        assert cell.repriced.metrics["success_rate"] == cell.original.metrics["success_rate"]
        assert cell.new_price != cell.original_price


def _calls(journal: Path, cell: str) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj.get("kind") == "trial" and obj["trial"]["cell"] == cell:
            calls.extend(obj["trial"]["calls"])
    return calls


def test_at_another_date_reapplies_the_windows(journal: Path) -> None:
    result = reprice_journal(journal, at="2026-11-24")  # a Tuesday
    cell = next(c for c in result.cells if c.label == DEEPSEEK)
    expected = Decimal(0)
    for call in _calls(journal, DEEPSEEK):
        started = datetime.fromisoformat(str(call["started_at"])).astimezone(UTC)
        usage = call["usage"]
        assert isinstance(usage, dict)
        if call["error"] is not None:
            continue
        hour = started.hour
        peak = 1 <= hour < 4 or 6 <= hour < 10  # Tuesday: a weekday
        rin, rhit, rout = (
            (Decimal("0.30"), Decimal("0.006"), Decimal("1.20"))
            if peak
            else (Decimal("0.15"), Decimal("0.003"), Decimal("0.60"))
        )
        miss = usage["input_tokens"] - usage["cache_read_tokens"] - usage["cache_write_tokens"]
        expected += (
            miss * rin + usage["cache_read_tokens"] * rhit + usage["output_tokens"] * rout
        ) / M
    assert cell.repriced.economics.spend_usd == expected


def test_at_an_instant_before_the_card_makes_the_cell_unpriced(journal: Path) -> None:
    result = reprice_journal(journal, at="2026-01-05T02:00:00")
    cell = next(c for c in result.cells if c.label == DEEPSEEK)
    assert cell.repriced.economics.spend_usd is None  # the card starts 2026-09-10
    assert "spend_usd" not in cell.repriced.metrics


def test_cli_prints_the_comparison(journal: Path, tmp_path: Path) -> None:
    cards = tmp_path / "doubled.yaml"
    cards.write_text(DOUBLED, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "reprice", str(journal), "--prices", str(cards)],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "spend_usd" in out.stdout and "cost_per_outcome_usd" in out.stdout
    spend_rows = [line for line in out.stdout.splitlines() if "spend_usd" in line]
    assert len(spend_rows) == 2
    assert all(row.rstrip(" │").endswith("2") for row in spend_rows)
    assert "FX: 1 USD = 7.25 CNY (2026-06-01)" in out.stdout


def test_cli_bad_card_file_exits_2_naming_line(journal: Path, tmp_path: Path) -> None:
    cards = tmp_path / "bad.yaml"
    cards.write_text("cards:\n  - model: x\n    input_per_mtok: cheap\n    output_per_mtok: 1\n")
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "reprice", str(journal), "--prices", str(cards)],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert f"{cards}:3" in out.stderr.replace("\n", "")
    assert "cards.0.input_per_mtok" in out.stderr.replace("\n", "")


def test_journal_without_a_run_header(tmp_path: Path) -> None:
    old = tmp_path / "journal.jsonl"
    old.write_text('{"kind":"header","suite":"x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no RunSpec and no recorded suite text"):
        reprice_journal(old)


def test_lost_calls_are_repriced_with_the_calls() -> None:
    from roibench.cli.reprice import reprice_trial
    from roibench.core.outcomes import Outcome
    from roibench.core.records import CallRecord, CallRole, TrialRecord
    from roibench.core.usage import Usage
    from roibench.pricing.cards import DEFAULT_FX, CardPricer, PriceCard

    at = datetime(2026, 11, 2, 12, tzinfo=UTC)

    def call(tokens: int, role: CallRole = CallRole.AGENT) -> CallRecord:
        return CallRecord(role=role, started_at=at, latency_s=0.1, cost_usd=Decimal("9"),
                          usage=Usage(input_tokens=tokens, requests=1))  # fmt: skip

    card = PriceCard(id="t/card", model="m", currency="USD", input_per_mtok=Decimal("2"),
                     output_per_mtok=Decimal("0"))  # fmt: skip
    user = PriceCard(id="t/user", model="u", currency="USD", input_per_mtok=Decimal("10"),
                     output_per_mtok=Decimal("0"))  # fmt: skip
    agent_pricer = CardPricer([card], DEFAULT_FX, "test")
    user_pricer = CardPricer([user], DEFAULT_FX, "test")
    trial = TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id="t", tier="easy", trial=0,
        seed=1, outcome=Outcome.resolved(), calls=(call(500_000), call(100_000, CallRole.USER_SIM)),
        usage=Usage(), cost_usd=Decimal("18"), steps=1, started_at=at, duration_s=1.0,
        lost_calls=(call(250_000),),
    )  # fmt: skip
    again = reprice_trial(trial, lambda role: user_pricer if role == "user_sim" else agent_pricer)
    # by hand: 0.5 Mtok x $2 = $1 (agent), 0.1 Mtok x $10 = $1 (user simulator's own card),
    # the lost attempt 0.25 Mtok x $2 = $0.50
    assert [c.cost_usd for c in again.calls] == [Decimal("1"), Decimal("1")]
    assert again.cost_usd == Decimal("2")
    assert [c.cost_usd for c in again.lost_calls] == [Decimal("0.5")]
