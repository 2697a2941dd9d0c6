"""roibench: measure what AI agents are worth on real business work.

The public API is small and imported lazily, so `roibench --help` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Offline by default: MLflow 3 starts a telemetry client on import that fetches a config and
# posts usage events over the internet. Set before any roibench module imports mlflow; a user
# who wants telemetry sets MLFLOW_DISABLE_TELEMETRY=false.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__version__ = "0.1.0"

_EXPORTS = {
    "Workflow": "roibench.workflow",
    "Env": "roibench.workflow",
    "tool": "roibench.workflow",
    "ToolError": "roibench.workflow",
    "Transcript": "roibench.workflow",
    "missing_facts": "roibench.workflow",
    "Task": "roibench.config.tasks",
    "Action": "roibench.config.tasks",
    "Outcome": "roibench.core.outcomes",
    "OutcomeStatus": "roibench.core.outcomes",
    "Usage": "roibench.core.usage",
    "Provider": "roibench.model.providers",
    "ModelSpec": "roibench.config.suite",
    "SuiteConfig": "roibench.config.suite",
    "PriceCard": "roibench.pricing.cards",
    "FxTable": "roibench.pricing.cards",
    "ValueModel": "roibench.config.value",
    "OutcomePricing": "roibench.config.value",
    "CallRecord": "roibench.core.records",
    "TrialRecord": "roibench.core.records",
    "AgentRun": "roibench.agent",
    "agent_run": "roibench.agent",
    "action_review_request": "roibench.agent",
    "parse_verdict": "roibench.agent",
    "plan_request": "roibench.agent",
    "parse_plan": "roibench.agent",
    "InputError": "roibench.core.errors",
}

__all__ = [
    "Action",
    "AgentRun",
    "CallRecord",
    "Env",
    "FxTable",
    "InputError",
    "ModelSpec",
    "Outcome",
    "OutcomePricing",
    "OutcomeStatus",
    "PriceCard",
    "Provider",
    "SuiteConfig",
    "Task",
    "ToolError",
    "Transcript",
    "TrialRecord",
    "Usage",
    "ValueModel",
    "Workflow",
    "__version__",
    "action_review_request",
    "agent_run",
    "missing_facts",
    "parse_plan",
    "parse_verdict",
    "plan_request",
    "tool",
]

if TYPE_CHECKING:
    from roibench.agent import (
        AgentRun,
        action_review_request,
        agent_run,
        parse_plan,
        parse_verdict,
        plan_request,
    )
    from roibench.config.suite import ModelSpec, SuiteConfig
    from roibench.config.tasks import Action, Task
    from roibench.config.value import OutcomePricing, ValueModel
    from roibench.core.errors import InputError
    from roibench.core.outcomes import Outcome, OutcomeStatus
    from roibench.core.records import CallRecord, TrialRecord
    from roibench.core.usage import Usage
    from roibench.model.providers import Provider
    from roibench.pricing.cards import FxTable, PriceCard
    from roibench.workflow import Env, ToolError, Transcript, Workflow, missing_facts, tool


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'roibench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
