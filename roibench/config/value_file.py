"""A value-model file (`roibench regrade --value-model FILE`): the human baseline to grade a
finished run's economics against, instead of the one each workflow declared.

TOML, YAML or JSON holding either one value model for every workflow of the run (at the top
level, or as a `value_model` table, as `roibench reprice --value-model` reads it)

    unit = "support ticket"
    human_cost_per_task_usd = 9.10
    source = "Gartner, one channel"

or one table per workflow name (workflows without a table keep their own):

    [refunds]
    unit = "support ticket"
    human_cost_per_task_usd = 9.10
    source = "Gartner, one channel"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from roibench.config.suite import locate_line
from roibench.config.value import ValueModel
from roibench.core.errors import InputError

EVERY_WORKFLOW = "*"
"""The key of a value model that applies to every workflow."""


def _parse(path: Path, text: str) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise InputError(f"not valid YAML: {exc}", file=path, line=line) from None
        if not isinstance(data, dict):
            raise InputError("expected a mapping", file=path, line=1)
        return data
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None
        if not isinstance(data, dict):
            raise InputError("expected a JSON object", file=path, line=1)
        return data
    from roibench.config.suite import parse_toml

    return parse_toml(text, path)


def _validate(path: Path, text: str, data: Any, prefix: tuple[str, ...]) -> ValueModel:
    try:
        return ValueModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = (*prefix, *(str(p) for p in err["loc"]))
        msg = {"missing": "required field is missing", "extra_forbidden": "unknown field"}.get(
            err["type"], err["msg"]
        )
        line = locate_line(text, loc) if path.suffix.lower() == ".toml" else None
        raise InputError(msg, file=path, line=line, field=".".join(loc) or "(file)") from None


def load_value_models(path: Path) -> dict[str, ValueModel]:
    """Value models by workflow name, or {EVERY_WORKFLOW: model}; InputError naming the file,
    line and field when the file is wrong."""
    if not path.is_file():
        raise InputError("value-model file not found", file=path)
    text = path.read_text(encoding="utf-8")
    data = _parse(path, text)
    if not data:
        raise InputError("the value-model file is empty", file=path)
    if set(data) == {"value_model"} and isinstance(data["value_model"], dict):
        return {EVERY_WORKFLOW: _validate(path, text, data["value_model"], ("value_model",))}
    if all(isinstance(v, dict) for v in data.values()):
        return {name: _validate(path, text, v, (name,)) for name, v in data.items()}
    return {EVERY_WORKFLOW: _validate(path, text, data, ())}


def value_model_for(models: dict[str, ValueModel], workflow: str) -> ValueModel | None:
    """The model a workflow gets from the file (None: keep its own)."""
    return models.get(workflow, models.get(EVERY_WORKFLOW))
