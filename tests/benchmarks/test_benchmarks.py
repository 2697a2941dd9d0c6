"""Each benchmark runs briefly, so the scripts keep working. No timing is asserted here: the
benchmarks print measured ratios; these machines are too noisy for timed assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip


def test_throughput_quick() -> None:
    out = run("throughput.py", "--quick")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["latency", "conc", "bare/s"]
    )
    values = lines[header + 1].split()
    bare, full, traced = float(values[2]), float(values[3]), float(values[4])
    assert bare > 0 and full > 0 and traced > 0
    # b/a is the ratio of the two columns (printed rounded, so compared loosely)
    assert abs(float(values[5]) - full / bare) < 0.02 + 0.1 / bare
    assert "targets at concurrency 32" in out.stdout


def test_scale_small() -> None:
    out = run("scale.py", "--trials-total", "120", "--concurrency", "16")
    assert out.returncode in (0, 1), out.stderr[-2000:]  # 1 = a target missed, still a result
    assert "trials: 120 " in out.stdout
    assert "peak" in out.stdout and "MLflow logging" in out.stdout
    assert "growth from 25% to 100% of trials" in out.stdout


def test_profile_pipeline_small() -> None:
    out = run("profile_pipeline.py", "--trials", "1", "--concurrency", "8", "--top", "5")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "60 trials at concurrency 8" in out.stdout
    shares = [
        float(line.rsplit(None, 1)[1].rstrip("%"))
        for line in out.stdout.split("own CPU time by package:")[1].split("top 5")[0].splitlines()
        if line.strip()
    ]
    assert shares and all(0 < s <= 100 for s in shares)
    assert "roibench" in out.stdout.split("top 5")[0]  # our own code shows in the breakdown


def test_stats_small() -> None:
    out = run("stats.py", "--tasks", "200", "400", "--repeat", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [
        line.split() for line in out.stdout.splitlines() if line.split()[:1] in (["200"], ["400"])
    ]
    assert [r[0] for r in rows] == ["200", "400"] and all(float(x) > 0 for r in rows for x in r[1:])
    assert "load average while measured" in out.stdout


def test_minimal_quick() -> None:
    """The minimal-task benchmark runs every kind as a whole process, and the simulator's
    counter shows they made the same requests: 20 tasks, two requests each, in every kind."""
    out = run("minimal.py", "--quick")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["latency", "bare/s"])
    row = lines[header + 1].split()
    assert row[0] == "0.00" and all(float(v) > 0 for v in row[1:4])
    assert row[-3:] == ["40", "40", "40"]  # bare / roibench / no-trace, counted by the sim
    assert "MISMATCH" not in out.stdout and "different requests" not in out.stdout
    assert "1-task run, whole process" in out.stdout
    assert "the floor of any LangGraph harness (bare + `import langgraph.graph`)" in out.stdout
    cpu = next(i for i, line in enumerate(lines) if line.startswith("CPU, user + system"))
    assert [lines[cpu + k].split()[0] for k in (2, 3, 4)] == ["bare", "roibench", "no-trace"]
    assert "ms per trace (20 traces" in out.stdout and "targets:" in out.stdout
