"""The built-in simulator: a real OpenAI-compatible HTTP server on loopback that plays tasks'
reference solutions and deviates at a profile's rates."""

from roibench.sim.player import SimPlayer
from roibench.sim.profiles import PROFILES, SimProfile
from roibench.sim.server import SimServer

__all__ = ["PROFILES", "SimPlayer", "SimProfile", "SimServer"]
