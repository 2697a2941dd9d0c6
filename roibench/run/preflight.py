"""Before a run: every real endpoint answers and accepts its key; the checkout's commit."""

from __future__ import annotations

import http.client
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roibench.run.runner import RunPlan


@dataclass
class PreflightProblem:
    """Why an endpoint cannot be used."""

    provider: str
    message: str


def check_endpoints(plan: RunPlan, timeout_s: float = 5.0) -> list[PreflightProblem]:
    """Check each real endpoint before the run: the key is set, the endpoint answers, and it
    accepts the key (GET /models; no tokens are spent). The simulator is skipped."""
    problems: list[PreflightProblem] = []
    seen: set[tuple[str, str]] = set()
    for model in plan.suite.config.models:
        provider = model.resolved_provider()
        if provider.simulated or provider.base_url is None:
            continue
        key = (provider.name, provider.base_url)
        if key in seen:
            continue
        seen.add(key)
        secret = provider.api_key()
        if secret is None and not provider.key_optional:
            problems.append(PreflightProblem(
                provider.name,
                f"provider {provider.name!r} needs an API key: set {provider.api_key_env}",
            ))  # fmt: skip
            continue
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        url = provider.base_url.rstrip("/") + "/models"
        try:
            status = _get_status(url, headers, timeout_s)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            problems.append(PreflightProblem(
                provider.name,
                f"cannot reach provider {provider.name!r} at {provider.base_url} "
                f"({type(exc).__name__}); check base_url and the network",
            ))  # fmt: skip
            continue
        if status in (401, 403):
            problems.append(PreflightProblem(
                provider.name,
                f"provider {provider.name!r} rejected the API key in {provider.api_key_env} "
                f"(HTTP {status})",
            ))  # fmt: skip
    return problems


def _get_status(url: str, headers: dict[str, str], timeout_s: float) -> int:
    """The HTTP status of a GET. The standard library's client, not httpx: the run's process
    has no other use for httpx (the OpenAI SDK brings its own), whose import costs ~0.3 s of
    CPU on the way to the first trial."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:  # an answer, not a failure to reach it
        return exc.code


def git_commit(path: Path) -> str | None:
    """The commit of the git checkout holding `path`, if any."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
