"""Suite validation: every error names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from roibench.config.suite import load_suite, locate_line
from roibench.core.errors import InputError

GOOD = """\
name = "t"
trials = 2
workflows = ["refunds"]
agents = ["react"]

[outcome_pricing]
price_usd = 0.99

[[models]]
name = "sim/frontier"
provider = "sim"

[[models]]
name = "sim/budget"
provider = "sim"
[models.price]
input_per_mtok = 0.2
output_per_mtok = 1.2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_good_suite_loads(tmp_path: Path) -> None:
    loaded = load_suite(write(tmp_path, GOOD))
    cfg = loaded.config
    assert [w.name for w in cfg.workflows] == ["refunds"]
    assert cfg.models[1].price_card() is not None
    assert cfg.models[0].price_card() is None


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        (
            'provider = "sim"\n\n[[models]]',
            'provider = "nope"\n\n[[models]]',
            11,
            "models.0.provider",
            "unknown provider",
        ),
        (
            "output_per_mtok = 1.2",
            'output_per_mtok = "lots"',
            18,
            "models.1.price.output_per_mtok",
            "decimal",
        ),
        (
            "input_per_mtok = 0.2",
            "input_per_mtok = -1",
            17,
            "models.1.price.input_per_mtok",
            "greater than or equal",
        ),
        ("trials = 2", "trials = 0", 2, "trials", "greater than 0"),
        (
            "price_usd = 0.99",
            "price_usd = 0.99\ncolour = 1",
            8,
            "outcome_pricing.colour",
            "unknown field",
        ),
    ],
)
def test_bad_fields_name_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_suite(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    assert err.line == line
    assert words in str(err).lower()


def test_missing_required_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('agents = ["react"]\n', ""))
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert info.value.field == "agents"
    assert "required field is missing" in str(info.value)


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("trials = 2", "trials = = 2"))
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert info.value.line == 2
    assert "not valid TOML" in str(info.value)


def test_duplicate_model_names(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('name = "sim/budget"', 'name = "sim/frontier"'))
    with pytest.raises(InputError, match="duplicate model name"):
        load_suite(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_suite(tmp_path / "nope.toml")


def test_locate_line_finds_inner_tables_of_array_elements() -> None:
    assert locate_line(GOOD, ("models", 1, "price", "output_per_mtok")) == 18
    assert locate_line(GOOD, ("models", 0, "name")) == 10
    assert locate_line(GOOD, ("outcome_pricing", "price_usd")) == 7
