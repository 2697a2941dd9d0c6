"""Providers are data: an OpenAI-compatible endpoint, its key variable, usage dialect and quirks.

Facts (URLs, key variables, quirks) are from ../shared/reference/providers.md §1–3, which cites
each provider's documentation and recorded responses.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.secrets import register_key_env
from roibench.core.usage import UsageDialect


class TimeoutBilling(StrEnum):
    """What a request the client gave up on (a timeout) is assumed to cost. roibench records
    such an attempt at $0; this says how safe that is, per preset (README, Prices)."""

    NOT_BILLED = "not_billed"
    """Nothing to bill: a local server or the simulator."""
    ASSUMED_NOT_BILLED = "assumed_not_billed"
    """The provider documents no charge for abandoned requests (shared/reference/providers.md
    lists none); roibench assumes $0, while the provider may bill the tokens it generated
    before the client hung up — an underestimate of spend of at most the timed-out attempts."""


class Provider(BaseModel):
    """An OpenAI-compatible chat endpoint and how to talk to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Preset name used in suites, e.g. 'deepseek'.")
    base_url: str | None = Field(description="Chat Completions base URL; None = must be given.")
    api_key_env: str | None = Field(description="Environment variable holding the API key.")
    key_optional: bool = Field(default=False, description="Local servers accept any or no key.")
    usage_dialect: UsageDialect = Field(default="openai", description="Where cache tokens live.")
    reasoning_field: Literal["reasoning_content", "reasoning", "reasoning_details"] | None = Field(
        default=None, description="Message field that carries reasoning text, if any."
    )
    think_in_content: bool = Field(
        default=False, description="Reasoning arrives as <think> in content."
    )
    echo_reasoning: bool = Field(
        default=False,
        description="Assistant tool-call turns must carry their reasoning_content back in later "
        "requests (DeepSeek and Kimi thinking mode answer 400 otherwise).",
    )
    tool_choice_values: tuple[str, ...] = Field(
        default=("auto", "none", "required"), description="tool_choice values the endpoint accepts."
    )
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    genai_prices_id: str | None = Field(
        default=None, description="Provider id in genai-prices, for models it prices."
    )
    simulated: bool = Field(
        default=False, description="The built-in simulator; results are tagged."
    )
    sends_seed: bool = Field(
        default=False,
        description="Send each trial's seed as the OpenAI `seed` request parameter, and the "
        "attempt number in the x-roibench-attempt header: trials differ from one another and "
        "repeat exactly (the simulator, local servers); a model's `send_seed` overrides it.",
    )
    docs: str = Field(default="", description="Where these facts come from.")
    timeout_billing: TimeoutBilling = Field(
        default=TimeoutBilling.ASSUMED_NOT_BILLED,
        description="What a timed-out attempt is assumed to cost (set explicitly by every "
        "preset; the default reads journals recorded before the field existed).",
    )

    def api_key(self) -> str | None:
        """The key from the environment (never stored, never logged; its value is redacted
        from everything roibench writes, whatever its length)."""
        if self.api_key_env is None:
            return None
        register_key_env(self.api_key_env)
        return os.environ.get(self.api_key_env) or None

    def key_status(self) -> str:
        """'set', 'missing' or 'not needed' — never the key itself."""
        if self.simulated or self.api_key_env is None:
            return "not needed"
        if self.api_key():
            return "set"
        return "optional, not set" if self.key_optional else "missing"


_REF = "shared/reference/providers.md"

PRESETS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="sim",
            base_url=None,
            api_key_env=None,
            key_optional=True,
            usage_dialect="openai",
            simulated=True,
            sends_seed=True,
            timeout_billing=TimeoutBilling.NOT_BILLED,
            docs="roibench's built-in simulator on loopback",
        ),
        Provider(
            name="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            usage_dialect="openai",
            max_tokens_param="max_completion_tokens",
            genai_prices_id="openai",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="deepseek",
            base_url="https://api.deepseek.com",
            api_key_env="DEEPSEEK_API_KEY",
            usage_dialect="deepseek",
            reasoning_field="reasoning_content",
            echo_reasoning=True,
            genai_prices_id="deepseek",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="qwen",
            base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            api_key_env="DASHSCOPE_API_KEY",
            reasoning_field="reasoning_content",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (international / Singapore endpoint)",
        ),
        Provider(
            name="qwen-cn",
            base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
            api_key_env="DASHSCOPE_API_KEY",
            reasoning_field="reasoning_content",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (China endpoint)",
        ),
        Provider(
            name="zhipu",
            base_url="https://open.bigmodel.cn/api/paas/v4",
            api_key_env="ZHIPU_API_KEY",
            reasoning_field="reasoning_content",
            echo_reasoning=True,
            tool_choice_values=("auto", "none"),
            genai_prices_id="zhipuai",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="zai",
            base_url="https://api.z.ai/api/paas/v4",
            api_key_env="ZAI_API_KEY",
            reasoning_field="reasoning_content",
            echo_reasoning=True,
            tool_choice_values=("auto", "none"),
            genai_prices_id="zai",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="moonshot",
            base_url="https://api.moonshot.ai/v1",
            api_key_env="MOONSHOT_API_KEY",
            usage_dialect="moonshot",
            reasoning_field="reasoning_content",
            echo_reasoning=True,
            tool_choice_values=("auto", "none"),
            genai_prices_id="moonshotai",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (international endpoint; keys do not work across .ai and .cn)",
        ),
        Provider(
            name="moonshot-cn",
            base_url="https://api.moonshot.cn/v1",
            api_key_env="MOONSHOT_API_KEY",
            usage_dialect="moonshot",
            reasoning_field="reasoning_content",
            echo_reasoning=True,
            tool_choice_values=("auto", "none"),
            genai_prices_id="moonshotai",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (China endpoint)",
        ),
        Provider(
            name="minimax",
            base_url="https://api.minimax.io/v1",
            api_key_env="MINIMAX_API_KEY",
            usage_dialect="minimax",
            think_in_content=True,
            tool_choice_values=("auto", "none"),
            max_tokens_param="max_completion_tokens",
            genai_prices_id="minimax",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (international endpoint)",
        ),
        Provider(
            name="minimax-cn",
            base_url="https://api.minimaxi.com/v1",
            api_key_env="MINIMAX_API_KEY",
            usage_dialect="minimax",
            think_in_content=True,
            tool_choice_values=("auto", "none"),
            max_tokens_param="max_completion_tokens",
            genai_prices_id="minimax",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (China endpoint)",
        ),
        Provider(
            name="stepfun",
            base_url="https://api.stepfun.com/v1",
            api_key_env="STEPFUN_API_KEY",
            reasoning_field="reasoning",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="stepfun-intl",
            base_url="https://api.stepfun.ai/v1",
            api_key_env="STEPFUN_API_KEY",
            reasoning_field="reasoning",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (international endpoint)",
        ),
        Provider(
            name="doubao",
            base_url="https://ark.cn-beijing.volces.com/api/v3",
            api_key_env="ARK_API_KEY",
            reasoning_field="reasoning_content",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (Volcengine Ark; reasoning field assumed, not verified)",
        ),
        Provider(
            name="siliconflow",
            base_url="https://api.siliconflow.cn/v1",
            api_key_env="SILICONFLOW_API_KEY",
            reasoning_field="reasoning_content",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF,
        ),
        Provider(
            name="siliconflow-intl",
            base_url="https://api.siliconflow.com/v1",
            api_key_env="SILICONFLOW_API_KEY",
            reasoning_field="reasoning_content",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs=_REF + " (international endpoint)",
        ),
        Provider(
            name="openrouter",
            base_url="https://openrouter.ai/api/v1",
            api_key_env="OPENROUTER_API_KEY",
            reasoning_field="reasoning",
            genai_prices_id="openrouter",
            timeout_billing=TimeoutBilling.ASSUMED_NOT_BILLED,
            docs="openrouter.ai/docs (OpenAI-compatible)",
        ),
        Provider(
            name="llamacpp",
            base_url=None,
            api_key_env="LLAMACPP_API_KEY",
            key_optional=True,
            reasoning_field="reasoning_content",
            think_in_content=True,
            sends_seed=True,  # llama.cpp seeds its sampler per request
            docs="llama.cpp's server (xllamacpp, the `local` extra): without base_url roibench "
            "starts it on 127.0.0.1 for the run with the suite's GGUF; see docs/local-models.md",
        ),
        Provider(
            name="local",
            base_url="http://127.0.0.1:8000/v1",
            api_key_env="LOCAL_API_KEY",
            key_optional=True,
            reasoning_field="reasoning_content",
            sends_seed=True,  # vLLM, Ollama, llama.cpp and `roibench sim` all take `seed`
            timeout_billing=TimeoutBilling.NOT_BILLED,
            docs="vLLM, Ollama (http://127.0.0.1:11434/v1), llama.cpp: set base_url in the suite",
        ),
    )
}


register_key_env(*(p.api_key_env for p in PRESETS.values()))


def get_provider(name: str) -> Provider | None:
    """A preset by name, or None."""
    return PRESETS.get(name)
