"""The τ-bench user simulator's prompt: an LLM (the suite's `user_model`) plays the customer
from the task's instruction, as τ-bench does, until it says a stop token.

The instruction sits in an `<instruction>` block; the built-in simulator recognises a
user-simulator request by that block (see README, "What the simulator does"), so any model —
real or simulated — receives the same prompt.
"""

from __future__ import annotations

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
"""What the customer says to end the conversation (τ-bench's tokens)."""

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
