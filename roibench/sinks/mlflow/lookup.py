"""Finding what earlier runs logged: the tracking store itself, suite runs (newest first), and
a run's journal artifact — for `roibench runs`, `show RUN_ID`, `report latest`, `compare`.

Reading commands never create a store: MLflow would make a new, empty one where none is
(`./mlflow.db`), and the command would then report "no runs" instead of the real problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from roibench.core.errors import InputError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

LATEST = "latest"
"""The run reference meaning the newest suite run in the tracking store."""

JOURNAL_ARTIFACT_DIR = "journal"
"""Where a suite run's journal is logged (sinks.mlflow.runs.log_suite_run)."""

STORE_HINT = (
    "set MLFLOW_TRACKING_URI to the store `roibench run` logged to (e.g. sqlite:///mlflow.db, "
    "or http://127.0.0.1:5000 for `mlflow server`), or run this from the folder that holds it"
)


def _local_store_path(uri: str) -> Path | None:
    """The file or folder a local store URI points at; None for remote stores."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" not in uri and uri not in ("databricks",) and not uri.startswith("databricks"):
        return Path(uri)
    return None


def tracking_store_problem(uri: str, timeout_s: float = 3.0) -> str | None:
    """None if the store at `uri` exists (a local file or folder) or answers (a server); else
    why not, in one line that says what to do."""
    local = _local_store_path(uri)
    if local is not None:
        if not local.exists():
            return f"no MLflow tracking store at {local} ({uri}); {STORE_HINT}"
        return None
    if uri.startswith(("http://", "https://")):
        import httpx

        try:
            httpx.get(uri.rstrip("/") + "/health", timeout=timeout_s)
        except httpx.HTTPError as exc:
            return f"the MLflow tracking server {uri} does not answer ({type(exc).__name__})"
    return None


def require_tracking_store() -> str:
    """The tracking URI in use, once it is known to hold a store; else InputError."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    problem = tracking_store_problem(uri)
    if problem is not None:
        raise InputError(problem)
    return uri


class RunKind(StrEnum):
    """What made a suite-level run."""

    RUN = "run"
    """`roibench run` or `roibench log`."""
    REGRADE = "regrade"
    """`roibench regrade`: a run's trials graded again."""
    REPRICE = "reprice"
    """`roibench reprice`: a run's calls priced again."""


@dataclass(frozen=True)
class SuiteRunInfo:
    """One suite-level run, as `roibench runs` lists it."""

    run_id: str
    name: str
    experiment: str
    suite: str
    started: datetime
    ended: datetime | None
    cells: int
    trials: str
    """Trials per task (k), as logged."""
    simulated: bool
    kind: RunKind
    status: str
    origin: str = ""
    """The run or journal a regrade or reprice was made from."""


def _kind(tags: dict[str, str]) -> RunKind:
    if "roibench.regraded_from" in tags:
        return RunKind.REGRADE
    if tags.get("roibench.reprice") == "true":
        return RunKind.REPRICE
    return RunKind.RUN


def _when(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def suite_runs(
    client: MlflowClient, experiments: list[str] | None = None, max_results: int = 1000
) -> list[SuiteRunInfo]:
    """Suite-level (parent) roibench runs, newest first, of the named experiments (default:
    all). Unknown experiment names raise InputError."""
    names: dict[str, str] = {}
    if experiments:
        for name in experiments:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise InputError(f"no experiment named {name!r}", field="--experiment")
            names[exp.experiment_id] = exp.name
    else:
        names = {e.experiment_id: e.name for e in client.search_experiments()}
    if not names:
        return []
    found = client.search_runs(
        list(names),
        filter_string="tags.`roibench.suite` != ''",
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
    )
    out: list[SuiteRunInfo] = []
    for r in found:
        tags = r.data.tags
        if "mlflow.parentRunId" in tags:
            continue
        params = r.data.params
        cells = params.get("cells")
        started = _when(r.info.start_time) or datetime.fromtimestamp(0, UTC)
        kind = _kind(tags)
        out.append(
            SuiteRunInfo(
                run_id=r.info.run_id,
                name=r.info.run_name or r.info.run_id,
                experiment=names.get(r.info.experiment_id, r.info.experiment_id),
                suite=tags.get("roibench.suite", ""),
                started=started,
                ended=_when(r.info.end_time),
                cells=int(cells) if cells and cells.isdigit() else _child_count(client, r),
                trials=params.get("trials", ""),
                simulated=tags.get("roibench.simulated") == "true",
                kind=kind,
                status=r.info.status,
                origin=tags.get("roibench.regraded_from", "")
                or tags.get("roibench.repriced_from", "")
                or tags.get("roibench.reprice_of", ""),
            )
        )
    out.sort(key=lambda i: i.started, reverse=True)
    return out


def _child_count(client: MlflowClient, run: Run) -> int:
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    return len(children)


def latest_suite_run(client: MlflowClient, kinds: tuple[RunKind, ...] = (RunKind.RUN,)) -> str:
    """The run id of the newest suite run of one of `kinds`; InputError when there is none."""
    for info in suite_runs(client):
        if info.kind in kinds:
            return info.run_id
    raise InputError(f"the tracking store {client.tracking_uri} holds no roibench suite run")


def suite_run_id(client: MlflowClient, ref: str) -> str:
    """The suite (parent) run id of `ref`: 'latest', a suite run id, or a cell run id."""
    from mlflow.exceptions import MlflowException

    if ref == LATEST:
        return latest_suite_run(client, (RunKind.RUN, RunKind.REGRADE))
    try:
        run = client.get_run(ref)
    except MlflowException:
        raise InputError(f"no run with id {ref!r} in {client.tracking_uri}") from None
    parent = run.data.tags.get("mlflow.parentRunId")
    if parent and "roibench.cell" in run.data.tags:
        return parent
    if "roibench.suite" not in run.data.tags:
        raise InputError(f"run {ref} is not a roibench run")
    return run.info.run_id


def download_journal(client: MlflowClient, run_id: str, dest: Path) -> Path:
    """Download the journal artifact of a suite run into `dest`; its local path."""
    files = [
        a.path
        for a in client.list_artifacts(run_id, JOURNAL_ARTIFACT_DIR)
        if not a.is_dir and a.path.endswith(".jsonl")
    ]
    if not files:
        raise InputError(
            f"run {run_id} has no journal artifact (under '{JOURNAL_ARTIFACT_DIR}/'); "
            "pass the journal file instead"
        )
    return Path(client.download_artifacts(run_id, files[0], str(dest)))


def resolve_journal(ref: str, dest: Path) -> tuple[Path, str | None]:
    """(journal file, suite run id or None) for a journal path, a run id or 'latest'. A run's
    journal is downloaded into `dest`. The tracking store is only opened for a run id."""
    path = Path(ref)
    if path.is_file():
        return path, None
    looks_like_run = ref == LATEST or (len(ref) >= 16 and ref.isalnum())
    if not looks_like_run:
        raise InputError("journal not found (nor is it a run id or 'latest')", file=path)
    from mlflow.tracking import MlflowClient

    require_tracking_store()
    client = MlflowClient()
    run_id = suite_run_id(client, ref)
    return download_journal(client, run_id, dest), run_id
