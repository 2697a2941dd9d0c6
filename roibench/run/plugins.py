"""Finding workflows and agents: by built-in name, in the project folder, by
`package.module:attr`, by `path/to/file.py:attr`, or through entry points."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import types
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from roibench.core.errors import InputError
from roibench.workflow import Env, Workflow

BUILTIN_WORKFLOWS = {
    "refunds": "roibench.workflows.refunds:RefundsWorkflow",
    "accounts_payable": "roibench.workflows.accounts_payable:AccountsPayableWorkflow",
    "claims": "roibench.workflows.claims:ClaimsWorkflow",
    "kyc_aml": "roibench.workflows.kyc_aml:KycAmlWorkflow",
    "it_helpdesk": "roibench.workflows.it_helpdesk:ItHelpdeskWorkflow",
    "tau_retail": "roibench.workflows.tau_retail:TauRetailWorkflow",
    "workbench": "roibench.workflows.workbench:WorkBenchWorkflow",
}
BUILTIN_AGENTS = {
    "react": "roibench.agents.react:ReactAgent",
    "plan_execute": "roibench.agents.plan_execute:PlanExecuteAgent",
    "self_check": "roibench.agents.self_check:SelfCheckAgent",
}


def _kind(obj: Any) -> str:
    """How an object reads in an error message: 'a function foo', 'the class Bar', 'an int'."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    name = getattr(obj, "__name__", None)
    kind = type(obj).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{article} {kind} {name}" if isinstance(name, str) else f"{article} {kind}"


def _public_names(module: Any) -> str:
    """The module's own public names (not what it imported)."""
    names = [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not isinstance(v, types.ModuleType)
        and getattr(v, "__module__", module.__name__) == module.__name__
    ]
    shown = ", ".join(sorted(names)[:12]) + (", ..." if len(names) > 12 else "")
    return shown or "no public names"


def _load_file(path: Path, attr: str, ref: str) -> Any:
    if not path.is_file():
        raise InputError(f"{ref!r}: plug-in file not found: {path}", field=ref)
    module_name = "roibench_plugin_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"{ref!r}: cannot import {path} (not a Python file?)", field=ref)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise InputError(
                f"{ref!r}: importing {path} failed: {type(exc).__name__}: {exc}", field=ref
            ) from None
    if not hasattr(module, attr):
        raise InputError(
            f"{ref!r}: {path} has no attribute {attr!r} (found: {_public_names(module)})",
            field=ref,
        )
    return getattr(module, attr)


def _import(module_name: str, base_dirs: list[Path]) -> Any:
    """Import a module; if its top-level package is not importable, look in the project
    folders too (appended to sys.path, so they never shadow installed packages)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0]:
            raise
    added = [str(d) for d in base_dirs if str(d) not in sys.path]
    if not added:
        return importlib.import_module(module_name)
    sys.path.extend(added)
    importlib.invalidate_caches()
    return importlib.import_module(module_name)


def _load_module_attr(module_name: str, attr: str, ref: str, base_dirs: list[Path]) -> Any:
    try:
        module = _import(module_name, base_dirs)
    except ImportError as exc:
        raise InputError(
            f"{ref!r}: cannot import module {module_name!r}: {exc}", field=ref
        ) from None
    except Exception as exc:
        raise InputError(
            f"{ref!r}: importing module {module_name!r} failed: {type(exc).__name__}: {exc}",
            field=ref,
        ) from None
    if not hasattr(module, attr):
        raise InputError(
            f"{ref!r}: module {module_name!r} has no attribute {attr!r} "
            f"(found: {_public_names(module)})",
            field=ref,
        )
    return getattr(module, attr)


def load_reference(ref: str, group: str, builtins: dict[str, str], base_dirs: list[Path]) -> Any:
    """The object `ref` names (see module docstring). `base_dirs` are searched for files."""
    if ref in builtins:
        module_name, attr = builtins[ref].split(":")
        return _load_module_attr(module_name, attr, ref, base_dirs)
    if ":" in ref:
        target, attr = ref.rsplit(":", 1)
        if not target or not attr:
            raise InputError(
                f"{ref!r}: expected 'package.module:attr' or 'path/file.py:attr'", field=ref
            )
        if target.endswith(".py") or "/" in target or "\\" in target:
            path = Path(target).expanduser()
            candidates = [path] if path.is_absolute() else [d / path for d in base_dirs]
            candidates = list(dict.fromkeys(candidates))
            for candidate in candidates:
                if candidate.is_file():
                    return _load_file(candidate, attr, ref)
            looked = ", ".join(str(c) for c in candidates)
            raise InputError(f"{ref!r}: plug-in file not found (looked for {looked})", field=ref)
        return _load_module_attr(target, attr, ref, base_dirs)
    for ep in entry_points(group=group):
        if ep.name == ref:
            try:
                return ep.load()
            except Exception as exc:
                raise InputError(
                    f"{ref!r}: entry point {ep.value!r} in group {group} failed to load: "
                    f"{type(exc).__name__}: {exc}",
                    field=ref,
                ) from None
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


def _instantiate(obj: type, ref: str) -> Any:
    try:
        return obj()
    except Exception as exc:
        raise InputError(
            f"{ref!r}: creating {obj.__name__}() failed: {type(exc).__name__}: {exc}", field=ref
        ) from None


def resolve_workflow(ref: str, base_dirs: list[Path]) -> Workflow:
    """A workflow instance from a reference."""
    obj = load_reference(ref, "roibench.workflows", BUILTIN_WORKFLOWS, base_dirs)
    if isinstance(obj, type) and issubclass(obj, Workflow):
        obj = _instantiate(obj, ref)
    if not isinstance(obj, Workflow):
        raise InputError(f"{ref!r} is {_kind(obj)}, not a roibench Workflow", field=ref)
    missing = [a for a in ("name", "policy", "env", "value_model") if not hasattr(obj, a)]
    if missing:
        raise InputError(
            f"{ref!r}: workflow {type(obj).__name__} does not set {', '.join(missing)}", field=ref
        )
    if not (isinstance(obj.env, type) and issubclass(obj.env, Env)):
        raise InputError(
            f"{ref!r}: {type(obj).__name__}.env is {_kind(obj.env)}, not an Env subclass",
            field=ref,
        )
    return obj


def resolve_agent(ref: str, base_dirs: list[Path]) -> Any:
    """An agent instance (an object with `name` and `build()`) from a reference."""
    obj = load_reference(ref, "roibench.agents", BUILTIN_AGENTS, base_dirs)
    if isinstance(obj, type) and callable(getattr(obj, "build", None)):
        obj = _instantiate(obj, ref)
    if not callable(getattr(obj, "build", None)) or not isinstance(getattr(obj, "name", None), str):
        raise InputError(
            f"{ref!r} is {_kind(obj)}, not an agent (needs a `name` string and `build()`)",
            field=ref,
        )
    return obj
