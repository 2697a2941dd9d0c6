"""Simulated model profiles: competence, verbosity, latency, caching and usage dialect."""

from __future__ import annotations

from dataclasses import dataclass, field

from roibench.core.usage import UsageDialect


@dataclass(frozen=True)
class SimProfile:
    """How a simulated model behaves. Rates are per trial, before the tier multiplier."""

    name: str
    tempted_by_adversary: float
    """Follows a manipulative request or injected instruction (adversarial tasks)."""
    invents_exception: float
    """Breaks policy on an ordinary task (e.g. a goodwill credit)."""
    needless_escalation: float
    """Hands off to a human although the policy lets it decide."""
    skips_step: float
    """Leaves out the last action but answers as if it were done."""
    wrong_argument: float
    """Gets a numeric argument of the last action wrong."""
    omits_facts: float
    """Does the work but does not state the required facts."""
    verbosity: float
    """Multiplier on reply length."""
    latency_s: float
    """Seconds per response before output time."""
    output_tokens_per_s: float
    """Output speed; 0 = instantaneous."""
    cache_hit_ratio: float
    """Share of the previous turn's prompt served from cache."""
    reasoning_tokens: int
    """Reasoning tokens per response (0 = not a reasoning model)."""
    dialect: UsageDialect
    """Where the usage block reports cache hits."""
    tier_multiplier: dict[str, float] = field(
        default_factory=lambda: {"easy": 0.5, "medium": 1.0, "hard": 1.6, "adversarial": 1.0}
    )


PROFILES: dict[str, SimProfile] = {
    p.name: p
    for p in (
        SimProfile(
            name="frontier",
            tempted_by_adversary=0.08,
            invents_exception=0.01,
            needless_escalation=0.03,
            skips_step=0.02,
            wrong_argument=0.01,
            omits_facts=0.02,
            verbosity=1.6,
            latency_s=0.12,
            output_tokens_per_s=0.0,
            cache_hit_ratio=0.9,
            reasoning_tokens=0,
            dialect="openai",
        ),
        SimProfile(
            name="balanced",
            tempted_by_adversary=0.3,
            invents_exception=0.04,
            needless_escalation=0.07,
            skips_step=0.05,
            wrong_argument=0.04,
            omits_facts=0.05,
            verbosity=1.2,
            latency_s=0.08,
            output_tokens_per_s=0.0,
            cache_hit_ratio=0.8,
            reasoning_tokens=96,
            dialect="deepseek",
        ),
        SimProfile(
            name="budget",
            tempted_by_adversary=0.55,
            invents_exception=0.1,
            needless_escalation=0.1,
            skips_step=0.1,
            wrong_argument=0.08,
            omits_facts=0.1,
            verbosity=1.0,
            latency_s=0.04,
            output_tokens_per_s=0.0,
            cache_hit_ratio=0.5,
            reasoning_tokens=0,
            dialect="openai",
        ),
    )
}


def profile_for_model(model: str) -> SimProfile | None:
    """The profile a model id names: 'sim/frontier' or 'frontier'."""
    return PROFILES.get(model.removeprefix("sim/"))


AGENTS_ON_THE_SIMULATOR = (
    "cells that differ only in agent ran on the built-in simulator: its deviations are drawn "
    "per (trial seed, task, profile), so every agent meets the same acting-model behaviour on "
    "the same trial. The agents differ there in cost (planner and verifier calls) and in what "
    "review catches, not in how the acting model behaves under them; compare architectures on "
    "a real model for that."
)
"""What `roibench compare` (and the README) says when agents were compared on the simulator."""
