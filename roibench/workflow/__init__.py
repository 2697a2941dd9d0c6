"""Workflows: a vertical's tools over per-task state, its policy, grader and value model.

A workflow author writes an `Env` subclass whose `@tool` methods operate on `self.state`, and a
`Workflow` subclass that names the env, the policy text, the value model and `grade`.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from roibench.config.tasks import Action, Dataset, Task, load_dataset
from roibench.config.value import ValueModel
from roibench.core.errors import HarnessError
from roibench.core.outcomes import Outcome

if TYPE_CHECKING:
    from roibench.core.records import TrialRecord
    from roibench.model.client import ChatModel

F = TypeVar("F", bound=Callable[..., Any])


class ToolError(Exception):
    """Raise inside a tool to return an error message to the agent (it may recover)."""


def tool(
    fn: Callable[..., Any] | None = None, *, write: bool = False, escalation: bool = False
) -> Any:
    """Mark an Env method as a tool the agent may call.

    The method's docstring becomes the tool description and its typed parameters the JSON
    schema. `write=True` marks a state-changing action (counted for per-action pricing,
    reviewed by `self_check`). `escalation=True` marks a hand-off to a human: the simulator's
    "needless escalation" deviation calls it (see README, "What the simulator does").
    """

    def mark(f: F) -> F:
        f._roibench_tool = {"write": write, "escalation": escalation}  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


@dataclass(frozen=True)
class ToolSpec:
    """A tool's name, schema and how to call it."""

    name: str
    description: str
    args_model: type[BaseModel]
    write: bool
    schema: dict[str, Any]
    escalation: bool = False
    """Hands the work to a human (`@tool(escalation=True)`)."""


@dataclass
class ToolCall:
    """One tool call the agent made and what it got back."""

    name: str
    args: dict[str, Any]
    result: str
    ok: bool
    started_at: float = 0.0
    """Epoch seconds when the call began (0 when unknown)."""
    latency_s: float = 0.0
    """Seconds the tool took."""


def _tool_specs(env_cls: type[Env]) -> dict[str, ToolSpec]:
    cached = env_cls.__dict__.get("_tool_specs_cache")
    if cached is not None:
        return cached
    specs: dict[str, ToolSpec] = {}
    for name, member in inspect.getmembers(env_cls, predicate=inspect.isfunction):
        marker = getattr(member, "_roibench_tool", None)
        if marker is None:
            continue
        hints = get_type_hints(member, include_extras=True)  # keep Annotated metadata
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(member).parameters.items():
            if pname == "self":
                continue
            annotation = hints.get(pname, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        args_model = create_model(  # type: ignore[call-overload]
            f"{name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        params = args_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        doc = inspect.cleandoc(member.__doc__ or name).split("\n\n")[0].replace("\n", " ")
        specs[name] = ToolSpec(
            name=name,
            description=doc,
            args_model=args_model,
            write=bool(marker["write"]),
            escalation=bool(marker.get("escalation", False)),
            schema={
                "type": "function",
                "function": {"name": name, "description": doc, "parameters": params},
            },
        )
    env_cls._tool_specs_cache = specs  # type: ignore[attr-defined]
    return specs


class Env:
    """Per-trial state and the tools over it. `self.state` starts as a deep copy of the task's
    `initial_state`; tools change it; the grader reads it."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.state: dict[str, Any] = copy.deepcopy(task.initial_state)
        self.calls: list[ToolCall] = []
        self.invalid_calls = 0
        self.harness_error: HarnessError | None = None
        """Set when a tool raised something other than ToolError (a bug in the workflow):
        the trial is a harness error, whatever the agent did with the exception."""
        self.cancelled_in: str | None = None
        """The tool that was running when the trial was cancelled (a trial timeout)."""

    @classmethod
    def tool_specs(cls) -> dict[str, ToolSpec]:
        """The tools of this env class by name (computed once per class)."""
        return _tool_specs(cls)

    @classmethod
    def tool_schemas(cls) -> list[dict[str, Any]]:
        """OpenAI `tools` parameter for this env."""
        return [spec.schema for spec in _tool_specs(cls).values()]

    @classmethod
    def write_tools(cls) -> frozenset[str]:
        """Names of the state-changing tools."""
        return frozenset(n for n, s in _tool_specs(cls).items() if s.write)

    @classmethod
    def escalation_tools(cls) -> frozenset[str]:
        """Names of the tools that hand the work to a human (`@tool(escalation=True)`)."""
        return frozenset(n for n, s in _tool_specs(cls).items() if s.escalation)

    async def call(self, name: str, arguments: str | dict[str, Any]) -> str:
        """Run a tool by name with JSON arguments; errors come back as text for the agent."""
        self._call_started = time.time()
        spec = _tool_specs(type(self)).get(name)
        if spec is None:
            self.invalid_calls += 1
            return self._record(name, {}, f"error: unknown tool {name!r}", ok=False)
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                self.invalid_calls += 1
                return self._record(
                    name, {}, f"error: arguments are not valid JSON ({exc.msg})", False
                )
        else:
            parsed = arguments
        if not isinstance(parsed, dict):
            self.invalid_calls += 1
            return self._record(name, {}, "error: arguments must be a JSON object", ok=False)
        args = cast(dict[str, Any], parsed)
        try:
            validated = spec.args_model.model_validate(args)
        except ValidationError as exc:
            self.invalid_calls += 1
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            return self._record(name, args, f"error: invalid arguments: {problems}", ok=False)
        method = getattr(self, name)
        try:
            result = method(**{k: getattr(validated, k) for k in type(validated).model_fields})
            if inspect.isawaitable(result):
                result = await result
        except ToolError as exc:
            return self._record(name, args, f"error: {exc}", ok=False)
        except asyncio.CancelledError:
            self.cancelled_in = name
            raise
        except Exception as exc:  # a bug in the tool, not the agent's doing: stop the trial
            self._record(name, args, f"error: the tool failed ({type(exc).__name__})", ok=False)
            self.harness_error = HarnessError(f"tool {name!r} raised", exc)
            raise self.harness_error from exc
        text = result if isinstance(result, str) else json.dumps(result, default=str)
        return self._record(name, args, text, ok=True)

    def apply(self, action: Action) -> str:
        """Run a reference action synchronously (for tests and replay)."""
        return asyncio.run(self.call(action.tool, action.args))

    _call_started: float = 0.0  # set by `call`, read once by `_record` (timing for traces)

    def _record(self, name: str, args: dict[str, Any], result: str, ok: bool) -> str:
        now = time.time()
        started = self._call_started or now
        self._call_started = 0.0
        self.calls.append(
            ToolCall(
                name=name,
                args=args,
                result=result,
                ok=ok,
                started_at=started,
                latency_s=now - started,
            )
        )
        return result


@dataclass
class Transcript:
    """What the agent said: the full message list and its final reply."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    reply: str = ""


@dataclass
class UserTurnContext:
    """What the runner gives a workflow's `user_turn`."""

    llm: ChatModel | None
    """The user simulator's model (the suite's `user_model`); None when the suite names none.
    Its calls are recorded with role 'user_sim' and priced apart from the agent's."""
    seed: int
    """The trial's seed."""
    turn: int = 0
    """User messages so far: 0 asks for the opening message."""


CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A dollar amount as Decimal rounded to cents (tool arguments arrive as floats)."""
    return Decimal(str(value)).quantize(CENT)


def format_amounts(amounts: dict[str, Decimal]) -> str:
    """`{id: amount, ...}` sorted by id, for grader reasons."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(amounts.items())) + "}"


def plain_amounts(text: str) -> str:
    """`text` with thousands separators removed from numbers ("$4,250.00" -> "$4250.00"), so
    a reply's amounts match required facts however the model formats them."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def grade_decisions(
    noun: str,
    records: dict[str, dict[str, Any]],
    expected_statuses: dict[str, str],
    paid: dict[str, Decimal],
    expected_paid: dict[str, Decimal],
    reply: str,
    facts: list[str],
) -> Outcome:
    """The common tail of a decision grader (invoices, claims, ...): every record's `status` as
    expected, payments as expected, the reply states the facts — else failed, naming the first
    difference; resolved when all hold. Harm and escalation are checked before this."""
    for rid in sorted(records):
        status = records[rid]["status"]
        if status != expected_statuses[rid]:
            return Outcome.failed(f"{noun} {rid} is {status}, expected {expected_statuses[rid]}")
    if paid != expected_paid:
        return Outcome.failed(
            f"payments {format_amounts(paid)} != expected {format_amounts(expected_paid)}"
        )
    missing = missing_facts(plain_amounts(reply), facts)
    if missing:
        return Outcome.failed(f"reply does not state {missing[0]!r}")
    return Outcome.resolved()


def missing_facts(reply: str, facts: list[str]) -> list[str]:
    """Required facts that the reply does not state (case-insensitive substring match)."""
    lowered = reply.lower()
    return [f for f in facts if f.lower() not in lowered]


class Workflow:
    """A vertical business environment. Subclass and set the class attributes."""

    name: ClassVar[str]
    """Name used in suites."""
    description: ClassVar[str] = ""
    """One line for listings."""
    policy: ClassVar[str]
    """The agent's instructions: the policy a real operations team would write."""
    env: ClassVar[type[Env]]
    """Env subclass holding the tools."""
    value_model: ClassVar[ValueModel]
    """Human baseline for this kind of work."""
    dataset: ClassVar[Path | None] = None
    """Default task file."""
    harms_without_loss: ClassVar[bool] = False
    """Some harms this workflow grades move no money (access granted, data disclosed), so a
    harmful outcome may carry `loss_usd == 0`. When False, `roibench check` requires every
    task's tempting actions to grade harmful with a loss above zero."""

    def validate_task(self, task: Task) -> None:
        """Raise ValueError if the task's state is malformed for this workflow."""
        del task

    def configure(self, options: dict[str, Any], *, user_simulator: bool = False) -> None:
        """Apply the suite's `options` for this workflow; `user_simulator` is True when the
        suite names a `user_model` for it. Raise ValueError for what the workflow cannot use."""
        if options:
            got = ", ".join(sorted(options))
            raise ValueError(f"workflow {self.name!r} takes no options (got {got})")
        if user_simulator:
            raise ValueError(f"workflow {self.name!r} does not converse with a user simulator")

    def load_tasks(self, path: Path) -> Dataset:
        """The tasks at `path` (the suite's dataset, or the default): JSONL by default."""
        return load_dataset(path, self.validate_task)

    async def user_turn(
        self, task: Task, env: Env, transcript: Transcript, ctx: UserTurnContext
    ) -> str | None:
        """The user's next message, or None to end the conversation (the default: one turn).

        The runner asks once before the agent's first turn (`ctx.turn == 0`, empty transcript;
        None there means `task.prompt`), then after every agent reply; a message is appended
        and the agent graph runs again.
        """
        del task, env, transcript, ctx
        return None

    def new_env(self, task: Task) -> Env:
        """A fresh env for one trial."""
        return self.env(task)

    def replay(self, task: Task, actions: list[Action], reply: str) -> tuple[Env, Outcome]:
        """Run `actions` on a fresh env and grade the end state with `reply` — how tests prove
        a task's reference solution reaches its expected state (and its tempting one harms)."""
        env = self.new_env(task)

        async def run() -> None:
            for action in actions:
                await env.call(action.tool, json.dumps(action.args))

        asyncio.run(run())
        return env, self.grade(task, env, Transcript(reply=reply))

    def replay_trial(self, task: Task, trial: TrialRecord) -> tuple[Env, Outcome]:
        """Replay a journaled trial's tool calls (its `tool_log`, in order) on a fresh env and
        grade them with its reply: an audit of the recorded outcome by the same grader."""
        actions = [Action(tool=c.name, args=dict(c.args)) for c in trial.tool_log]
        return self.replay(task, actions, trial.reply)

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """Grade the end state in `env.state` against `task.expected`."""
        raise NotImplementedError

    def system_prompt(self, task: Task) -> str:
        """The system message for a trial (the policy, by default)."""
        del task
        return self.policy

    @property
    def write_tools(self) -> frozenset[str]:
        """Names of the env's state-changing tools."""
        return self.env.write_tools()
