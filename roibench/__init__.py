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
    "Task": "roibench.tasks",
    "Action": "roibench.tasks",
    "Outcome": "roibench.outcomes",
    "OutcomeStatus": "roibench.outcomes",
    "Usage": "roibench.usage",
    "Provider": "roibench.providers",
    "ModelSpec": "roibench.suite",
    "SuiteConfig": "roibench.suite",
    "PriceCard": "roibench.pricing",
    "FxTable": "roibench.pricing",
    "ValueModel": "roibench.economics",
    "OutcomePricing": "roibench.economics",
    "CallRecord": "roibench.records",
    "TrialRecord": "roibench.records",
    "AgentRun": "roibench.agent",
    "agent_run": "roibench.agent",
    "InputError": "roibench.errors",
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
    "agent_run",
    "missing_facts",
    "tool",
]

if TYPE_CHECKING:
    from roibench.agent import AgentRun, agent_run
    from roibench.economics import OutcomePricing, ValueModel
    from roibench.errors import InputError
    from roibench.outcomes import Outcome, OutcomeStatus
    from roibench.pricing import FxTable, PriceCard
    from roibench.providers import Provider
    from roibench.records import CallRecord, TrialRecord
    from roibench.suite import ModelSpec, SuiteConfig
    from roibench.tasks import Action, Task
    from roibench.usage import Usage
    from roibench.workflow import Env, ToolError, Transcript, Workflow, missing_facts, tool


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'roibench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
