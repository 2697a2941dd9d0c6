"""Finding workflows and agents: by built-in name, in the project folder, by
`package.module:attr`, by `path/to/file.py:attr`, or through entry points."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from roibench.errors import InputError
from roibench.workflow import Workflow

BUILTIN_WORKFLOWS = {
    "refunds": "roibench.workflows.refunds:RefundsWorkflow",
}
BUILTIN_AGENTS = {
    "react": "roibench.agents.react:ReactAgent",
}


def _load_file(path: Path, attr: str, ref: str) -> Any:
    if not path.is_file():
        raise InputError(f"plug-in file not found: {path}", field=ref)
    module_name = f"roibench_plugin_{abs(hash(str(path.resolve())))}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"cannot import {path}", field=ref)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise InputError(f"importing {path} failed: {type(exc).__name__}: {exc}", field=ref) from None
    if not hasattr(module, attr):
        raise InputError(f"{path} has no attribute {attr!r}", field=ref)
    return getattr(module, attr)


def _load_module_attr(module_name: str, attr: str, ref: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import module {module_name!r}: {exc}", field=ref) from None
    if not hasattr(module, attr):
        raise InputError(f"module {module_name!r} has no attribute {attr!r}", field=ref)
    return getattr(module, attr)


def load_reference(ref: str, group: str, builtins: dict[str, str], base_dirs: list[Path]) -> Any:
    """The object `ref` names (see module docstring). `base_dirs` are searched for files."""
    if ref in builtins:
        module_name, attr = builtins[ref].split(":")
        return _load_module_attr(module_name, attr, ref)
    if ":" in ref:
        target, attr = ref.rsplit(":", 1)
        if target.endswith(".py") or "/" in target or "\\" in target:
            candidates = [Path(target)] if Path(target).is_absolute() else [d / target for d in base_dirs]
            for path in candidates:
                if path.is_file():
                    return _load_file(path, attr, ref)
            raise InputError(f"plug-in file not found: {target} (looked in {', '.join(map(str, base_dirs))})", field=ref)
        return _load_module_attr(target, attr, ref)
    for ep in entry_points(group=group):
        if ep.name == ref:
            try:
                return ep.load()
            except Exception as exc:
                raise InputError(f"entry point {group}:{ref} failed to load: {exc}", field=ref) from None
    folder = group.split(".")[-1]
    for base in base_dirs:
        for path in (base / folder / f"{ref}.py", base / folder / ref / "__init__.py"):
            if path.is_file():
                attr = "WORKFLOW" if folder == "workflows" else "AGENT"
                return _load_file(path, attr, ref)
    known = ", ".join(sorted(builtins))
    raise InputError(
        f"unknown {folder[:-1]} {ref!r}: not built in ({known}), not an entry point in {group}, "
        f"and no {folder}/{ref}.py in the project",
        field=ref,
    )


def resolve_workflow(ref: str, base_dirs: list[Path]) -> Workflow:
    """A workflow instance from a reference."""
    obj = load_reference(ref, "roibench.workflows", BUILTIN_WORKFLOWS, base_dirs)
    if isinstance(obj, type) and issubclass(obj, Workflow):
        obj = obj()
    if not isinstance(obj, Workflow):
        raise InputError(f"{ref!r} is a {type(obj).__name__}, not a roibench Workflow", field=ref)
    return obj


def resolve_agent(ref: str, base_dirs: list[Path]) -> Any:
    """An agent instance (an object with `name` and `build()`) from a reference."""
    obj = load_reference(ref, "roibench.agents", BUILTIN_AGENTS, base_dirs)
    if isinstance(obj, type):
        obj = obj()
    if not callable(getattr(obj, "build", None)) or not isinstance(getattr(obj, "name", None), str):
        raise InputError(f"{ref!r} is a {type(obj).__name__}, not an agent (needs name and build())", field=ref)
    return obj
