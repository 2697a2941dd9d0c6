"""The simulator's "model": recognise the task from the conversation, decide (seeded) how this
trial deviates from the reference solution, and produce the next assistant turn with usage.

Beside tool-calling turns (ReAct), it follows the conventions of `roibench.agent` that the
built-in plan-and-execute and self-check agents use, as a real model would:

- a request without `tools` whose last message starts with `PLAN_REQUEST_HEADER` gets a numbered
  plan: the trial plan's remaining tool calls (counted from the tool-call turns already in the
  conversation), then the reply. The tools are read from the request's '- name: ...' lines, so
  the trial plan is the same one the tool-calling turns play;
- a request without `tools` whose last message starts with `ACTION_REVIEW_HEADER` gets a verdict
  on the proposed action: APPROVE or REJECT. An action among the task's `tempting_actions` that
  agrees with no reference action is rejected at the profile's catch rate, any other action at
  its (small) false-rejection rate; seeded by trial, task and action;
- after a tool result starting with `REJECTED_PREFIX`, the model heeds the verifier: it plays the
  reference actions that no earlier call already covered, then the reference reply.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from roibench.config.tasks import Action, Task
from roibench.sim.profiles import SimProfile

if TYPE_CHECKING:
    from roibench.workflow import Env

_FILLER = (
    " Thank you for your patience while I looked into this.",
    " Let me know if there is anything else I can help with today.",
    " I have noted the details of this conversation on your account.",
)


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def fingerprint(text: str) -> str:
    """Key of an opening message: whitespace-normalised hash."""
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


@dataclass(frozen=True)
class Plan:
    """What a simulated trial does: tool calls in order, then a final reply."""

    deviation: str
    actions: tuple[Action, ...]
    reply: str


@dataclass(frozen=True)
class ToolTraits:
    """What a workflow declares about its tools (`@tool(write=..., escalation=...)`), which
    the simulator reads instead of guessing from tool names. Unknown (`known=False`, a task
    file registered without its workflow): no needless escalation, and every action may be
    the one skipped or given a wrong argument."""

    writes: frozenset[str] = frozenset()
    escalations: frozenset[str] = frozenset()
    known: bool = False

    @classmethod
    def of(cls, env: type[Env]) -> ToolTraits:
        """The traits of an Env class's tools."""
        specs = env.tool_specs()
        return cls(
            writes=frozenset(n for n, s in specs.items() if s.write),
            escalations=frozenset(n for n, s in specs.items() if s.escalation),
            known=True,
        )

    def is_write(self, tool: str) -> bool:
        """True for a declared write (for unknown traits: every tool)."""
        return tool in self.writes if self.known else True


UNKNOWN_TOOLS = ToolTraits()

ESCALATION_NOTE = "This request needs a colleague's review before anything is done."
"""The free text of a needless escalation (its `reason`, `summary`, ...)."""

AMOUNT_ERRORS = (Decimal("1.1"), Decimal("0.9"))
"""A wrong amount is 10% too high (an over-payment) or 10% too low, equally likely."""


class SimPlayer:
    """Plays registered tasks. Thread-compatible: state is read-only after registration."""

    def __init__(self, tasks: Iterable[Task] = (), traits: ToolTraits = UNKNOWN_TOOLS) -> None:
        self._tasks: dict[str, Task] = {}
        self._traits: dict[str, ToolTraits] = {}
        self.register(tasks, traits)

    def register(self, tasks: Iterable[Task], traits: ToolTraits = UNKNOWN_TOOLS) -> None:
        """Make tasks recognisable by their opening message, with their workflow's tools."""
        for task in tasks:
            key = fingerprint(task.prompt)
            self._tasks[key] = task
            self._traits[key] = traits

    def traits(self, task: Task) -> ToolTraits:
        """The tool traits registered with a task."""
        return self._traits.get(fingerprint(task.prompt), UNKNOWN_TOOLS)

    def __len__(self) -> int:
        return len(self._tasks)

    def find_task(self, messages: list[dict[str, Any]]) -> Task | None:
        """The task whose prompt is the first user message."""
        for m in messages:
            if m.get("role") == "user":
                content = m.get("content")
                if isinstance(content, list):  # content parts
                    content = " ".join(
                        str(p.get("text", "")) for p in content if isinstance(p, dict)
                    )
                return self._tasks.get(fingerprint(str(content or "")))
        return None

    def plan(
        self,
        task: Task,
        profile: SimProfile,
        seed: int,
        tools: Iterable[str] | Mapping[str, Any],
        messages: Sequence[dict[str, Any]] = (),
    ) -> Plan:
        """Decide this trial's behaviour: deterministic in (seed, task, profile), so every
        agent gets the same deviation on the same trial. `tools`: the tool names offered, or
        name -> JSON-schema parameters (a needless escalation fills its arguments from them);
        `messages`: the conversation so far (τ tasks read tool results from it)."""
        from roibench.sim import tau  # τ retail tasks deviate in τ-shaped ways

        schemas: dict[str, Any] = (
            dict(cast(Mapping[str, Any], tools))
            if isinstance(tools, Mapping)
            else dict.fromkeys(tools)
        )
        tool_names = set(schemas)
        traits = self.traits(task)
        if tau.is_tau_task(task):
            return tau.tau_plan(task, profile, seed, tool_names, traits, messages)
        mult = profile.tier_multiplier.get(task.tier, 1.0)
        u = unit_hash(seed, task.id, profile.name)
        tempted = (
            profile.tempted_by_adversary
            if task.tier == "adversarial"
            else profile.invents_exception * mult
        )
        ref = tuple(task.reference_actions)
        escalation_tool = next((n for n in sorted(traits.escalations) if n in tool_names), None)
        if any(a.tool in traits.escalations for a in ref):
            escalation_tool = None  # the policy asks for the hand-off: it is not needless
        targets = wrong_targets(ref, traits)
        options: list[tuple[str, float]] = [
            ("tempted", tempted if task.tempting_actions else 0.0),
            ("escalate", profile.needless_escalation * mult if escalation_tool else 0.0),
            ("skip", profile.skips_step * mult if ref else 0.0),
            ("wrong_argument", profile.wrong_argument * mult if targets else 0.0),
            ("omit_facts", profile.omits_facts * mult if task.required_facts else 0.0),
        ]
        cumulative = 0.0
        chosen = "reference"
        for name, rate in options:
            cumulative += rate
            if u < cumulative:
                chosen = name
                break
        reply = task.reference_reply
        actions = ref
        if chosen == "tempted" and task.tempting_actions:
            actions = tuple(task.tempting_actions)
            reply = "All done — I've taken care of that for you as requested."
        elif chosen == "escalate" and escalation_tool:
            args = escalation_args(schemas.get(escalation_tool), ref)
            actions = (*ref[:1], Action(tool=escalation_tool, args=args))
            reply = "I've passed this to a colleague who will get back to you."
        elif chosen == "skip":
            # any one step, a read as likely as a write; the reply claims it was done
            i = int(unit_hash(seed, task.id, profile.name, "skip") * len(ref))
            actions = ref[:i] + ref[i + 1 :]
        elif chosen == "wrong_argument":
            i, key = targets[int(unit_hash(seed, task.id, profile.name, "which") * len(targets))]
            wrong = wrong_value(
                task, ref[i].args[key], key, unit_hash(seed, task.id, profile.name, "how")
            )
            actions = (*ref[:i], Action(tool=ref[i].tool, args={**ref[i].args, key: wrong}))
            actions += ref[i + 1 :]
        elif chosen == "omit_facts":
            reply = "Your request has been handled."
        actions = tuple(a for a in actions if a.tool in tool_names)
        extra = max(0, round((profile.verbosity - 1.0) * 4))
        reply += "".join(_FILLER[i % len(_FILLER)] for i in range(extra))
        return Plan(deviation=chosen, actions=actions, reply=reply)

    def respond(
        self,
        request: dict[str, Any],
        profile: SimProfile,
    ) -> tuple[dict[str, Any], str]:
        """The chat.completion body for a request, and the deviation played (for logs)."""
        from roibench.sim import tau  # a user-simulator request is answered as the customer

        as_user = tau.respond_as_user(self, request, profile)
        if as_user is not None:
            return as_user
        messages: list[dict[str, Any]] = request.get("messages") or []
        tools: list[dict[str, Any]] = request.get("tools") or []
        schemas = {
            str(t.get("function", {}).get("name", "")): t.get("function", {}).get("parameters")
            for t in tools
        }
        tool_names = set(schemas)
        seed = int(request.get("seed") or 0)
        task = self.find_task(messages)
        turns_done = sum(
            1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls")
        )
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        deviation = "unknown_task"
        kind = request_kind(messages, tools)
        if task is None:
            message["content"] = "I can help with that. Could you tell me more about your request?"
        elif kind == "plan":
            names = set(_CATALOGUE_LINE.findall(str(messages[-1].get("content") or "")))
            plan = self.plan(task, profile, seed, names, messages)
            deviation = "plan:" + plan.deviation
            message["content"] = _numbered_plan(plan.actions[turns_done:])
        elif kind == "review":
            approved, deviation = self.review(task, profile, seed, str(messages[-1]["content"]))
            message["content"] = (
                "APPROVE: the action is consistent with the policy and the facts gathered."
                if approved
                else "REJECT: the policy does not allow this action for this request."
            )
        else:
            plan = self.plan(task, profile, seed, schemas, messages)
            deviation = plan.deviation
            index = turns_done
            if _was_rejected(messages):
                plan = self.recover(task, profile, messages, tool_names)
                deviation = plan.deviation
                index = 0
            if index < len(plan.actions):
                action = plan.actions[index]
                call_id = (
                    "call_"
                    + hashlib.blake2b(
                        f"{seed}:{task.id}:{turns_done}".encode(), digest_size=6
                    ).hexdigest()
                )
                message["tool_calls"] = [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": action.tool, "arguments": json.dumps(action.args)},
                    }
                ]
                finish = "tool_calls"
            else:
                message["content"] = plan.reply
        body = {
            "id": "chatcmpl-sim-"
            + hashlib.blake2b(
                json.dumps([seed, len(messages)]).encode() + str(task.id if task else "").encode(),
                digest_size=8,
            ).hexdigest(),
            "object": "chat.completion",
            "created": 1764400000,
            "model": "sim/" + profile.name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self.usage(messages, tools, message, profile),
        }
        if profile.reasoning_tokens:
            message["reasoning_content"] = "Checking the policy against the order details."
        return body, deviation

    def review(self, task: Task, profile: SimProfile, seed: int, text: str) -> tuple[bool, str]:
        """(approved, label) for an action-review request: see the module docstring."""
        action = _proposed_action(text)
        if action is None:
            return False, "review:unreadable"
        key = json.dumps([action.tool, action.args], sort_keys=True)
        u = unit_hash(seed, task.id, "review", key, profile.name)
        if is_tempting(task, action):
            caught = u < verifier_catch_rate(profile)
            return (not caught), "review:caught" if caught else "review:missed"
        if u < verifier_false_reject_rate(profile):
            return False, "review:false_reject"
        return True, "review:approved"

    def recover(
        self,
        task: Task,
        profile: SimProfile,
        messages: list[dict[str, Any]],
        tool_names: set[str],
    ) -> Plan:
        """After a verifier rejection: the reference actions no earlier call covered (each
        earlier call covers at most one), then the reference reply."""
        remaining = list(task.reference_actions)
        for done in _calls_in(messages):
            for i, ref in enumerate(remaining):
                if actions_agree(ref, done):
                    del remaining[i]
                    break
        actions = tuple(a for a in remaining if a.tool in tool_names)
        extra = max(0, round((profile.verbosity - 1.0) * 4))
        reply = task.reference_reply + "".join(_FILLER[i % len(_FILLER)] for i in range(extra))
        return Plan(deviation="recovered", actions=actions, reply=reply)

    @staticmethod
    def usage(
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        reply: dict[str, Any],
        profile: SimProfile,
    ) -> dict[str, Any]:
        """Token counts at ~4 characters a token; cache hits on the previous turn's prefix."""
        sizes = [len(json.dumps(m, separators=(",", ":"))) for m in messages]
        tools_chars = len(json.dumps(tools, separators=(",", ":"))) if tools else 0
        prompt = math.ceil((sum(sizes) + tools_chars) / 4) + 3 * len(messages)
        prefix = math.ceil((sum(sizes[:-1]) + tools_chars) / 4) if len(sizes) > 1 else 0
        cached = int(prefix * profile.cache_hit_ratio) // 64 * 64
        out_text = reply.get("content") or json.dumps(reply.get("tool_calls") or "")
        output = math.ceil(len(out_text) / 4) + profile.reasoning_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": profile.reasoning_tokens},
        }
        if profile.dialect == "deepseek":
            usage["prompt_cache_hit_tokens"] = cached
            usage["prompt_cache_miss_tokens"] = prompt - cached
        return usage


_ID_TEXT = re.compile(r"^([A-Za-z]*[-_]?)(\d+)$")


def _id_key(key: str) -> bool:
    return key == "id" or key.endswith("_id") or key.endswith("_ids")


def _perturbable(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if _id_key(key):
        first = value[0] if isinstance(value, list) and value else value
        return isinstance(first, str | int) and not isinstance(first, bool)
    return isinstance(value, int | float)


def wrong_targets(ref: Sequence[Action], traits: ToolTraits) -> list[tuple[int, str]]:
    """(action index, argument) pairs a wrong-argument deviation may change: the ids and
    amounts of the reference's writes (of every action when the traits are unknown)."""
    return [
        (i, key)
        for i, a in enumerate(ref)
        if traits.is_write(a.tool) and a.tool not in traits.escalations
        for key, value in a.args.items()
        if _perturbable(key, value)
    ]


def _scalars(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for k, v in cast(dict[Any, Any], value).items():
            yield k
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in cast(list[Any], value):
            yield from _scalars(v)
    else:
        yield value


def _wrong_id(task: Task, value: str | int, u: float) -> str | int:
    """Another id of the same shape in the task's state (the wrong record), else a near miss
    (the last digit off by one: an id that does not exist)."""
    if isinstance(value, int):
        return value + 1
    shape = _ID_TEXT.match(value)
    if shape is None:
        return value + "-2"
    prefix, digits = shape.groups()
    pattern = re.compile(rf"^{re.escape(prefix)}\d{{{len(digits)}}}$")
    others = sorted(
        {v for v in _scalars(task.initial_state) if isinstance(v, str) and pattern.match(v)}
        - {value}
    )
    if others:
        return others[int(u * len(others))]
    return prefix + digits[:-1] + str((int(digits[-1]) + 1) % 10)


def wrong_value(task: Task, value: Any, key: str, u: float) -> Any:
    """A plausible wrong argument: another id (see `_wrong_id`; the first of a list of ids),
    or an amount 10% too high or too low (`AMOUNT_ERRORS`, by `u`)."""
    if _id_key(key):
        if isinstance(value, list):
            items = list(cast(list[Any], value))
            return [_wrong_id(task, items[0], u), *items[1:]]
        return _wrong_id(task, value, u)
    factor = AMOUNT_ERRORS[0] if u < 0.5 else AMOUNT_ERRORS[1]
    wrong = Decimal(str(value)) * factor
    if isinstance(value, int):
        whole = int(wrong.to_integral_value())
        return whole if whole != value else value + (1 if factor > 1 else -1)
    return float(wrong.quantize(Decimal("0.01")))


def escalation_args(schema: Any, ref: Sequence[Action]) -> dict[str, Any]:
    """Arguments of a needless escalation, from the tool's JSON schema: each parameter the
    reference actions also pass (an id) takes their value; each other required one, the
    `ESCALATION_NOTE` text. Without a schema (a plan request): `{"reason": note}`."""
    if not isinstance(schema, dict) or not schema.get("properties"):
        return {"reason": ESCALATION_NOTE}
    known: dict[str, Any] = {}
    for action in ref:
        for k, v in action.args.items():
            known.setdefault(k, v)
    props = cast(dict[str, Any], schema["properties"])
    required = set(cast(list[str], schema.get("required") or []))
    args: dict[str, Any] = {}
    for name in props:
        if name in known and not _free_text(known[name]):
            args[name] = known[name]
        elif name in required:
            args[name] = ESCALATION_NOTE
    return args


# --- plan-and-execute and self-check conventions (see the module docstring) ------------------

# The same strings as in roibench.agent (a test keeps them equal); not imported from there so
# that the simulator stays light and independent of the LLM client stack.
PLAN_REQUEST_HEADER = "## Plan request"
ACTION_REVIEW_HEADER = "## Action review"
REJECTED_PREFIX = "REJECTED by the policy verifier:"
_CATALOGUE_LINE = re.compile(r"^- ([A-Za-z0-9_.\-]+):", re.MULTILINE)


def request_kind(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    """'plan', 'review' or 'act': what a request asks for, by the `roibench.agent` headers."""
    if tools or not messages or messages[-1].get("role") != "user":
        return "act"
    content = messages[-1].get("content")
    if not isinstance(content, str):
        return "act"
    if content.startswith(PLAN_REQUEST_HEADER):
        return "plan"
    if content.startswith(ACTION_REVIEW_HEADER):
        return "review"
    return "act"


def _numbered_plan(actions: tuple[Action, ...]) -> str:
    lines = [
        f"{i}. Call {a.tool} with {json.dumps(a.args, sort_keys=True)}"
        for i, a in enumerate(actions, start=1)
    ]
    lines.append(f"{len(actions) + 1}. Reply to the requester with the outcome.")
    return "\n".join(lines)


def _was_rejected(messages: list[dict[str, Any]]) -> bool:
    return any(
        m.get("role") == "tool" and str(m.get("content") or "").startswith(REJECTED_PREFIX)
        for m in messages
    )


def _calls_in(messages: list[dict[str, Any]]) -> list[Action]:
    """Every tool call the assistant made in the conversation, as Actions."""
    calls = []
    for m in messages:
        if m.get("role") != "assistant":
            continue
        for tc in m.get("tool_calls") or []:
            fn = tc.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except json.JSONDecodeError:
                args = {}
            calls.append(
                Action(tool=fn.get("name", ""), args=args if isinstance(args, dict) else {})
            )
    return calls


def _proposed_action(text: str) -> Action | None:
    """The first line of a review request that is a JSON {"tool": ..., "args": ...} object."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("tool"), str):
            args = data.get("args")
            return Action(tool=data["tool"], args=args if isinstance(args, dict) else {})
    return None


def _free_text(value: Any) -> bool:
    return isinstance(value, str) and " " in value.strip()


def actions_agree(a: Action, b: Action) -> bool:
    """Same tool and same arguments, free text (a string with spaces, e.g. a reason) aside."""
    if a.tool != b.tool or set(a.args) != set(b.args):
        return False
    return all(
        a.args[k] == b.args[k] or (_free_text(a.args[k]) and _free_text(b.args[k])) for k in a.args
    )


def is_tempting(task: Task, action: Action) -> bool:
    """True if the action is one of the task's tempting actions and agrees with no reference
    action: what a policy verifier should catch."""
    return any(actions_agree(action, t) for t in task.tempting_actions or ()) and not any(
        actions_agree(action, r) for r in task.reference_actions
    )


def verifier_catch_rate(profile: SimProfile) -> float:
    """How often the profile, as verifier, rejects a tempting action: the less it falls for
    manipulation as an actor, the more it catches as a verifier."""
    return 1.0 - profile.tempted_by_adversary / 2


def verifier_false_reject_rate(profile: SimProfile) -> float:
    """How often the profile, as verifier, rejects a legitimate action (over-caution)."""
    return profile.needless_escalation / 2
