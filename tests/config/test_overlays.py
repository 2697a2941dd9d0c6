"""Suite overlays: `extends` (tables merge, arrays of tables replace, paths rebased), `--set`
typed by the schema, errors located in the file (or the --set) that defines the field, and
the journal recording the fully resolved text."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roibench.cli.app import app
from roibench.config.suite import (
    dump_toml,
    load_suite,
    merge_tables,
    parse_suite,
    resolve_suite_text,
)
from roibench.core.errors import InputError

REPO = Path(__file__).resolve().parents[2]

BASE = """\
seed = 3
trials = 2
agents = ["react"]
price_cards = "cards.yaml"

[outcome_pricing]
scheme = "per_resolution"
price_usd = 0.99
refund_harmful = true

[[models]]
name = "sim/frontier"
provider = "sim"

[[models]]
name = "sim/budget"
provider = "sim"
price_card = "mine/luna"
"""

CARDS = """\
cards:
  - id: mine/luna
    model: luna
    input_per_mtok: 0.2
    output_per_mtok: 1.2
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write(tmp_path / "shared" / "cards.yaml", CARDS)
    return write(tmp_path / "shared" / "base.toml", BASE)


def child(tmp_path: Path, body: str) -> Path:
    return write(tmp_path / "suite.toml", 'extends = "shared/base.toml"\n' + body)


def test_tables_merge_and_arrays_of_tables_replace(tmp_path: Path, base: Path) -> None:
    path = child(
        tmp_path,
        'name = "c"\ntrials = 5\nworkflows = ["refunds"]\n'
        "[outcome_pricing]\nprice_usd = 2\n"
        '[[models]]\nname = "sim/balanced"\nprovider = "sim"\n',
    )
    cfg = load_suite(path).config
    assert cfg.trials == 5 and cfg.seed == 3  # overridden; inherited
    # the table merged key by key: the child's price, the base's scheme and refund flag
    assert cfg.outcome_pricing.price_usd == Decimal(2)
    assert cfg.outcome_pricing.refund_harmful is True
    # [[models]] replaced whole: only the child's one model
    assert [m.name for m in cfg.models] == ["sim/balanced"]


def test_merge_tables_by_hand() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "arr": [1, 2], "t": [{"n": 1}, {"n": 2}]}
    over = {"a": {"y": {"q": 3}}, "arr": [9], "t": [{"n": 7}]}
    assert merge_tables(base, over) == {
        "a": {"x": 1, "y": {"p": 1, "q": 3}},
        "arr": [9],
        "t": [{"n": 7}],
    }


def test_paths_in_a_base_are_relative_to_the_base(tmp_path: Path, base: Path) -> None:
    path = child(tmp_path, 'name = "c"\nworkflows = ["refunds"]\n')
    loaded = load_suite(path)
    # cards.yaml sits beside the base, one folder down from the suite
    assert loaded.config.price_cards == "shared/cards.yaml"
    assert loaded.resolve(loaded.config.price_cards).is_file()
    from roibench.config.suite import model_pricer, suite_catalog

    pricer = model_pricer(suite_catalog(loaded), loaded, 1)
    assert pricer is not None and pricer.ref == "card:mine/luna"


def test_resolved_text_is_self_contained_and_reparses_equal(tmp_path: Path, base: Path) -> None:
    path = child(tmp_path, 'name = "c"\nworkflows = [{ name = "refunds", limit = 4 }]\n')
    sets = ["outcome_pricing.price_usd=2.5", "trials=7"]
    text = resolve_suite_text(path, sets)
    assert "extends" not in tomllib.loads(text)
    assert text.startswith("# Resolved by roibench from ")
    again = parse_suite(text, path)
    assert again.config == load_suite(path, sets).config
    assert again.config.trials == 7 and again.config.outcome_pricing.price_usd == Decimal("2.5")


def test_a_plain_suite_resolves_to_its_own_text() -> None:
    quick = REPO / "tests" / "fixtures" / "check" / "good.toml"
    assert resolve_suite_text(quick) == quick.read_text()


def test_dump_toml_round_trips() -> None:
    data = {
        "name": 'q "x"\nü',
        "n": 3,
        "f": 0.022,
        "b": False,
        "arr": ["a", 1],
        "empty": {},
        "t": {"k": {"deep": 1}, "v": [1, 2]},
        "models": [{"name": "m", "price": {"input_per_mtok": 0.5}}, {"name": "n"}],
        "dotted.key": 1,
    }
    assert tomllib.loads(dump_toml(data)) == data


def test_set_is_typed_by_the_schema(tmp_path: Path, base: Path) -> None:
    path = child(tmp_path, 'name = "c"\nworkflows = ["refunds"]\n')
    cfg = load_suite(
        path,
        [
            "trials=5",
            "outcome_pricing.price_usd=2",
            "description=123",  # a text field keeps the text
            "workflows.0.limit=4",  # a workflow given by name becomes a table
            "models.1.temperature=0.3",
            "outcome_pricing.scheme=per_conversation",  # an unquoted word for a Literal
        ],
    ).config
    assert cfg.trials == 5
    assert cfg.outcome_pricing.price_usd == Decimal(2)
    assert cfg.description == "123"
    assert cfg.workflows[0].name == "refunds" and cfg.workflows[0].limit == 4
    assert cfg.models[1].temperature == 0.3
    assert cfg.outcome_pricing.scheme == "per_conversation"


@pytest.mark.parametrize(
    ("assignment", "words"),
    [
        ("outcome_pricing.price=2", ["--set outcome_pricing.price", "no field", "price_usd"]),
        ("colour=red", ["--set colour", "no field 'colour'"]),
        ("models.name=x", ["--set models.name", "give an index"]),
        ("models.5.name=x", ["--set models.5.name", "out of range (2 entries)"]),
        ("trials=many", ["--set trials=many", "field 'trials'", "valid integer"]),
        ("trials", ["expected KEY=VALUE"]),
    ],
)
def test_bad_set_names_the_key(
    tmp_path: Path, base: Path, assignment: str, words: list[str]
) -> None:
    path = child(tmp_path, 'name = "c"\nworkflows = ["refunds"]\n')
    with pytest.raises(InputError) as exc:
        load_suite(path, [assignment])
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))


def test_an_error_in_a_base_names_the_base_file_and_line(tmp_path: Path, base: Path) -> None:
    base.write_text(BASE.replace("trials = 2", "trials = 0"))
    path = child(tmp_path, 'name = "c"\nworkflows = ["refunds"]\n')
    with pytest.raises(InputError) as exc:
        load_suite(path)
    assert exc.value.file == str(base) and exc.value.line == 2 and exc.value.field == "trials"
    # the child's own value wins, and so does the place of its error
    path = child(tmp_path, 'name = "c"\nworkflows = ["refunds"]\ntrials = -1\n')
    with pytest.raises(InputError) as exc:
        load_suite(path)
    assert exc.value.file == str(path) and exc.value.line == 4


def test_missing_base_and_cycles(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", 'name = "a"\nextends = "nope.toml"\n')
    with pytest.raises(InputError) as exc:
        load_suite(a)
    assert (
        exc.value.file == str(a)
        and exc.value.line == 2
        and "base suite not found" in str(exc.value)
    )
    write(tmp_path / "b.toml", 'extends = "c.toml"\n')
    write(tmp_path / "c.toml", 'extends = "b.toml"\n')
    with pytest.raises(InputError, match="extends forms a cycle"):
        load_suite(tmp_path / "b.toml")


def test_the_journal_records_the_resolved_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suite = REPO / "evals" / "quickstart.toml"  # extends evals/shared/sim_models.toml
    sets = ["trials=1", "outcome_pricing.price_usd=2"]
    args = ["run", str(suite), "--limit", "2", "--no-mlflow", "--out", "runs"]
    result = CliRunner().invoke(app, [*args, *[x for s in sets for x in ("--set", s)]])
    assert result.exit_code == 0, result.output
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    from roibench.run.plan import read_run_spec

    text = read_run_spec(journal).suite.text
    assert text == resolve_suite_text(suite, sets)
    data = tomllib.loads(text)
    assert "extends" not in data and data["trials"] == 1
    assert data["outcome_pricing"]["price_usd"] == 2
    assert data["price_cards"] == "shared/price_cards.yaml"
    assert [m["price_card"] for m in data["models"]] == [
        "list/openai-gpt-5.6-sol",
        "list/deepseek-v4-pro-offpeak",
        "list/openai-gpt-5.6-luna",
    ]
    # 2 tasks x 3 models x 1 trial: the --set trials=1 was the one that ran
    from roibench.journal.store import iter_trials

    assert sum(1 for _ in iter_trials(journal)) == 6
