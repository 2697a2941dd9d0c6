"""Ctrl-C stops a run cleanly and says how to resume it; a resume keeps the run's faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from roibench.core.faults import FaultSpec
from roibench.run.plan import read_run_spec

REPO = Path(__file__).resolve().parents[2]
PRICE = "[models.price]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n"


def suite_text(trials: int, limit: int, concurrency: int) -> str:
    names = ("sim/balanced", "sim/budget")
    models = "".join(f'[[models]]\nname = "{m}"\nprovider = "sim"\n{PRICE}' for m in names)
    return (
        f'name = "intr"\nseed = 2\ntrials = {trials}\nconcurrency = {concurrency}\n'
        f'agents = ["react"]\n[[workflows]]\nname = "refunds"\nlimit = {limit}\n'
        f"[outcome_pricing]\nprice_usd = 0.99\n{models}"
    )


def env(cwd: Path) -> dict[str, str]:
    return dict(os.environ, COLUMNS="250", MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'm.db'}")


def roibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=env(cwd), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def lines(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def trials(journal: Path) -> list[dict[str, Any]]:
    return [o["trial"] for o in lines(journal) if o["kind"] == "trial"]


def test_sigint_finishes_the_journal_and_prints_the_resume_command(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(suite_text(trials=3, limit=30, concurrency=2))
    total = 2 * 30 * 3
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "run", "s.toml", "--out", "runs", "--no-mlflow"],
        cwd=tmp_path, env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    journal: Path | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs").rglob("journal.jsonl"))
        if found and found[0].read_text().count('"kind":"trial"') >= 5:
            journal = found[0]
            break
        time.sleep(0.05)
    assert journal is not None, "the run never got going"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "Traceback" not in stdout
    resume = f"roibench run s.toml --resume {journal.relative_to(tmp_path)}"
    assert resume in " ".join(stderr.split())
    assert journal.read_text().endswith("\n")  # every line whole: nothing torn
    before = trials(journal)  # every line parses
    assert 5 <= len(before) < total
    resumed = roibench("run", "s.toml", "--resume", str(journal), "--no-mlflow", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = trials(journal)
    keys = [(t["cell"], t["task_id"], t["trial"]) for t in after]
    assert len(keys) == total and len(set(keys)) == total


def test_resume_keeps_the_faults_of_the_run_it_continues(tmp_path: Path) -> None:
    """The journal records `--faults`; a resume without the flag runs the rest under the same
    faults, so it gives what the uninterrupted run gave."""
    (tmp_path / "s.toml").write_text(suite_text(trials=1, limit=6, concurrency=4))
    faults = "500=0.4"
    full = roibench("run", "s.toml", "--out", "full", "--no-mlflow", "--faults", faults,
                    cwd=tmp_path)  # fmt: skip
    assert full.returncode == 0, full.stderr[-3000:]
    (journal,) = (tmp_path / "full").rglob("journal.jsonl")
    assert read_run_spec(journal).options.faults == FaultSpec(server_error=0.4)
    reference = {(t["cell"], t["task_id"], t["trial"]): t for t in trials(journal)}
    assert any(c["error"] == "api_error" for t in reference.values() for c in t["calls"])
    # as if it had crashed after four trials: the header and the first four trial lines
    cut = tmp_path / "cut" / "journal.jsonl"
    cut.parent.mkdir()
    kept = [journal.read_text().splitlines()[0]]
    kept += [line for line in journal.read_text().splitlines() if '"kind":"trial"' in line][:4]
    cut.write_text("\n".join(kept) + "\n")
    resumed = roibench("run", "s.toml", "--resume", str(cut), "--no-mlflow", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    got = {(t["cell"], t["task_id"], t["trial"]): t for t in trials(cut)}
    assert got.keys() == reference.keys()
    for key, t in got.items():  # the same faults hit the same calls
        ref = reference[key]
        assert [c["error"] for c in t["calls"]] == [c["error"] for c in ref["calls"]], key
        assert t["outcome"] == ref["outcome"], key
