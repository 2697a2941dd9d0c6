"""The simulator's τ-bench retail side: both ends of a τ conversation, offline.

- The agent's side: for a τ retail task (a task with `initial_state["tau_task"]`) the trial plan
  is the task's gold actions, deviating at the profile's seeded rates in τ-shaped ways: the
  task's tempting actions (the workflow makes them a return widened to every item: an
  over-refund), a needless transfer through the workflow's escalation tool, the last write left
  out, a wrong variant / item / reason / zip / payment method in the last write (read from the
  conversation, as a model would), or a reply without the required outputs. The generic
  player then plays the plan turn by turn.
- The customer's side: a request whose system message carries an `<instruction>` block — the
  rule by which the simulator recognises a user-simulator request; the tau_retail workflow's
  prompt (`workflows/tau_retail/user.py`) has one, as τ-bench's does — is answered as the
  customer would: the first time with the task's opening message (the task whose prompt or
  instruction is the block's text), after that with `###STOP###`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from roibench.config.tasks import Action, Task
from roibench.sim.profiles import SimProfile

if TYPE_CHECKING:
    from roibench.sim.player import Plan, SimPlayer, ToolTraits

STOP = "###STOP###"
"""What the simulated customer answers once it has given its opening message (τ-bench's stop
token: the tau_retail workflow ends the conversation on it)."""
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
_INSTRUCTION = re.compile(r"<instruction>\n(.*?)\n</instruction>", re.S)
_FILLER = " Is there anything else I can help you with today?"


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


def tau_plan(
    task: Task,
    profile: SimProfile,
    seed: int,
    tool_names: set[str],
    traits: ToolTraits | None = None,
    messages: Sequence[dict[str, Any]] = (),
) -> Plan:
    """A τ task's trial plan: its gold actions, or one deviation (deterministic in seed, task
    and profile). The writes and the hand-off tool are the workflow's declared ones
    (`traits`); a wrong argument is made from the conversation so far (`messages`)."""
    from roibench.sim.player import UNKNOWN_TOOLS, Plan, unit_hash

    traits = traits or UNKNOWN_TOOLS
    mult = profile.tier_multiplier.get(task.tier, 1.0)
    u = unit_hash(seed, task.id, profile.name, "tau")
    ref = tuple(task.reference_actions)
    writes = [
        i for i, a in enumerate(ref) if traits.is_write(a.tool) and a.tool not in traits.escalations
    ]
    transfer = next((n for n in sorted(traits.escalations) if n in tool_names), None)
    gold_transfers = any(a.tool in traits.escalations for a in ref)
    options: list[tuple[str, float]] = [
        ("tempted", profile.invents_exception * mult if task.tempting_actions else 0.0),
        (
            "escalate",
            profile.needless_escalation * mult if transfer and not gold_transfers else 0.0,
        ),
        ("skip", profile.skips_step * mult if writes else 0.0),
        ("wrong_argument", profile.wrong_argument * mult if writes else 0.0),
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
    elif chosen == "escalate" and transfer:
        first_write = writes[0] if writes else len(ref)
        summary = Action(tool=transfer, args={"summary": "The customer needs help with an order."})
        actions, reply = (*ref[:first_write], summary), TRANSFER_MESSAGE
    elif chosen == "skip":
        actions = ref[: writes[-1]] + ref[writes[-1] + 1 :]
    elif chosen == "wrong_argument":
        i = writes[-1]
        wrong = Action(tool=ref[i].tool, args=tau_wrong_args(ref[i], messages))
        actions = (*ref[:i], wrong, *ref[i + 1 :])
    elif chosen == "omit_facts":
        reply = "All done: I have taken care of your request."
    actions = tuple(a for a in actions if a.tool in tool_names)
    if reply != TRANSFER_MESSAGE:
        reply += _FILLER * max(0, round((profile.verbosity - 1.0) * 2))
    return Plan(deviation=chosen, actions=actions, reply=reply)


def _tool_results(messages: Sequence[dict[str, Any]]) -> Iterable[Any]:
    for m in messages:
        if m.get("role") != "tool":
            continue
        try:
            yield json.loads(str(m.get("content") or ""))
        except json.JSONDecodeError:
            continue


def _other_variant(messages: Sequence[dict[str, Any]], new_item_id: str) -> str | None:
    """Another available variant, at another price, of the product that `new_item_id` is a
    variant of — as a `get_product_details` result earlier in the conversation shows it."""
    for result in _tool_results(messages):
        variants = result.get("variants") if isinstance(result, dict) else None
        if not isinstance(variants, dict) or new_item_id not in variants:
            continue
        table = cast(dict[str, Any], variants)
        price = (table[new_item_id] or {}).get("price")
        for vid, v in sorted(table.items()):
            if vid != new_item_id and v.get("available") and v.get("price") != price:
                return vid
    return None


def _near_miss(item_id: str) -> str:
    return item_id[:-1] + str((int(item_id[-1]) + 1) % 10) if item_id[-1:].isdigit() else item_id


def tau_wrong_args(action: Action, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The arguments of a τ write with a plausible mistake in them: an exchange or change to
    another variant at another price (when the conversation showed the product; else an item
    id one digit off), one item fewer in a multi-item return, the other cancellation reason,
    a zip code one digit off, or a payment method or item id one digit off."""
    args = dict(action.args)
    if action.tool in ("exchange_delivered_order_items", "modify_pending_order_items") and args.get(
        "new_item_ids"
    ):
        first = str(args["new_item_ids"][0])
        args["new_item_ids"] = [_other_variant(messages, first) or _near_miss(first)]
        args["new_item_ids"] += list(action.args["new_item_ids"][1:])
    elif action.tool == "return_delivered_order_items" and len(args.get("item_ids", [])) > 1:
        args["item_ids"] = args["item_ids"][:-1]
    elif action.tool == "cancel_pending_order" and "reason" in args:
        args["reason"] = (
            "ordered by mistake" if args["reason"] == "no longer needed" else "no longer needed"
        )
    elif "zip" in args:
        args["zip"] = str(args["zip"])[:-1] + ("1" if not str(args["zip"]).endswith("1") else "2")
    elif isinstance(args.get("payment_method_id"), str):
        args["payment_method_id"] = _near_miss(args["payment_method_id"])
    elif args.get("item_ids"):
        args["item_ids"] = [_near_miss(str(args["item_ids"][0])), *args["item_ids"][1:]]
    return args


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
