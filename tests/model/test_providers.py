"""Provider presets against shared/reference/providers.md, and `roibench providers`."""

from __future__ import annotations

import os
import subprocess
import sys

from roibench.model.providers import PRESETS

ISSUE_PRESETS = {
    "openai",
    "deepseek",
    "qwen",
    "qwen-cn",
    "zhipu",
    "zai",
    "moonshot",
    "moonshot-cn",
    "minimax",
    "minimax-cn",
    "stepfun",
    "doubao",
    "siliconflow",
    "openrouter",
    "local",
}


def test_every_preset_the_issue_names_exists() -> None:
    assert set(PRESETS) >= ISSUE_PRESETS


def test_endpoints_and_key_variables() -> None:
    expected = {
        "deepseek": ("https://api.deepseek.com", "DEEPSEEK_API_KEY"),
        "qwen": ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
        "qwen-cn": ("https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
        "zhipu": ("https://open.bigmodel.cn/api/paas/v4", "ZHIPU_API_KEY"),
        "zai": ("https://api.z.ai/api/paas/v4", "ZAI_API_KEY"),
        "moonshot": ("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
        "moonshot-cn": ("https://api.moonshot.cn/v1", "MOONSHOT_API_KEY"),
        "minimax": ("https://api.minimax.io/v1", "MINIMAX_API_KEY"),
        "minimax-cn": ("https://api.minimaxi.com/v1", "MINIMAX_API_KEY"),
        "stepfun": ("https://api.stepfun.com/v1", "STEPFUN_API_KEY"),
        "doubao": ("https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY"),
        "siliconflow": ("https://api.siliconflow.cn/v1", "SILICONFLOW_API_KEY"),
        "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    }
    for name, (url, env) in expected.items():
        assert (PRESETS[name].base_url, PRESETS[name].api_key_env) == (url, env), name


def test_quirks() -> None:
    # DeepSeek and Kimi thinking mode reject tool-call history without reasoning_content
    for name in ("deepseek", "moonshot", "moonshot-cn"):
        assert PRESETS[name].echo_reasoning, name
    # Zhipu and MiniMax accept only tool_choice auto/none
    for name in ("zhipu", "zai", "minimax", "minimax-cn"):
        assert "required" not in PRESETS[name].tool_choice_values, name
    assert PRESETS["stepfun"].reasoning_field == "reasoning"
    assert PRESETS["minimax"].max_tokens_param == "max_completion_tokens"
    assert PRESETS["minimax"].think_in_content
    assert PRESETS["zhipu"].max_tokens_param == "max_tokens"
    assert PRESETS["deepseek"].usage_dialect == "deepseek"
    assert PRESETS["moonshot"].usage_dialect == "moonshot"
    assert PRESETS["local"].key_optional


def test_key_status_never_returns_the_key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-planted-0123456789")
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)
    assert PRESETS["deepseek"].key_status() == "set"
    assert PRESETS["stepfun"].key_status() == "missing"
    assert PRESETS["sim"].key_status() == "not needed"


def test_providers_command_lists_all_and_prints_no_key() -> None:
    planted = "sk-planted-secret-9f8e7d6c5b4a"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({"DEEPSEEK_API_KEY": planted, "MOONSHOT_API_KEY": planted, "COLUMNS": "250"})
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "providers"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    text = out.stdout + out.stderr
    assert planted not in text
    assert "planted" not in text
    for name in PRESETS:
        assert f"│ {name} " in text, name
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 3}
    assert "│ set " in rows["deepseek"]
    assert "│ set " in rows["moonshot-cn"]
    assert "│ missing " in rows["stepfun"]
