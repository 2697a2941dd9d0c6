"""Value-model files (`roibench regrade --value-model`): one model for every workflow, or one
per workflow name, in TOML, YAML or JSON; a bad file names the file, line and field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from roibench.config.value_file import EVERY_WORKFLOW, load_value_models, value_model_for
from roibench.core.errors import InputError


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("vm.toml", 'unit = "t"\nhuman_cost_per_task_usd = 4\nsource = "x"\n'),
        ("vm.toml", '[value_model]\nunit = "t"\nhuman_cost_per_task_usd = 4\nsource = "x"\n'),
        ("vm.yaml", "unit: t\nhuman_cost_per_task_usd: 4\nsource: x\n"),
        ("vm.json", '{"unit": "t", "human_cost_per_task_usd": 4, "source": "x"}'),
    ],
)
def test_one_model_for_every_workflow(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    models = load_value_models(path)
    assert set(models) == {EVERY_WORKFLOW}
    vm = value_model_for(models, "anything")
    assert vm is not None and vm.human_cost_per_task_usd == Decimal(4)


def test_one_model_per_workflow(tmp_path: Path) -> None:
    path = tmp_path / "vm.toml"
    path.write_text(
        '[refunds]\nunit = "t"\nhuman_cost_per_task_usd = 6\nsource = "x"\n'
        '[claims]\nunit = "c"\nhuman_cost_per_task_usd = 7\nsource = "y"\n',
        encoding="utf-8",
    )
    models = load_value_models(path)
    refunds, claims = value_model_for(models, "refunds"), value_model_for(models, "claims")
    assert refunds is not None and refunds.human_cost_per_task_usd == Decimal(6)
    assert claims is not None and claims.human_cost_per_task_usd == Decimal(7)
    assert value_model_for(models, "kyc_aml") is None  # keeps its own


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("vm.toml", '[claims]\nunit = "c"\nhuman_cost_per_task_usd = 7\nsource = "y"\nbogus = 1\n',
         ":5: field 'claims.bogus': unknown field"),
        ("vm.toml", 'unit = "t"\nsource = "x"\n', "field 'human_cost_per_task_usd'"),
        ("vm.toml", "unit = \n", "not valid TOML"),
        ("vm.json", "{", "not valid JSON"),
        ("vm.yaml", "unit: [\n", "not valid YAML"),
        ("vm.toml", "", "empty"),
    ],
)  # fmt: skip
def test_bad_files_name_the_place(tmp_path: Path, name: str, text: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as bad:
        load_value_models(path)
    assert str(path) in str(bad.value) and where in str(bad.value)
