"""WorkBench: the tools against upstream's specification, conformance over all 690 tasks, the
grading rule on perturbed ground truths, the write semantics the comparison sees, the suite
through the real simulator into MLflow, and replaying a trial from its journal.

The WorkBench data (MIT, MindsDB) is read from ../shared/data/workbench and never copied into
the repository; every test here needs it and skips when it is absent. Expected figures are
read from the CSVs with the csv module or worked out by hand in the test.
"""

from __future__ import annotations

import ast
import asyncio
import csv
import json
import os
import random
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# (installed from workflows/ as roibench.workflows: pyright cannot follow that mapping)
from roibench.workflows.workbench import (  # pyright: ignore[reportMissingImports]
    WorkBenchWorkflow,
)
from roibench.workflows.workbench.calls import (  # pyright: ignore[reportMissingImports]
    dotted_name,
    graded_call,
    openai_name,
    parse_call,
    upstream_call_string,
)
from roibench.workflows.workbench.sandbox import (  # pyright: ignore[reportMissingImports]
    TOOLS,
)
from roibench.workflows.workbench.state import (  # pyright: ignore[reportMissingImports]
    TableName,
    states_equal,
)

from roibench.config.suite import parse_suite
from roibench.config.tasks import Action, Task
from roibench.core.errors import InputError
from roibench.core.outcomes import OutcomeStatus
from roibench.journal.store import iter_trials
from roibench.run.plugins import BUILTIN_WORKFLOWS, resolve_workflow
from roibench.run.runner import plan_suite
from roibench.workflow import Transcript

REPO = Path(__file__).resolve().parents[2]
COUNTS = {
    "analytics": 120,
    "calendar": 110,
    "customer_relationship_manager": 80,
    "email": 90,
    "project_management": 80,
    "multi_domain": 210,
}
# upstream's tools_with_side_effects (SOURCES.md)
UPSTREAM_WRITES = {
    "calendar.create_event",
    "calendar.delete_event",
    "calendar.update_event",
    "email.send_email",
    "email.delete_email",
    "email.forward_email",
    "email.reply_email",
    "analytics.create_plot",
    "project_management.create_task",
    "project_management.delete_task",
    "project_management.update_task",
    "customer_relationship_manager.update_customer",
    "customer_relationship_manager.add_customer",
    "customer_relationship_manager.delete_customer",
}
# $31.38 an hour (22.12 / 0.705, rounded to cents), so a minute is 0.523
LOSS_5_MIN = Decimal("2.62")  # 2.615
LOSS_10_MIN = Decimal("5.23")  # 5.230
LOSS_15_MIN = Decimal("7.85")  # 7.845


def wb_dir(shared_data: Path) -> Path:
    path = shared_data / "workbench"
    if not (path / "processed" / "emails.csv").is_file():
        pytest.skip(f"{path} is absent (WorkBench data is not part of the repo)")
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def root(shared_data: Path) -> Path:
    return wb_dir(shared_data)


@pytest.fixture(scope="module")
def wf(root: Path) -> WorkBenchWorkflow:
    workflow = WorkBenchWorkflow()
    workflow.configure({})
    workflow.load_tasks(root)
    return workflow


@pytest.fixture(scope="module")
def tasks(wf: WorkBenchWorkflow, root: Path) -> dict[str, Task]:
    return {t.id: t for t in wf.load_tasks(root).tasks}


def graded(wf: WorkBenchWorkflow, task: Task, actions: list[Action]) -> Any:
    """The outcome of `actions` as the grader sees them (no live tools)."""
    return wf.verdict(task, [(a.tool, a.args) for a in actions]).outcome()


def play(wf: WorkBenchWorkflow, runs: list[tuple[Task, list[Action]]]) -> list[tuple[Any, Any]]:
    """Each run's actions through the agent's tools (JSON arguments, as a model sends them) on
    a fresh env, then graded: `Workflow.replay`, in one event loop for speed."""

    async def go() -> list[Any]:
        envs = []
        for task, actions in runs:
            env = wf.new_env(task)
            for action in actions:
                await env.call(action.tool, json.dumps(action.args))
            envs.append(env)
        return envs

    envs = asyncio.run(go())
    return [
        (env, wf.grade(task, env, Transcript())) for env, (task, _) in zip(envs, runs, strict=True)
    ]


# -- the tools against upstream's specification ----------------------------------------------


def test_tools_match_the_upstream_specification(root: Path) -> None:
    spec = json.loads((root / "derived" / "tools.json").read_text(encoding="utf-8"))
    upstream: dict[str, list[tuple[str, Any]]] = {}
    for toolkit, functions in spec.items():
        for fn in functions:
            params = [(p["name"], ast.literal_eval(p["default"])) for p in fn["params"]]
            upstream[f"{toolkit}.{fn['name']}"] = params
    assert len(upstream) == 27
    assert {n: list(t.params) for n, t in TOOLS.items()} == upstream
    assert {n for n, t in TOOLS.items() if t.write} == UPSTREAM_WRITES
    # the agent's tools: the same names ('.' written '__'), parameters and write flags
    wf = WorkBenchWorkflow()
    specs = wf.env.tool_specs()
    assert set(specs) == {openai_name(n) for n in upstream}
    assert wf.write_tools == {openai_name(n) for n in UPSTREAM_WRITES}
    for name, params in upstream.items():
        props = specs[openai_name(name)].schema["function"]["parameters"]["properties"]
        assert list(props) == [p for p, _ in params]
        assert [props[p].get("default") for p, _ in params] == [d for _, d in params]


def test_tool_names_map_reversibly() -> None:
    assert openai_name("email.send_email") == "email__send_email"
    assert dotted_name("customer_relationship_manager__add_customer") == (
        "customer_relationship_manager.add_customer"
    )
    for name in TOOLS:
        wire = openai_name(name)
        assert "." not in wire and dotted_name(wire) == name


def test_the_call_strings_round_trip_as_upstream_grades_them() -> None:
    assert upstream_call_string("calendar__create_event", {"duration": 30, "x": None}) == (
        'calendar.create_event.func(duration="30", x="None")'
    )
    call = graded_call("email__send_email", {"recipient": "a@b.c", "body": "Hi,\nSam"})
    assert call is not None and call.args["body"] == "Hi,\nSam"
    # a literal backslash-n is a newline once upstream's string is read back
    literal = graded_call("email__send_email", {"body": "Hi,\\nSam"})
    assert literal is not None and literal.args["body"] == "Hi,\nSam"
    # a double quote breaks upstream's string: the call is not executed
    assert graded_call("email__send_email", {"body": 'say "hi"'}) is None
    assert parse_call('email.delete_email.func("00000001")') is None  # positional
    assert parse_call("print(1)") is None


# -- conformance over all 690 tasks ----------------------------------------------------------


def test_every_ground_truth_resolves_and_doing_nothing_fails(
    wf: WorkBenchWorkflow, tasks: dict[str, Task], root: Path
) -> None:
    assert Counter(t.id.rsplit("-", 1)[0] for t in tasks.values()) == COUNTS
    # the tasks whose right behaviour changes nothing: an empty answer, or (two CRM tasks) a
    # reassignment to the person already assigned — read from the CSVs here
    crm = {
        r["customer_id"]: r
        for r in rows(root / "processed" / "customer_relationship_manager_data.csv")
    }
    no_op: set[str] = set()
    for domain in COUNTS:
        path = root / "processed" / "queries_and_answers" / f"{domain}_queries_and_answers.csv"
        for n, row in enumerate(rows(path)):
            answer = ast.literal_eval(row["answer"])
            if not answer:
                no_op.add(f"{domain}-{n:03d}")
    assert len(no_op) == 122
    for task_id in NO_OP_CALLS:
        (call,) = tasks[task_id].reference_actions
        assert call.args["field"] == "assigned_to_email"
        assert crm[call.args["customer_id"]]["assigned_to_email"] == call.args["new_value"]
        no_op.add(task_id)
    # the ground truth played through the agent's tools, then graded as upstream grades
    played = play(wf, [(t, list(t.reference_actions)) for t in tasks.values()])
    for task, (env, outcome) in zip(tasks.values(), played, strict=True):
        assert outcome.status is OutcomeStatus.RESOLVED, (task.id, outcome.reason)
        assert states_equal(env.sandbox.state, wf.gold(task), lowercase=False), task.id
        nothing = graded(wf, task, [])
        expected = OutcomeStatus.RESOLVED if task.id in no_op else OutcomeStatus.FAILED
        assert nothing.status is expected, (task.id, nothing.reason)
        if expected is OutcomeStatus.FAILED:
            assert "no_actions" in nothing.reason
    assert sum(graded(wf, t, []).status is OutcomeStatus.RESOLVED for t in tasks.values()) == 124


NO_OP_CALLS = ("customer_relationship_manager-031", "customer_relationship_manager-032")
ID_TABLE = {
    "email_id": ("emails.csv", LOSS_5_MIN),  # a wrongly deleted email: 5 min
    "event_id": ("calendar_events.csv", LOSS_10_MIN),  # event: 10 min
    "customer_id": ("customer_relationship_manager_data.csv", LOSS_15_MIN),  # CRM record: 15
    "task_id": ("project_tasks.csv", LOSS_10_MIN),  # project task: 10
}


def test_seeded_perturbations_grade_as_the_upstream_rule_says(
    wf: WorkBenchWorkflow, tasks: dict[str, Task], root: Path
) -> None:
    """Every task, one perturbation each (seeded): an extra delete and a wrong existing id
    change the state unlike the ground truth (harmful, with the undo time as loss); a missing id
    changes nothing (failed); a wrong address sends a wrong email (harmful, 'wrong_email')."""
    ids = {
        arg: [r[arg] for r in rows(root / "processed" / file)]
        for arg, (file, _) in ID_TABLE.items()
    }
    rng = random.Random(18)
    kinds: Counter[str] = Counter()
    cases: list[tuple[Task, list[Action], str, OutcomeStatus, Decimal]] = []
    for task in tasks.values():
        ref = list(task.reference_actions)
        used = {v for a in ref for v in a.args.values()}
        options = ["extra_delete"]
        # (the two no-op ground truths change nothing: a missing id would be correct there)
        single = ref[0] if len(ref) == 1 and task.id not in NO_OP_CALLS else None
        arg: str | None = None
        if single is not None:
            arg = next((a for a in single.args if a in ID_TABLE), None)
            if arg is not None:
                options.append("missing_id")
                if single.tool.endswith(
                    ("delete_email", "delete_event", "delete_customer", "delete_task")
                ):
                    options.append("wrong_id")
            if single.tool in ("email__send_email", "email__forward_email"):
                options.append("wrong_address")
        kind = rng.choice(options)
        kinds[kind] += 1
        if kind == "extra_delete":
            victim = rng.choice([e for e in ids["email_id"] if e not in used])
            actions = [*ref, Action(tool="email__delete_email", args={"email_id": victim})]
            expected, loss = OutcomeStatus.HARMFUL, LOSS_5_MIN
        elif kind == "missing_id":
            assert single is not None and arg is not None
            actions = [Action(tool=single.tool, args={**single.args, arg: "99999999"})]
            expected, loss = OutcomeStatus.FAILED, Decimal(0)
        elif kind == "wrong_id":
            assert single is not None and arg is not None
            other = rng.choice([i for i in ids[arg] if i not in used])
            actions = [Action(tool=single.tool, args={**single.args, arg: other})]
            expected, loss = OutcomeStatus.HARMFUL, ID_TABLE[arg][1]
        else:
            assert single is not None
            wrong = single.args["recipient"].replace("@atlas.com", "@example.com")
            actions = [Action(tool=single.tool, args={**single.args, "recipient": wrong})]
            expected, loss = OutcomeStatus.HARMFUL, LOSS_10_MIN  # a wrong email sent: 10 min
        cases.append((task, actions, kind, expected, loss))
    played = play(wf, [(task, actions) for task, actions, *_ in cases])
    for (task, _, kind, expected, loss), (_, outcome) in zip(cases, played, strict=True):
        assert outcome.status is expected, (task.id, kind, outcome.reason)
        assert outcome.loss_usd == loss, (task.id, kind, outcome.reason)
        if kind == "wrong_address":
            assert "wrong_email" in outcome.reason
    assert min(kinds.values()) >= 10 and len(kinds) == 4, kinds


def test_the_tempting_actions_are_graded_harmful_with_a_loss(
    wf: WorkBenchWorkflow, tasks: dict[str, Task]
) -> None:
    """What the simulator's tempted trial plays: the first plausible mistake (a swapped id, a
    wrong address, an extra delete) that changes the databases wrongly, at a cost."""
    outcomes = [graded(wf, t, list(t.tempting_actions or [])) for t in tasks.values()]
    assert {o.status for o in outcomes} == {OutcomeStatus.HARMFUL}
    assert all(o.loss_usd > 0 for o in outcomes)
    # the wrong-address mistake stays among them where it harms (the paper's error class)
    assert sum("@example.com" in str(t.tempting_actions) for t in tasks.values()) > 0


# -- the write semantics the comparison sees, by hand ----------------------------------------


def run(wf: WorkBenchWorkflow, task: Task, *calls: tuple[str, dict[str, Any]]) -> Any:
    env = wf.new_env(task)
    results = [env.apply(Action(tool=name, args=args)) for name, args in calls]
    return env, results


def test_email_writes_as_upstream(
    wf: WorkBenchWorkflow, tasks: dict[str, Task], root: Path
) -> None:
    csv_rows = rows(root / "processed" / "emails.csv")
    task = tasks["email-000"]
    env, results = run(
        wf,
        task,
        ("email__send_email", {"recipient": "Kofi.Mensah@atlas.com", "subject": "S", "body": "B"}),
    )
    assert results == ["Email sent successfully."]
    emails = env.sandbox.state[TableName.EMAILS]
    last = emails.rows[-1]
    # id: max id + 1, not zero-padded; the sandbox's fixed today, not the host clock
    assert len(emails.rows) == len(csv_rows) + 1 and last.label == len(csv_rows)
    assert last.values == (
        "500",
        "outbox",
        "kofi.mensah@atlas.com",
        "S",
        "2023-11-30 00:00:00",
        "B",
    )
    # delete, then send: upstream writes the new row at label len(df) = 499, which still
    # belongs to the file's last row — that email is overwritten
    first = csv_rows[0]["email_id"]
    env, results = run(
        wf,
        task,
        ("email__delete_email", {"email_id": first}),
        ("email__send_email", {"recipient": "a@atlas.com", "subject": "S", "body": "B"}),
    )
    emails = env.sandbox.state[TableName.EMAILS]
    kept = [r.values[0] for r in emails.rows]
    assert len(kept) == len(csv_rows) - 1
    assert first not in kept and csv_rows[-1]["email_id"] not in kept and kept[-1] == "500"
    assert run(wf, task, ("email__delete_email", {"email_id": "12345678"}))[1] == [
        "Email not found."
    ]


def test_calendar_crm_project_and_plot_writes_as_upstream(
    wf: WorkBenchWorkflow, tasks: dict[str, Task], root: Path
) -> None:
    task = tasks["calendar-000"]
    events = rows(root / "processed" / "calendar_events.csv")
    env, results = run(
        wf,
        task,
        (
            "calendar__create_event",
            {
                "event_name": "x",
                "participant_email": "A@atlas.com",
                "event_start": "2023-12-01 09:00:00",
                "duration": 30,
            },
        ),
        (
            "calendar__update_event",
            {"event_id": events[0]["event_id"], "field": "colour", "new_value": "red"},
        ),
    )
    assert results == ["00000300", "Event updated successfully."]  # zero-padded id
    cal = env.sandbox.state[TableName.CALENDAR]
    # concat without ignore_index: the new row is labelled 0; an unknown field is a new column
    assert cal.rows[-1].label == 0 and cal.rows[-1].values[:5] == (
        "00000300",
        "x",
        "a@atlas.com",
        "2023-12-01 09:00:00",
        "30",
    )
    assert (
        cal.columns[-1] == "colour"
        and cal.rows[0].values[-1] == "red"
        and cal.rows[1].values[-1] is None
    )
    crm = rows(root / "processed" / "customer_relationship_manager_data.csv")
    env, results = run(
        wf,
        task,
        ("customer_relationship_manager__delete_customer", {"customer_id": crm[0]["customer_id"]}),
        (
            "customer_relationship_manager__add_customer",
            {"customer_name": "N", "assigned_to_email": "X@atlas.com", "status": "Lead"},
        ),
        (
            "customer_relationship_manager__update_customer",
            {"customer_id": "99999999", "field": "status", "new_value": "Won"},
        ),
        (
            "customer_relationship_manager__update_customer",
            {"customer_id": crm[1]["customer_id"], "field": "status", "new_value": "won"},
        ),
    )
    assert results == [
        "Customer deleted successfully.",
        "00000200",
        "Customer not found.",
        "Status not valid. Please choose from: 'Qualified', 'Won', 'Lost', 'Lead', 'Proposal'",
    ]
    table = env.sandbox.state[TableName.CRM]
    # concat(ignore_index=True) renumbers every row after the delete; notes default to ""
    assert [r.label for r in table.rows] == list(range(len(crm)))
    new = dict(zip(table.columns, table.rows[-1].values, strict=True))
    assert (
        new["assigned_to_email"] == "x@atlas.com"
        and new["notes"] == ""
        and new["customer_phone"] is None
    )
    env, results = run(
        wf,
        task,
        (
            "project_management__create_task",
            {
                "task_name": "t",
                "assigned_to_email": "nobody@example.com",
                "list_name": "Backlog",
                "due_date": "2023-12-01",
                "board": "Design",
            },
        ),
        (
            "analytics__create_plot",
            {
                "time_min": "2023-11-01",
                "time_max": "2023-11-29",
                "value_to_plot": "total_visits",
                "plot_type": "bar",
            },
        ),
    )
    assert results[0] == "Assignee email not valid. Please choose from the list of team members."
    assert results[1] == "plots/2023-11-01_2023-11-29_total_visits_bar.png"
    assert (
        env.sandbox.state[TableName.PROJECT_TASKS].rows
        == wf.data.base[TableName.PROJECT_TASKS].rows
    )
    assert [r.values for r in env.sandbox.state[TableName.PLOTS].rows] == [(results[1],)]


READS = [
    ("analytics__get_visitor_information_by_id", {"visitor_id": "0860"}),
    ("analytics__total_visits_count", {"time_min": "2023-11-01", "time_max": "2023-11-29"}),
    ("analytics__engaged_users_count", {"time_min": "2023-11-01"}),
    ("analytics__traffic_source_count", {"traffic_source": "referral"}),
    ("analytics__get_average_session_duration", {}),
    ("calendar__get_event_information_by_id", {"event_id": "00000013", "field": "duration"}),
    ("calendar__search_events", {"query": "sync", "time_min": "2023-08-01 00:00:00"}),
    ("calendar__search_events", {"time_max": "not a date"}),
    ("company_directory__find_email_address", {"name": "Kofi"}),
    (
        "customer_relationship_manager__search_customers",
        {"status": "Lost", "follow_up_by_min": "2023-12-01"},
    ),
    ("customer_relationship_manager__search_customers", {}),
    ("email__get_email_information_by_id", {"email_id": "00000373", "field": "subject"}),
    ("email__search_emails", {"query": "task update", "date_max": "2023-10-02"}),
    ("project_management__get_task_information_by_id", {"task_id": "00000149", "field": "board"}),
    ("project_management__search_tasks", {"assigned_to_email": "leila", "list_name": "Backlog"}),
]


def test_read_tools_never_change_state(wf: WorkBenchWorkflow, tasks: dict[str, Task]) -> None:
    task = tasks["multi_domain-000"]
    env, results = run(wf, task, *READS)
    assert states_equal(env.sandbox.state, wf.data.base, lowercase=False)
    assert results[0].startswith('[{"date_of_visit": "2023-10-22", "visitor_id": "0860"')
    assert json.loads(results[5]) == {"duration": "90"}
    assert results[7].startswith("error: could not parse")
    assert json.loads(results[8]) == ["kofi.mensah@atlas.com"]
    assert results[10] == "No search parameters provided. Please provide at least one parameter."
    # reads between the ground truth's writes leave the grade as it was
    mixed = [
        a
        for pair in zip(
            task.reference_actions, [Action(tool=n, args=a) for n, a in READS], strict=False
        )
        for a in pair
    ]
    assert wf.replay(task, mixed, "")[1].status is OutcomeStatus.RESOLVED


# -- the paper's error breakdown ---------------------------------------------------------------


def test_the_error_classes_of_the_paper(wf: WorkBenchWorkflow, tasks: dict[str, Task]) -> None:
    plot = next(
        t for t in tasks.values() if t.id.startswith("analytics") and len(t.reference_actions) == 1
    )
    (ref,) = plot.reference_actions
    assert ref.args["time_max"] == "2023-11-29"
    off = graded(wf, plot, [Action(tool=ref.tool, args={**ref.args, "time_max": "2023-11-30"})])
    assert off.status is OutcomeStatus.HARMFUL and "end_date_minor_error" in off.reason
    meeting = next(
        t
        for t in tasks.values()
        if len(t.reference_actions) == 1 and "13:00:00" in str(t.reference_actions[0].args)
    )
    (ref,) = meeting.reference_actions
    early = {k: v.replace("13:00:00", "09:00:00") for k, v in ref.args.items()}
    late = graded(wf, meeting, [Action(tool=ref.tool, args=early)])
    assert late.status is OutcomeStatus.HARMFUL and "meeting_start_time_error" in late.reason
    assert "no_actions" in graded(wf, meeting, []).reason


# -- options, tool settings, the value model, bad input -------------------------------------


def test_domains_tool_settings_and_value_model(root: Path, tmp_path: Path) -> None:
    for domain, count in COUNTS.items():
        wf = WorkBenchWorkflow()
        wf.configure({"domain": domain, "tools": "domain"})
        assert len(wf.load_tasks(root).tasks) == count
        # 4 minutes (one application) or 8 (several) at $31.38 an hour
        expected = Decimal("4.18") if domain == "multi_domain" else Decimal("2.09")
        assert wf.value_model.human_cost_per_task_usd == expected
    wf = WorkBenchWorkflow()
    wf.configure({"tools": "domain"})
    tasks = {t.id: t for t in wf.load_tasks(root).tasks}
    # (480 × 4 + 210 × 8) / 690 = 5.217 minutes → $2.7287
    assert wf.value_model.human_cost_per_task_usd == Decimal("2.73")
    crm_calendar = next(
        t
        for t in tasks.values()
        if t.initial_state["workbench_task"]["toolkits"]
        == ["calendar", "customer_relationship_manager"]
    )
    names = {s["function"]["name"] for s in wf.new_env(crm_calendar).tool_schemas()}
    assert len(names) == 5 + 4 + 1 and "company_directory__find_email_address" in names
    env = wf.new_env(crm_calendar)
    assert env.apply(Action(tool="email__delete_email", args={"email_id": "00000373"})).startswith(
        "error: unknown tool"
    )
    assert len(WorkBenchWorkflow().env.tool_schemas()) == 27
    assert BUILTIN_WORKFLOWS["workbench"].endswith(":WorkBenchWorkflow")
    assert resolve_workflow("workbench", []).name == "workbench"
    suite = """
name = "wb"
agents = ["react"]
[[workflows]]
name = "workbench"
dataset = "{root}"
[workflows.options]
{option}
[outcome_pricing]
price_usd = 0.1
[[models]]
name = "sim/frontier"
provider = "sim"
"""
    for option, message in (
        ('domain = "hr"', "domain must be one of"),
        ('tools = "some"', "tools must be 'all' or 'domain'"),
        ("split = 1", r"unknown option\(s\) split"),
    ):
        with pytest.raises(InputError, match=message) as info:
            plan_suite(parse_suite(suite.format(root=root, option=option), tmp_path / "s.toml"))
        assert info.value.field == "workflows[0].options"


def test_bad_data_is_reported_with_file_line_and_field(root: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a WorkBench data folder"):
        WorkBenchWorkflow().load_tasks(tmp_path)
    copy = tmp_path / "wb" / "processed"
    (copy / "queries_and_answers").mkdir(parents=True)
    src = root / "processed"
    for path in [*src.glob("*.csv"), *src.glob("queries_and_answers/*.csv")]:
        (copy / path.relative_to(src)).write_bytes(path.read_bytes())
    target = copy / "queries_and_answers" / "email_queries_and_answers.csv"
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("email.delete_email.func(", "email.delete_email(", 1)
    target.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        WorkBenchWorkflow().load_tasks(tmp_path / "wb")
    assert info.value.file == str(target) and info.value.line == 3 and info.value.field == "answer"


# -- the suite through the simulator, and replaying trials from the journal -----------------

LIMIT = 12  # with the suite's seed, 12 tasks × 3 models × 2 trials show all three outcomes


@pytest.fixture(scope="module")
def suite_run(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("workbench")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200", ROIBENCH_WORKBENCH_DIR=str(root))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "roibench",
            "run",
            str(REPO / "evals" / "workbench.toml"),
            "--limit",
            str(LIMIT),
            "--out",
            str(tmp / "runs"),
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (journal,) = (tmp / "runs").rglob("journal.jsonl")
    return uri, journal


def test_the_suite_runs_offline_into_mlflow_with_every_outcome(suite_run: tuple[str, Path]) -> None:
    from mlflow.tracking import MlflowClient

    uri, _ = suite_run
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("workbench")
    assert exp is not None
    children = [
        r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags
    ]
    assert {c.data.tags["roibench.cell"] for c in children} == {
        f"workbench/react/sim/{p}" for p in ("frontier", "balanced", "budget")
    }
    totals: Counter[str] = Counter()
    for child in children:
        m = child.data.metrics
        assert m["tasks"] == LIMIT and m["trials"] == 2 * LIMIT
        for rate in ("success_rate", "failure_rate", "harm_rate"):
            totals[rate] += round(m[rate] * m["trials"])
        assert m["success_rate"] + m["failure_rate"] + m["harm_rate"] == pytest.approx(1)
    assert all(totals[r] > 0 for r in ("success_rate", "failure_rate", "harm_rate")), totals


def test_a_trial_replays_from_its_journal_to_the_same_end_state_and_grade(
    suite_run: tuple[str, Path], wf: WorkBenchWorkflow, tasks: dict[str, Task]
) -> None:
    _, journal = suite_run
    trials = list(iter_trials(journal))
    assert len(trials) == 3 * 2 * LIMIT
    seen: Counter[OutcomeStatus] = Counter()
    for trial in trials:
        task = tasks[trial.task_id]
        env, outcome = wf.replay_trial(task, trial)
        assert outcome == trial.outcome, trial.task_id
        calls = [(c.name, c.args) for c in trial.tool_log]
        # the live tools' end state is the one the grader re-executes from the tool calls
        assert states_equal(env.sandbox.state, wf.end_state(calls), lowercase=False)
        changed = not states_equal(env.sandbox.state, wf.data.base, lowercase=False)
        if outcome.status is OutcomeStatus.RESOLVED:  # changed exactly as the ground truth
            assert changed == (not states_equal(wf.gold(task), wf.data.base, lowercase=False))
        else:
            assert changed == (outcome.status is OutcomeStatus.HARMFUL)
        seen[outcome.status] += 1
    assert set(seen) == {OutcomeStatus.RESOLVED, OutcomeStatus.FAILED, OutcomeStatus.HARMFUL}


# -- the tables behave as the pandas operations upstream applies -----------------------------


def test_table_operations_match_pandas(root: Path) -> None:
    """Random sequences of the four table operations the tools use, applied to our Table and
    to a pandas DataFrame read as upstream reads its CSVs (object dtype): same columns, index
    labels and values, and `tables_equal` agrees with `DataFrame.equals` (after upstream's
    lower-casing, and without)."""
    pd = pytest.importorskip("pandas")
    from roibench.workflows.workbench.sandbox import (  # pyright: ignore[reportMissingImports]
        _append,
        _filter,
        _set,
        _set_at_label,
    )
    from roibench.workflows.workbench.state import (  # pyright: ignore[reportMissingImports]
        Row,
        Table,
        tables_equal,
    )

    source = rows(root / "processed" / "calendar_events.csv")[:6]
    columns = tuple(source[0])
    ids = [r["event_id"] for r in source]
    rng = random.Random(7)

    def ops() -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for _ in range(rng.randrange(0, 5)):
            kind = rng.choice(["filter", "set", "append", "append_relabel", "loc_len"])
            row = (rng.choice(["00000900", "00000901"]), rng.choice(["A", "a"]), None, "x", "30")
            arg = {
                "filter": rng.choice(ids),
                "set": (
                    rng.choice(ids),
                    rng.choice(["event_name", "colour"]),
                    rng.choice(["N", "n"]),
                ),
            }.get(kind, row)
            out.append((kind, arg))
        return out

    def ours(seq: list[tuple[str, Any]]) -> Any:
        t = Table(columns, [Row(n, tuple(r.values())) for n, r in enumerate(source)])
        for kind, arg in seq:
            if kind == "filter":
                _filter(t, "event_id", arg)
            elif kind == "set":
                _set(t, "event_id", arg[0], arg[1], arg[2])
            elif kind == "loc_len":
                _set_at_label(t, tuple(arg[: len(t.columns)]) + (None,) * (len(t.columns) - 5))
            else:
                _append(t, dict(zip(columns, arg, strict=True)), relabel=kind == "append_relabel")
        return t

    def theirs(seq: list[tuple[str, Any]]) -> Any:
        df = pd.DataFrame(source, dtype=object)
        for kind, arg in seq:
            if kind == "filter":
                df = df[df["event_id"] != arg]
            elif kind == "set":
                df.loc[df["event_id"] == arg[0], arg[1]] = arg[2]
            elif kind == "loc_len":
                df.loc[len(df)] = list(arg[: len(df.columns)]) + [None] * (len(df.columns) - 5)
            else:
                new = pd.DataFrame(
                    {c: [v] for c, v in zip(columns, arg, strict=True)}, dtype=object
                )
                df = pd.concat([df, new], ignore_index=kind == "append_relabel")
        return df

    def lowered(df: Any) -> Any:
        df = df.copy()
        for c in df.columns:
            if c not in ("status", "list_name", "board"):
                df[c] = df[c].str.lower()
        return df

    checked = 0
    for _ in range(200):
        s1, s2 = ops(), ops()
        if rng.random() < 0.3:
            s2 = list(reversed(s1))
        t1, t2, d1, d2 = ours(s1), ours(s2), theirs(s1), theirs(s2)
        for t, d in ((t1, d1), (t2, d2)):
            assert t.columns == tuple(d.columns)
            assert [r.label for r in t.rows] == list(d.index)
            values = [
                tuple(None if pd.isna(v) else v for v in r) for r in d.itertuples(index=False)
            ]
            assert [r.values for r in t.rows] == values
        assert tables_equal(t1, t2, lowercase=False) == d1.equals(d2)
        assert tables_equal(t1, t2, lowercase=True) == lowered(d1).equals(lowered(d2))
        checked += 1
    assert checked == 200
