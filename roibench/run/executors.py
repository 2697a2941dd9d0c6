"""Executors: where a plan's trials run.

`local` (the default) is the in-process asyncio runner (`roibench.run.runner.Runner`). `ray` shards
trials to a pool of Ray worker actors (`roibench.run.ray_executor`, optional extra
`roibench[ray]`). This package never imports Ray itself: only `ray_executor` does, and only
when `--executor ray` is asked for.
"""

from __future__ import annotations

from roibench.core.errors import InputError

EXECUTORS = ("local", "ray")

RAY_MISSING = "--executor ray needs Ray, which is an optional extra: pip install 'roibench[ray]'"


def require_ray() -> None:
    """Raise InputError (exit 2) naming the extra to install if Ray cannot be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError(RAY_MISSING, field="--executor") from None
