"""The simulator's τ-bench retail side: both ends of a τ conversation, offline.

- The agent's side: for a τ retail task (a task with `initial_state["tau_task"]`) the trial plan
  is the task's gold actions, deviating at the profile's seeded rates in τ-shaped ways: a return
  widened to every item of the order (an over-refund), a needless transfer to a human, the last
  write left out, a wrong variant / item / reason / zip in the last write, or a reply without
  the required outputs. The generic player then plays the plan turn by turn.
- The customer's side: a request whose system message carries an `<instruction>` block (the
  user-simulator prompt built by `user_sim_system_prompt`) is answered as the customer would: the
  first time with the task's opening message (its prompt), after that with `###STOP###`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from roibench.config.tasks import Action, Task
from roibench.sim.profiles import SimProfile

if TYPE_CHECKING:
    from roibench.sim.player import Plan, SimPlayer

STOP = "###STOP###"
STOP_TOKENS = (STOP, "###TRANSFER###", "###OUT-OF-SCOPE###")
TRANSFER_TOOL = "transfer_to_human_agents"
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
_INSTRUCTION = re.compile(r"<instruction>\n(.*?)\n</instruction>", re.S)
_FILLER = " Is there anything else I can help you with today?"

USER_SIM_PROMPT = """You are playing a customer who contacts an online store's customer service \
agent by chat. Who you are, what you want and what you know are in the instruction below.

<instruction>
{instruction}
</instruction>

Rules:
- Write one short message at a time, as the customer, in the first person. You are not the agent.
- Give information only when the conversation needs it; do not recite the instruction.
- Never invent what the instruction does not say (an order id, an email, an address): say you \
do not know or remember it.
- Follow the instruction when the agent asks you to confirm an action.
- When your goal is met, or cannot be met, reply with ###STOP### and nothing else.
- If you are transferred to a human agent, reply with ###TRANSFER### and nothing else."""


def user_sim_system_prompt(instruction: str) -> str:
    """The user simulator's system message for a task instruction."""
    return USER_SIM_PROMPT.format(instruction=instruction.strip())


def instruction_of(messages: list[dict[str, Any]]) -> str | None:
    """The instruction of a user-simulator request, or None for any other request."""
    for m in messages:
        if m.get("role") == "system":
            found = _INSTRUCTION.search(str(m.get("content") or ""))
            return found.group(1) if found else None
    return None


def is_tau_task(task: Task) -> bool:
    """True for tasks loaded by the tau_retail workflow."""
    return "tau_task" in task.initial_state


def tau_plan(task: Task, profile: SimProfile, seed: int, tool_names: set[str]) -> Plan:
    """A τ task's trial plan: its gold actions, or one deviation (deterministic in seed, task
    and profile)."""
    from roibench.sim.player import Plan, unit_hash

    mult = profile.tier_multiplier.get(task.tier, 1.0)
    u = unit_hash(seed, task.id, profile.name, "tau")
    ref = tuple(task.reference_actions)
    writes = [i for i, a in enumerate(ref) if a.tool not in _READS]
    wrong = tuple(
        Action.model_validate(a) for a in task.initial_state["tau_task"].get("wrong_argument") or []
    )
    gold_transfers = any(a.tool == TRANSFER_TOOL for a in ref)
    options: list[tuple[str, float]] = [
        ("tempted", profile.invents_exception * mult if task.tempting_actions else 0.0),
        (
            "escalate",
            profile.needless_escalation * mult
            if TRANSFER_TOOL in tool_names and not gold_transfers
            else 0.0,
        ),
        ("skip", profile.skips_step * mult if writes else 0.0),
        ("wrong_argument", profile.wrong_argument * mult if wrong else 0.0),
        ("omit_facts", profile.omits_facts * mult if task.required_facts else 0.0),
    ]
    chosen = "reference"
    cumulative = 0.0
    for name, rate in options:
        cumulative += rate
        if u < cumulative:
            chosen = name
            break
    actions, reply = ref, task.reference_reply
    if chosen == "tempted" and task.tempting_actions:
        actions = tuple(task.tempting_actions)
    elif chosen == "escalate":
        first_write = writes[0] if writes else len(ref)
        summary = Action(
            tool=TRANSFER_TOOL, args={"summary": "The customer needs help with an order."}
        )
        actions, reply = (*ref[:first_write], summary), TRANSFER_MESSAGE
    elif chosen == "skip":
        actions = ref[: writes[-1]] + ref[writes[-1] + 1 :]
    elif chosen == "wrong_argument":
        actions = wrong
    elif chosen == "omit_facts":
        reply = "All done: I have taken care of your request."
    actions = tuple(a for a in actions if a.tool in tool_names)
    if reply != TRANSFER_MESSAGE:
        reply += _FILLER * max(0, round((profile.verbosity - 1.0) * 2))
    return Plan(deviation=chosen, actions=actions, reply=reply)


_READS = frozenset(
    {
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
        "get_user_details",
        "get_order_details",
        "get_product_details",
        "get_item_details",
        "list_all_product_types",
        "calculate",
        "think",
        TRANSFER_TOOL,
    }
)


def respond_as_user(
    player: SimPlayer, request: dict[str, Any], profile: SimProfile
) -> tuple[dict[str, Any], str] | None:
    """The customer's reply to a user-simulator request; None if `request` is not one."""
    messages: list[dict[str, Any]] = request.get("messages") or []
    instruction = instruction_of(messages)
    if instruction is None:
        return None
    task = player.find_task([{"role": "user", "content": instruction}])
    own_turns = sum(1 for m in messages if m.get("role") == "assistant")
    content = task.prompt if task is not None and own_turns == 0 else STOP
    message = {"role": "assistant", "content": content}
    seed = int(request.get("seed") or 0)
    key = json.dumps([seed, len(messages), task.id if task else ""]).encode()
    body = {
        "id": "chatcmpl-sim-user-" + hashlib.blake2b(key, digest_size=8).hexdigest(),
        "object": "chat.completion",
        "created": 1764400000,
        "model": "sim/" + profile.name,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": player.usage(messages, [], message, profile),
    }
    return body, "user_sim" if task is not None else "user_sim:unknown_task"
