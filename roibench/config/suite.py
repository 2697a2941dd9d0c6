"""Suite files (TOML): workflows x agents x models x trials, with pricing. Validated strictly;
every error names the file, the line and the field."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

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
    checked: str | None = None
    note: str = ""


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

    name: str = Field(min_length=1, description="Also the MLflow experiment name.")
    description: str = ""
    seed: int = Field(default=0, description="Seeds the simulator and bootstrap.")
    trials: int = Field(default=1, gt=0, description="Trials per task (k).")
    concurrency: int = Field(default=16, gt=0, description="Trials in flight at once.")
    workflows: list[WorkflowRef] = Field(min_length=1)
    agents: list[AgentRef] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    outcome_pricing: OutcomePricing = Field(description="The outcome-price scheme compared.")
    fx: FxTable | None = Field(default=None, description="Dated FX table for non-USD price cards.")
    price_cards: str | None = Field(
        default=None,
        description="YAML price-card file (relative to the suite); overrides bundled cards.",
    )

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


class LoadedSuite(BaseModel):
    """A validated suite and where it came from."""

    model_config = ConfigDict(frozen=True)

    config: SuiteConfig
    path: Path
    text: str

    def resolve(self, relative: str) -> Path:
        """A path in the suite, relative to the suite file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)


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


def parse_suite(text: str, path: Path) -> LoadedSuite:
    """Validate suite `text` read from `path`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"not valid TOML: {exc}", file=path, line=int(m.group(1)) if m else None
        ) from None
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
        raise InputError(msg, file=path, line=locate_line(text, loc), field=field) from None
    return LoadedSuite(config=config, path=path, text=text)


def load_suite(path: Path) -> LoadedSuite:
    """Read and validate a suite file."""
    if not path.is_file():
        raise InputError("suite file not found", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("suite file is not UTF-8 text", file=path) from None
    return parse_suite(text, path)


def suite_catalog(suite: LoadedSuite) -> PriceCatalog:
    """The price catalog of a suite: its `price_cards` file (if any) over the bundled cards,
    then genai-prices; FX: bundled, then the card file's, then the suite's own `fx`."""
    cfg = suite.config
    user: PriceBookFile | None = None
    origin = "user"
    if cfg.price_cards:
        path = suite.resolve(cfg.price_cards)
        if not path.is_file():
            raise InputError(
                f"price-card file not found: {path}",
                file=suite.path,
                line=locate_line(suite.text, ("price_cards",)),
                field="price_cards",
            )
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
        raise InputError(
            str(exc.args[0]),
            file=suite.path,
            line=locate_line(suite.text, ("models", index, "price_card")),
            field=f"models.{index}.price_card",
        ) from None
