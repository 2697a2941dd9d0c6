"""τ-bench / τ²-bench retail as a roibench workflow.

The data (MIT, Sierra) is read from a directory the user names — a τ²-bench retail domain
directory or the τ-bench layout (see `data.py`) — never bundled. The tools are our own
implementation over the loaded database (`env.py`); grading replays each task's gold actions
and compares τ-bench's database hash (`grading.py`, `hashing.py`).

Suite options (`[workflows.options]`):

- `split`: τ²-bench `test` (default), `train`, `base` or `all`; τ-bench `test`, `dev`, `train`.
- `mode`: `user_sim` (default when the suite names a `user_model`) — an LLM plays the customer
  from the task's instruction, as τ-bench does, until it says ###STOP###; or `solo` (default
  otherwise) — the whole instruction is the first message and the requested writes count as
  confirmed, one agent turn, no user-simulator cost.
- `max_user_turns`: user messages per conversation, the opening included (default 30).

`ROIBENCH_TAU_DIR`, when set, replaces the suite's `dataset` directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from roibench.config.tasks import Action, Dataset, Task, Tier
from roibench.config.value import ValueModel
from roibench.core.outcomes import Outcome
from roibench.workflow import Env, Transcript, UserTurnContext, Workflow

from .data import TauData, TauTask, load_tau_dir
from .env import (
    TRANSFER_MESSAGE,
    TRANSFER_TOOL,
    TauRetailEnv,
    TauStore,
)
from .grading import (
    Flows,
    Verdict,
    flow_loss,
    missing_outputs,
    money_flows,
)
from .user import STOP_TOKENS, user_sim_system_prompt

DATA_ENV = "ROIBENCH_TAU_DIR"
MODES = ("user_sim", "solo")
GREETING = "Hi! How can I help you today?"
SOLO_PROMPT = (
    "A customer sent this request. They are not available for questions; treat every change "
    "it describes as confirmed by them.\n\n{instruction}"
)
SOLO_POLICY_NOTE = (
    "\n\n## This conversation\n\nThe customer's whole request is in their first message and "
    "they cannot answer questions. Where the policy asks for explicit confirmation before a "
    "change, the request itself is that confirmation. Authenticate them from the details they "
    "give, do what the policy allows, and finish with one reply that states the outcome."
)
OPTIONS = ("split", "mode", "max_user_turns")
WRITE_TOOLS = TauRetailEnv.write_tools()
_SOURCE = {"tau2": "τ²-bench", "tau": "τ-bench"}


@dataclass(frozen=True)
class Gold:
    """A task's gold end state: τ-bench's hash of it and its money flows."""

    hash: str
    flows: Flows
    transfers: bool


def _tier(task: TauTask) -> Tier:
    """Difficulty by gold writes: ≤1 easy, 2 medium, 3+ (or a transfer) hard."""
    writes = sum(1 for a in task.actions if a.tool in WRITE_TOOLS)
    if writes >= 3 or any(a.tool == TRANSFER_TOOL for a in task.actions):
        return "hard"
    return "easy" if writes <= 1 else "medium"


def _reference_reply(task: TauTask) -> str:
    """A final reply that states every required output."""
    if any(a.tool == TRANSFER_TOOL for a in task.actions):
        return TRANSFER_MESSAGE
    reply = "All done: I have taken care of your request."
    if task.outputs:
        reply += " For your reference: " + "; ".join(task.outputs) + "."
    return reply


def _over_return(task: TauTask, db: dict[str, Any]) -> list[Action] | None:
    """The gold actions with a return widened to every item of the order (an over-refund)."""
    for i, action in enumerate(task.actions):
        if action.tool != "return_delivered_order_items":
            continue
        order = db["orders"].get(action.args.get("order_id"))
        if order is None:
            return None
        every = sorted(item["item_id"] for item in order["items"])
        if len(every) <= len(action.args.get("item_ids", [])):
            return None
        wider = Action(tool=action.tool, args={**action.args, "item_ids": every})
        return [*task.actions[:i], wider, *task.actions[i + 1 :]]
    return None


class TauRetailWorkflow(Workflow):
    """τ-bench retail: an online store's customer service, graded by τ-bench's database hash."""

    name = "tau_retail"
    description = (
        "τ-bench / τ²-bench retail customer service (external benchmark, data not bundled)"
    )
    policy: ClassVar[str] = "(the policy is read from the τ data directory: policy.md or wiki.md)"
    env = TauRetailEnv
    dataset = None
    value_model = ValueModel(
        unit="retail customer-service contact (live channel)",
        human_cost_per_task_usd=Decimal("8.01"),
        escalation_cost_usd=Decimal("8.01"),
        rework_cost_usd=Decimal("8.01"),
        source=(
            "Gartner: $8.01 per live-channel contact (2019); rework = one repeat contact at the "
            "same cost (assumption: the customer comes back once)"
        ),
        source_url="https://www.destinationcrm.com/Articles/ReadArticle.aspx?ArticleID=135327",
        as_of=date(2019, 11, 26),
    )

    def __init__(self) -> None:
        self.split = "test"
        self.mode = "solo"
        self.max_user_turns = 30
        self._data: TauData | None = None
        self._store: TauStore | None = None
        self._meta: dict[str, TauTask] = {}
        self._gold: dict[str, Gold] = {}

    # -- setup -----------------------------------------------------------------------------

    def configure(self, options: dict[str, Any], *, user_simulator: bool = False) -> None:
        """Read `split`, `mode` and `max_user_turns` (see the module docstring)."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        self.split = str(options.get("split", "test"))
        self.mode = str(options.get("mode", "user_sim" if user_simulator else "solo"))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "user_sim" and not user_simulator:
            raise ValueError("mode 'user_sim' needs a user_model for this workflow in the suite")
        if self.mode == "solo" and user_simulator:
            raise ValueError(
                "mode 'solo' has no user simulator: remove user_model or use 'user_sim'"
            )
        turns = options.get("max_user_turns", 30)
        if not isinstance(turns, int) or turns < 1:
            raise ValueError("max_user_turns must be a positive integer")
        self.max_user_turns = turns

    def load_tasks(self, path: Path) -> Dataset:
        """Load the τ directory at `path` (or $ROIBENCH_TAU_DIR) as roibench tasks."""
        override = os.environ.get(DATA_ENV)
        root = Path(override) if override else path
        data = load_tau_dir(root, self.split)
        self._data = data
        self._store = TauStore(data.db)
        self._meta = {t.id: t for t in data.tasks}
        self._gold = {}
        tasks = tuple(self._task(t, data) for t in data.tasks)
        return Dataset(path=data.root, sha256=data.sha256, tasks=tasks)

    def _task(self, t: TauTask, data: TauData) -> Task:
        prompt = (
            t.instruction
            if self.mode == "user_sim"
            else SOLO_PROMPT.format(instruction=t.instruction)
        )
        over = _over_return(t, data.db)
        return Task(
            id=t.id,
            tier=_tier(t),
            prompt=prompt,
            initial_state={
                "tau_task": {
                    "layout": data.layout,
                    "user_id": t.user_id,
                    "instruction": t.instruction,
                }
            },
            expected={
                "db": "the database after replaying reference_actions",
                "outputs": list(t.outputs),
            },
            reference_actions=list(t.actions),
            reference_reply=_reference_reply(t),
            required_facts=list(t.outputs),
            tempting_actions=over,
            notes=f"{_SOURCE[data.layout]} retail task {t.id} from {data.root}",
        )

    def validate_task(self, task: Task) -> None:
        """A τ task carries its metadata under initial_state['tau_task']."""
        if "tau_task" not in task.initial_state:
            raise ValueError(
                "initial_state lacks 'tau_task' (load τ tasks from a τ data directory)"
            )

    @property
    def data(self) -> TauData:
        """The loaded τ data (after load_tasks)."""
        if self._data is None:
            raise RuntimeError("tau_retail: load_tasks() has not run")
        return self._data

    def new_env(self, task: Task) -> TauRetailEnv:
        """A trial's copy-on-write view of the shared database."""
        if self._store is None:
            raise RuntimeError("tau_retail: load_tasks() has not run")
        return TauRetailEnv(task, self._store)

    def system_prompt(self, task: Task) -> str:
        """The domain policy (policy.md / wiki.md); in solo mode, plus how confirmation works."""
        del task
        return self.data.policy + (SOLO_POLICY_NOTE if self.mode == "solo" else "")

    # -- the conversation ------------------------------------------------------------------

    async def user_turn(
        self, task: Task, env: Env, transcript: Transcript, ctx: UserTurnContext
    ) -> str | None:
        """The simulated customer's next message (user_sim mode), None when they stop."""
        if self.mode != "user_sim" or ctx.llm is None or ctx.turn >= self.max_user_turns:
            return None
        if any(c.name == TRANSFER_TOOL and c.ok for c in env.calls):
            return None  # τ-bench ends the conversation at a transfer
        instruction = str(task.initial_state["tau_task"]["instruction"])
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": user_sim_system_prompt(instruction)},
            {"role": "user", "content": GREETING},
        ]
        for m in transcript.messages:
            # roles flip: the customer's messages are the simulator's own turns
            if m.get("role") == "user":
                messages.append({"role": "assistant", "content": m.get("content") or ""})
            elif m.get("role") == "assistant" and m.get("content"):
                messages.append({"role": "user", "content": m["content"]})
        reply = await ctx.llm.complete(messages, [])
        text = str(reply.get("content") or "").strip()
        if not text or any(tok in text for tok in STOP_TOKENS):
            return None
        return text

    # -- grading ---------------------------------------------------------------------------

    def gold(self, task: Task) -> Gold:
        """The gold end state of a task (computed once, by replaying its gold actions)."""
        cached = self._gold.get(task.id)
        if cached is None:
            env = self.new_env(task)
            env.replay(task.reference_actions)
            base = self.data.db["orders"]
            cached = Gold(
                hash=env.db_hash(),
                flows=money_flows(env.state["orders"], base, env.dirty["orders"]),
                transfers=any(a.tool == TRANSFER_TOOL for a in task.reference_actions),
            )
            self._gold[task.id] = cached
        return cached

    def verdict(self, task: Task, env: TauRetailEnv, transcript: Transcript) -> Verdict:
        """Everything the grader checks, before it becomes an outcome."""
        gold = self.gold(task)
        hash_ok = env.db_hash() == gold.hash
        messages = transcript.messages or [{"role": "assistant", "content": transcript.reply}]
        missing = missing_outputs(messages, tuple(task.expected.get("outputs", [])))
        base = self.data.db
        flows = money_flows(env.state["orders"], base["orders"], env.dirty["orders"])
        loss, wrong = flow_loss(flows, gold.flows)
        owner = task.initial_state["tau_task"].get("user_id")
        foreign: list[str] = []
        if owner:
            foreign += sorted(
                o for o in env.dirty["orders"] if env.state["orders"][o]["user_id"] != owner
            )
            foreign += sorted(
                u
                for u in env.dirty["users"]
                if u != owner and env.state["users"][u] != base["users"][u]
            )
        return Verdict(
            reward=1.0 if hash_ok and not missing else 0.0,
            hash_ok=hash_ok,
            missing=missing,
            transferred=any(c.name == TRANSFER_TOOL and c.ok for c in env.calls),
            gold_transfers=gold.transfers,
            loss=loss,
            wrong_money=wrong,
            foreign_writes=foreign,
        )

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """τ-bench's reward, mapped to roibench outcomes (see grading.py)."""
        if not isinstance(env, TauRetailEnv):
            raise TypeError("tau_retail grades TauRetailEnv trials only")
        return self.verdict(task, env, transcript).outcome()


WORKFLOW = TauRetailWorkflow
