"""`roibench run` ends without the interpreter's teardown, yet as `sys.exit` would: exit
handlers run, output flushed, the exit code kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from roibench.journal.store import iter_trials
from roibench.run.plan import read_run_spec

ROOT = Path(__file__).resolve().parents[2]

DRIVER = """
import atexit, sys
from pathlib import Path

def at_exit() -> None:
    Path("exit-handler-ran").write_text("yes")

atexit.register(at_exit)
from roibench.cli.app import main
sys.argv = ["roibench", "run", sys.argv[1], "--no-mlflow", "--out", "runs", "--limit", "2",
            "--trials", "1"] + sys.argv[2:]
main()
print("never printed: main() ends the process")
"""


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "driver.py").write_text(DRIVER)
    return subprocess.run(
        [sys.executable, "driver.py", str(ROOT / "evals" / "quickstart.toml"), *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_finished_run_exits_0_with_handlers_run_and_output_flushed(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "exit-handler-ran").read_text() == "yes"
    assert "never printed" not in out.stdout
    # the last lines reached the pipe: the journal line on stdout, the phases on stderr
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    assert f"journal: {journal.relative_to(tmp_path)}" in " ".join(out.stdout.split())
    assert "time: prepare" in out.stderr
    spec = read_run_spec(journal)
    assert spec.total_trials == 2 * len(spec.cells)  # --limit 2, one trial each
    assert len(list(iter_trials(journal))) == spec.total_trials  # every line on disk


def test_bad_input_still_exits_2(tmp_path: Path) -> None:
    out = _run(tmp_path, "--trials", "0")
    assert out.returncode == 2
    assert (tmp_path / "exit-handler-ran").read_text() == "yes"
    assert not (tmp_path / "runs").exists()
