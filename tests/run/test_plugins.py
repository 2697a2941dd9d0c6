"""Plug-ins: a suite names a workflow or agent by built-in name, `package.module:attr`,
`path/to/file.py:attr`, or an entry point; bad references exit 2 naming what was found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roibench.cli.app import app
from roibench.core.errors import InputError
from roibench.run.plugins import resolve_agent, resolve_workflow
from roibench.workflow import Workflow

WORKFLOW_SOURCE = '''
"""A tiny plug-in workflow: look a ticket up, then close it."""
from decimal import Decimal
from pathlib import Path
from typing import Any

from roibench import Env, Outcome, Task, ToolError, Transcript, ValueModel, Workflow, tool


class TicketEnv(Env):
    @tool
    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """Look a ticket up."""
        if ticket_id not in self.state["tickets"]:
            raise ToolError(f"no ticket {ticket_id}")
        return self.state["tickets"][ticket_id]

    @tool(write=True)
    def close_ticket(self, ticket_id: str) -> str:
        """Close a ticket."""
        self.state["tickets"][ticket_id]["open"] = False
        return "closed"


class TicketWorkflow(Workflow):
    name = "NAME"
    policy = "Close the ticket the user names after looking it up."
    env = TicketEnv
    dataset = Path(__file__).resolve().parent / "tickets.jsonl"
    value_model = ValueModel(unit="ticket", human_cost_per_task_usd=Decimal("5"), source="test")

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        closed = not env.state["tickets"]["T1"]["open"]
        return Outcome.resolved() if closed else Outcome.failed("ticket still open")


NOT_A_WORKFLOW = {"name": "just a dict"}
'''

TASK = {
    "id": "ticket-1",
    "tier": "easy",
    "prompt": "Please close ticket T1 for me, PLACE.",
    "initial_state": {"tickets": {"T1": {"open": True, "title": "printer"}}},
    "expected": {"closed": ["T1"]},
    "reference_actions": [
        {"tool": "get_ticket", "args": {"ticket_id": "T1"}},
        {"tool": "close_ticket", "args": {"ticket_id": "T1"}},
    ],
    "reference_reply": "Ticket T1 is closed.",
}


def write_workflow(source: Path, name: str) -> None:
    """The workflow (named `name`) in file `source`, its task file beside it."""
    folder = source.parent
    folder.mkdir(parents=True, exist_ok=True)
    source.write_text(WORKFLOW_SOURCE.replace('"NAME"', repr(name)))
    task = dict(TASK, prompt=TASK["prompt"].replace("PLACE", name))
    (folder / "tickets.jsonl").write_text(json.dumps(task) + "\n")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with a workflow reachable by each route.

    - file route: plugins/workflow.py:TicketWorkflow
    - module route: ticketpkg:TicketWorkflow (a package in the project folder)
    - entry-point route: site/ holds an installed distribution (a real *.dist-info with
      entry_points.txt) whose roibench.workflows entry point 'tickets_ep' names
      ticket_ep_mod:TicketWorkflow, and whose roibench.agents entry point 'ep_plan' names the
      built-in plan-and-execute agent class.
    """
    root = tmp_path_factory.mktemp("project")
    write_workflow(root / "plugins" / "workflow.py", "tickets_file")
    write_workflow(root / "ticketpkg" / "__init__.py", "tickets_module")
    site = root / "site"
    write_workflow(site / "ticket_ep_mod" / "__init__.py", "tickets_ep")
    dist = site / "ticket_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ticket-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[roibench.workflows]\ntickets_ep = ticket_ep_mod:TicketWorkflow\n\n"
        "[roibench.agents]\nep_plan = roibench.agents.plan_execute:PlanExecuteAgent\n"
    )
    (dist / "top_level.txt").write_text("ticket_ep_mod\n")
    (dist / "RECORD").write_text("")
    return root


def test_file_route(project: Path) -> None:
    wf = resolve_workflow("plugins/workflow.py:TicketWorkflow", [project])
    assert isinstance(wf, Workflow) and wf.name == "tickets_file"
    assert set(wf.env.tool_specs()) == {"get_ticket", "close_ticket"}


def test_module_route_finds_a_package_in_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader may append the project
    wf = resolve_workflow("ticketpkg:TicketWorkflow", [project])
    assert wf.name == "tickets_module"


def test_entry_point_route(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(project / "site"))
    wf = resolve_workflow("tickets_ep", [])
    assert wf.name == "tickets_ep"
    assert resolve_agent("ep_plan", []).name == "plan_execute"


def test_builtin_names() -> None:
    assert resolve_workflow("refunds", []).name == "refunds"
    for name in ("react", "plan_execute", "self_check"):
        agent = resolve_agent(name, [])
        assert agent.name == name
        assert callable(agent.build)


SUITE = """
name = "plugins"
seed = 1
trials = 1
workflows = [
  "plugins/workflow.py:TicketWorkflow",
  "ticketpkg:TicketWorkflow",
  "tickets_ep",
  {{ name = "refunds", limit = 1 }},
]
agents = [{agents}]

[outcome_pricing]
scheme = "per_resolution"
price_usd = 1.0

[[models]]
name = "sim/frontier"
provider = "sim"
[models.price]
input_per_mtok = 1
output_per_mtok = 2
"""


def test_all_four_routes_in_one_suite_run(project: Path, tmp_path: Path) -> None:
    """Through the console script (so the project folder is not on sys.path by accident)."""
    suite = project / "routes.toml"
    suite.write_text(SUITE.format(agents='"react", "ep_plan"'))
    env = dict(os.environ, PYTHONPATH=str(project / "site"), COLUMNS="200")
    script = Path(sys.executable).parent / "roibench"
    out = subprocess.run(
        [str(script), "run", str(suite), "--no-mlflow", "--out", str(tmp_path / "runs")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    journal = next((tmp_path / "runs" / "plugins").glob("*/journal.jsonl"))
    rows = [json.loads(x) for x in journal.read_text().splitlines()]
    trials = [r["trial"] for r in rows if r.get("kind") == "trial"]
    cells = {t["cell"]: t["outcome"]["status"] for t in trials}
    for wf in ("tickets_file", "tickets_module", "tickets_ep", "refunds"):
        for agent in ("react", "plan_execute"):
            assert f"{wf}/{agent}/sim/frontier" in cells
    # the simulator knew the plug-in's tasks and played their reference actions
    assert cells["tickets_file/react/sim/frontier"] == "resolved"
    assert cells["tickets_ep/plan_execute/sim/frontier"] == "resolved"
    assert cells["tickets_module/react/sim/frontier"] == "resolved"


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        ("plugins/missing.py:TicketWorkflow", ["plugins/missing.py:TicketWorkflow", "not found"]),
        (
            "plugins/workflow.py:Nope",
            ["plugins/workflow.py:Nope", "no attribute 'Nope'", "TicketWorkflow"],
        ),
        (
            "plugins/workflow.py:NOT_A_WORKFLOW",
            ["plugins/workflow.py:NOT_A_WORKFLOW", "is a dict", "not a roibench Workflow"],
        ),
        ("ticketpkg:TicketEnv", ["ticketpkg:TicketEnv", "the class TicketEnv", "not a roibench"]),
        ("no_such_pkg_xyz:Thing", ["no_such_pkg_xyz:Thing", "cannot import module"]),
        ("nonexistent_flow", ["unknown workflow 'nonexistent_flow'", "refunds"]),
    ],
)
def test_bad_workflow_reference_exits_2(project: Path, workflow: str, expected: list[str]) -> None:
    suite = project / "bad.toml"
    suite.write_text(
        SUITE.replace('"ticketpkg:TicketWorkflow",\n', "")
        .replace('"plugins/workflow.py:TicketWorkflow"', json.dumps(workflow))
        .replace('"tickets_ep",\n', "")
        .format(agents='"react"')
    )
    result = CliRunner().invoke(app, ["run", str(suite), "--no-mlflow"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "workflows[0].name" in message
    for part in expected:
        assert part in message, (part, message)


def test_bad_agent_reference_exits_2(project: Path) -> None:
    suite = project / "bad_agent.toml"
    suite.write_text(
        SUITE.replace('"ticketpkg:TicketWorkflow",\n', "")
        .replace('"tickets_ep",\n', "")
        .format(agents='"react", "plugins/workflow.py:TicketWorkflow"')
    )
    result = CliRunner().invoke(app, ["run", str(suite), "--no-mlflow"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "agents[1].name" in message
    assert "the class TicketWorkflow, not an agent" in message


def test_broken_plugin_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere_xyz\n")
    with pytest.raises(InputError) as info:
        resolve_workflow("broken.py:Anything", [tmp_path])
    assert "broken.py:Anything" in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)
    (tmp_path / "raises.py").write_text(
        textwrap.dedent(
            """
            from roibench import Workflow

            class Needy(Workflow):
                def __init__(self, x):
                    pass
            """
        )
    )
    with pytest.raises(InputError, match="creating Needy\\(\\) failed"):
        resolve_workflow("raises.py:Needy", [tmp_path])
