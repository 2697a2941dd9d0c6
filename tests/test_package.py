"""The package's import-time guarantees."""

from __future__ import annotations

import os
import subprocess
import sys

CI_MARKERS = ("PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "MLFLOW_DISABLE_TELEMETRY")


def telemetry_client_started(code: str) -> bool:
    """Run `code` then report whether MLflow started its telemetry client, in a clean
    interpreter whose environment does not look like CI (MLflow turns telemetry off there by
    itself) and whose proxy is a closed loopback port (no request can leave the machine)."""
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    env |= {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    probe = code + "\nfrom mlflow.telemetry.client import get_telemetry_client\n"
    probe += "print(get_telemetry_client() is not None)\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_importing_roibench_keeps_mlflow_telemetry_off() -> None:
    # control: plain MLflow starts a client that would post usage over the internet
    assert telemetry_client_started("import mlflow")
    assert not telemetry_client_started("import roibench\nimport mlflow")


def test_a_user_can_still_opt_into_mlflow_telemetry() -> None:
    opt_in = "import os\nos.environ['MLFLOW_DISABLE_TELEMETRY'] = 'false'\n"
    assert telemetry_client_started(opt_in + "import roibench\nimport mlflow")
