"""Fault injection for the simulator: seeded, per request, each fault at its own rate.

A suite sets faults per model (`[models.faults]`), `roibench run --faults` overrides them for
every simulated model, and `roibench sim --faults` sets the server's default. The client sends
the spec and the attempt number in headers, so a retried request gets a fresh, deterministic
draw: the same seed and fault spec give the same run, retries included.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FAULTS_HEADER = "x-roibench-faults"
ATTEMPT_HEADER = "x-roibench-attempt"
TIMEOUT_HEADER = "x-roibench-timeout"
"""The client's per-request timeout in seconds: a `timeout` fault answers later than that."""
TIMEOUT_MARGIN_S = 1.0
"""How much later than the client's timeout a `timeout` fault answers."""
FALLBACK_CLIENT_TIMEOUT_S = 60.0
"""The timeout assumed for a client that does not send TIMEOUT_HEADER (roibench's default)."""

_ALIASES = {
    "429": "rate_limit",
    "500": "server_error",
    "502": "bad_gateway",
    "503": "unavailable",
    "reset": "connection_reset",
    "timeout": "slow",
    "malformed": "malformed_tool_args",
    "truncate": "truncated",
    "usage_missing": "usage_missing",
    "usage_bad": "usage_wrong_type",
}


class FaultSpec(BaseModel):
    """Rates (0..1) of each fault, per request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit: float = Field(default=0.0, ge=0, le=1, description="HTTP 429 with Retry-After.")
    server_error: float = Field(default=0.0, ge=0, le=1, description="HTTP 500.")
    bad_gateway: float = Field(default=0.0, ge=0, le=1, description="HTTP 502.")
    unavailable: float = Field(default=0.0, ge=0, le=1, description="HTTP 503.")
    connection_reset: float = Field(
        default=0.0, ge=0, le=1, description="Socket closed, no response."
    )
    slow: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="A timeout: the response comes later than the client waits (see slow_s).",
    )
    malformed_tool_args: float = Field(
        default=0.0, ge=0, le=1, description="Tool-call JSON cut short."
    )
    truncated: float = Field(
        default=0.0, ge=0, le=1, description="finish_reason=length, output cut."
    )
    usage_missing: float = Field(default=0.0, ge=0, le=1, description="No usage block.")
    usage_wrong_type: float = Field(
        default=0.0, ge=0, le=1, description="Usage counts as junk strings."
    )
    retry_after_s: float = Field(default=0.2, ge=0, description="Retry-After sent with a 429.")
    slow_s: float | None = Field(
        default=None,
        ge=0,
        description="Delay of a slow response; default: the client's timeout (which roibench "
        "sends in a header; else 60 s) plus 1 s, so it always is a timeout.",
    )

    def slow_delay_s(self, client_timeout_s: float | None) -> float:
        """How late a `slow` (timeout) response is, for a client waiting `client_timeout_s`."""
        if self.slow_s is not None:
            return self.slow_s
        return (client_timeout_s or FALLBACK_CLIENT_TIMEOUT_S) + TIMEOUT_MARGIN_S

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """From 'NAME=RATE,...' (names as fields or the short forms 429, 500, 502, 503, reset,
        timeout, malformed, truncate, usage_missing, usage_bad)."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise ValueError(f"fault {part!r} needs a rate, e.g. 429=0.1")
            name, rate = (s.strip() for s in part.split("=", 1))
            field = _ALIASES.get(name, name)
            if field not in cls.model_fields:
                known = ", ".join(sorted(set(_ALIASES) | set(cls.model_fields)))
                raise ValueError(f"unknown fault {name!r}; known: {known}")
            values[field] = float(rate)
        return cls.model_validate(values)

    def header(self) -> str:
        """The spec as sent in the faults header (non-zero fields only)."""
        return ",".join(f"{k}={v}" for k, v in self.model_dump().items() if v is not None and v)

    @property
    def any(self) -> bool:
        """True when some fault has a non-zero rate."""
        return any(v for k, v in self.model_dump().items() if k not in ("retry_after_s", "slow_s"))
