"""RunSpec: what a run was, resolved, written as the journal's first line.

Everything after the runner — the terminal summary, MLflow logging (`run` and `log`),
`reprice`, `report`, traces — reads a RunSpec and the trial records, never the live suite or
today's code: a workflow whose value model changed since, a price card edited since, a preset
whose URL moved since, none of them changes what a finished run reports. A user who wants new
figures asks for them (`roibench reprice --prices`, `--value-model`).

Versioned by `schema_version`. A journal of an unknown (newer) version is refused with a
clear message; version 1 (the header before RunSpec: suite text plus an `economics` record) is
read by `upgrade_v1`, which re-plans the suite text it recorded (the only way version 1 can
be read) and takes every figure it did record — prices, value models, write tools — from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roibench.config.suite import AgentRef, ModelSpec, WorkflowRef
from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.faults import FaultSpec
from roibench.core.records import CallRole
from roibench.model.local_server import LocalModel
from roibench.model.providers import Provider
from roibench.pricing.cards import Pricer, pricer_from_snapshot

SCHEMA_VERSION = 2
"""The RunSpec schema this code writes. 1 = the header before RunSpec (see `upgrade_v1`)."""


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PriceSource(BaseModel):
    """A price source in full: the cards with their provenance and FX rates, or the
    genai-prices reference and version — enough to re-price every call exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str = Field(description="'card:<id>', or the genai-prices reference.")
    description: str = Field(description="One line for people, e.g. the card and its source.")
    snapshot: dict[str, Any] = Field(description="What `pricing.pricer_from_snapshot` reads.")

    @classmethod
    def of(cls, pricer: Pricer) -> PriceSource:
        """The record of a live price source."""
        return cls(ref=pricer.ref, description=pricer.describe(), snapshot=pricer.snapshot())

    def pricer(self) -> Pricer:
        """The price source, rebuilt from the record (no lookup in today's cards)."""
        return pricer_from_snapshot(self.snapshot)


class RolePrice(BaseModel):
    """Which model answered a call role, and how its calls were priced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: CallRole
    model: str = Field(description="Model label in the suite.")
    provider: str
    model_id: str
    price: PriceSource | None = Field(description="None: unpriced (never shown as free).")


class TaskRef(BaseModel):
    """A task of a cell: its id and tier (the task itself is in the dataset file, checked by
    the dataset's digest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    tier: str


class WorkflowRecord(BaseModel):
    """A cell's workflow as it ran: identity, digests of its code, policy and dataset, the
    tasks drawn, and the value model in force."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    ref: WorkflowRef = Field(description="The suite's entry, as written.")
    source: str | None = Field(description="File or package the workflow was imported from.")
    code_sha256: str | None = Field(description="Digest of that source (None: not a file).")
    policy_sha256: str
    dataset: str = Field(description="Path of the task file.")
    dataset_sha256: str
    tasks: tuple[TaskRef, ...] = Field(description="The cell's tasks, in run order.")
    write_tools: tuple[str, ...] = Field(description="Tools that change state (billing).")
    value_model: ValueModel

    @property
    def task_ids(self) -> tuple[str, ...]:
        """The cell's task ids, in run order."""
        return tuple(t.id for t in self.tasks)

    @property
    def dataset_short_hash(self) -> str:
        """First 12 hex digits of the dataset digest."""
        return self.dataset_sha256[:12]


class AgentRecord(BaseModel):
    """A cell's agent as it ran."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    ref: AgentRef
    source: str | None
    code_sha256: str | None


class ModelRecord(BaseModel):
    """A cell's model: the suite entry and the provider it resolved to (URL credentials
    masked; the key itself is never recorded, only the name of its variable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: ModelSpec
    provider: Provider
    local: LocalModel | None = Field(
        default=None,
        description="The GGUF file roibench served (path, sha256, server options), for a "
        "llamacpp model whose server it started.",
    )

    @property
    def name(self) -> str:
        """Model label in the suite."""
        return self.spec.name

    @property
    def model_id(self) -> str:
        """Model id sent to the API."""
        return self.spec.model_id


class CellSpec(BaseModel):
    """One workflow x agent x model cell, resolved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(description="'workflow/agent/model', the child run's name.")
    workflow: WorkflowRecord
    agent: AgentRecord
    model: ModelRecord
    prices: tuple[RolePrice, ...] = Field(description="Price source of every call role.")
    user_model: ModelRecord | None = Field(default=None, description="User simulator, if any.")

    def price_for(self, role: CallRole | str) -> PriceSource | None:
        """The price source of a call role (planner/verifier calls use the agent's model)."""
        role = CallRole(role)
        for entry in self.prices:
            if entry.role == role:
                return entry.price
        return self.price_for(CallRole.AGENT) if role is not CallRole.AGENT else None

    @property
    def price(self) -> PriceSource | None:
        """The agent model's price source."""
        return self.price_for(CallRole.AGENT)

    @property
    def simulated(self) -> bool:
        """True if the cell's model is the built-in simulator."""
        return self.model.provider.simulated


class SuiteRecord(BaseModel):
    """The suite as it was read, fully resolved (`resolve_suite_text`: the bases it extends
    merged, `--set` applied; secrets and URL credentials masked)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    file: str = Field(description="Absolute path when the run started.")
    sha256: str = Field(description="Digest of the suite text as read.")
    text: str


class Overrides(BaseModel):
    """Command-line values that replaced the suite's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trials: int | None = None
    limit: int | None = None
    concurrency: int | None = None
    seed: int | None = None
    trial_timeout_s: float | None = None


class RunOptionsRecord(BaseModel):
    """How the run was run (what shapes its figures besides the suite)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int
    overrides: Overrides = Field(default_factory=Overrides)
    faults: FaultSpec | None = Field(default=None, description="--faults for every sim model.")
    max_spend_usd: Decimal | None = None
    trace_sample: float | None = Field(default=None, description="None: the default sampling.")
    executor: Literal["local", "ray"] = "local"


class RunSpec(BaseModel):
    """A run, resolved: the journal's header."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[2] = SCHEMA_VERSION
    run_name: str
    started_at: datetime
    roibench_version: str
    git_commit: str | None = None
    suite: SuiteRecord
    seed: int
    trials: int
    outcome_pricing: OutcomePricing
    cells: tuple[CellSpec, ...]
    options: RunOptionsRecord
    upgraded_from: int | None = Field(
        default=None, description="Schema version of the journal this was read from."
    )

    @property
    def simulated(self) -> bool:
        """True if any cell's model is the built-in simulator."""
        return any(c.simulated for c in self.cells)

    @property
    def run_key(self) -> str:
        """A key unique to this journal's run: every MLflow run and trace logged for it is
        tagged with it, so logging the journal again replaces them instead of adding more."""
        return sha256_text(f"{self.run_name}|{self.started_at.isoformat()}|{self.suite.sha256}")[
            :16
        ]

    @property
    def total_trials(self) -> int:
        """Trials the run planned."""
        return sum(len(c.workflow.task_ids) for c in self.cells) * self.trials

    def cell(self, label: str) -> CellSpec:
        """The cell of that label (KeyError if none)."""
        for c in self.cells:
            if c.label == label:
                return c
        raise KeyError(label)

    def comparable_digest(self) -> str:
        """Digest of what a resume must find unchanged: every cell's code, policy, dataset and
        tasks, its models and prices, the outcome pricing, seed and trials."""
        keep = self.model_dump(
            mode="json", include={"cells", "seed", "trials", "outcome_pricing", "suite"}
        )
        keep["suite"] = keep["suite"]["sha256"]
        return sha256_text(repr(sorted(_flatten(keep))))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flatten(v, f"{prefix}.{k}")]
    if isinstance(value, list):
        return [kv for i, v in enumerate(value) for kv in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, repr(value))]


def source_digest(obj: object) -> tuple[str | None, str | None]:
    """(where `obj`'s class was defined, SHA-256 of that code): a package's every .py file
    when it is defined in a package's __init__, else its module file. (None, None) when the
    class has no file (defined in a REPL)."""
    import inspect

    try:
        file = inspect.getsourcefile(type(obj) if not isinstance(obj, type) else obj)
    except (TypeError, OSError):
        return None, None
    if file is None:
        return None, None
    path = Path(file).resolve()
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(path.parent).as_posix().encode())
        digest.update(f.read_bytes())
    return str(path.parent if path.name == "__init__.py" else path), digest.hexdigest()


def header_line(spec: RunSpec) -> dict[str, Any]:
    """The journal header of a RunSpec (what `Journal(header=...)` writes)."""
    return {
        "schema_version": spec.schema_version,
        "spec": spec.model_dump(mode="json", by_alias=True),
    }


def spec_from_header(
    header: dict[str, Any],
    journal: Path,
    upgrade_v1: Callable[[dict[str, Any], Path], RunSpec] | None = None,
) -> RunSpec:
    """The RunSpec of a journal header: validated; an older schema through its upgrade
    function; an unknown schema refused, naming the version and the file."""
    from pydantic import ValidationError

    from roibench.core.errors import InputError

    version = header.get("schema_version", 1)
    if version == SCHEMA_VERSION:
        try:
            return RunSpec.model_validate(header["spec"])
        except (ValidationError, KeyError) as exc:
            raise InputError(f"bad RunSpec header: {exc}", file=journal, line=1) from None
    if version == 1:
        if "suite_text" not in header:
            raise InputError(
                "not a roibench run header: no RunSpec and no recorded suite text",
                file=journal,
                line=1,
            )
        if upgrade_v1 is None:
            raise InputError("a version 1 journal needs an upgrade", file=journal, line=1)
        return upgrade_v1(header, journal)
    raise InputError(
        f"journal schema version {version!r} is unknown to roibench {_version()} (it reads "
        f"versions 1..{SCHEMA_VERSION}); upgrade roibench to read it",
        file=journal,
        line=1,
    )


def _version() -> str:
    from roibench import __version__

    return __version__
