"""The managed llamacpp models of a run: resolved (extra installed, GGUF found, hashed) before
it starts, checked again on resume; the server itself is roibench.model.local_server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roibench.config.suite import LoadedSuite, ModelSpec
from roibench.core.errors import InputError
from roibench.model.local_server import (
    EXTRA_HINT,
    PROVIDER,
    LlamaServerOptions,
    LocalModel,
    distribution_version,
    file_sha256,
    resolve_gguf,
    server_available,
    template_path,
)

if TYPE_CHECKING:
    from roibench.run.runner import RunPlan


def is_managed(model: ModelSpec) -> bool:
    """True for a llamacpp entry without base_url: roibench starts its server."""
    return model.provider == PROVIDER and model.base_url is None


def resolve_local_model(suite: LoadedSuite, index: int) -> LocalModel:
    """Resolve the suite's `index`-th model (a managed llamacpp entry): the extra is installed,
    the GGUF and chat template exist; hash them. Errors name the suite file, line and field."""
    from roibench.config.suite import locate_line

    spec = suite.config.models[index]
    base_dir = suite.path.parent.resolve()

    def fail(message: str, key: str) -> InputError:
        return InputError(
            message,
            file=suite.path,
            line=locate_line(suite.text, ("models", index, key)),
            field=f"models.{index}.{key}",
        )

    if not server_available():
        raise fail(
            f"provider {PROVIDER!r} runs llama.cpp's server from the xllamacpp package, which "
            f"is not installed: {EXTRA_HINT}",
            "provider",
        )
    if spec.model is None:
        raise fail("a GGUF path or the package that ships one is required", "model")
    options = spec.server or LlamaServerOptions()
    try:
        path, package = resolve_gguf(spec.model, base_dir)
    except ValueError as exc:
        raise fail(str(exc), "model") from None
    try:
        template = template_path(options, base_dir)
    except ValueError as exc:
        raise fail(str(exc), "server") from None
    return LocalModel(
        path=str(path),
        sha256=file_sha256(path),
        size_bytes=path.stat().st_size,
        package=package,
        package_version=distribution_version(package) if package else None,
        server=options,
        chat_template_path=str(template) if template else None,
        chat_template_sha256=file_sha256(template) if template else None,
        server_version=distribution_version("xllamacpp"),
    )


def prepare_local_models(plan: RunPlan) -> dict[str, LocalModel]:
    """Resolve every managed llamacpp model of the plan (once) into `plan.local_models`."""
    cfg = plan.suite.config
    used = {c.model.name for c in plan.cells} | {
        c.user_model.name for c in plan.cells if c.user_model is not None
    }
    for i, spec in enumerate(cfg.models):
        if is_managed(spec) and spec.name in used and spec.name not in plan.local_models:
            plan.local_models[spec.name] = resolve_local_model(plan.suite, i)
    return plan.local_models


def check_local_models(plan: RunPlan, *, ray: bool = False) -> None:
    """Before a run: resolve the plan's managed llamacpp models; on resume (models recorded
    in the journal) the files must be the ones the run started with. InputError otherwise."""
    recorded = dict(plan.local_models)
    plan.local_models.clear()
    prepare_local_models(plan)
    for name, before in recorded.items():
        now = plan.local_models.get(name)
        if now is not None and now.sha256 != before.sha256:
            raise InputError(
                f"model {name!r}: {now.path} is not the file the run started with "
                f"(sha256 {now.sha256[:12]} now, {before.sha256[:12]} then)"
            )
    if ray and plan.local_models:
        names = ", ".join(sorted(plan.local_models))
        raise InputError(
            f"--executor ray would start one llama.cpp server per worker for {names}: start "
            "one server yourself (python -m roibench.model.local_server --model FILE --port N) and "
            "set base_url on the model entry",
            field="--executor",
        )
