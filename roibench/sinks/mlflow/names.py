"""How runs are named in the MLflow UI.

A cell's label, `workflow/agent/model`, keys everything roibench records (journal, tags,
tables). As a run name it reads badly: the runs table cuts long names, and what tells a
suite's cells apart — the model, then the agent — comes last and is cut first. The run name
puts them first; the tag `roibench.cell` keeps the label.
"""

from __future__ import annotations

SEPARATOR = " · "


def cell_run_name(workflow: str, agent: str, model: str) -> str:
    """A cell's run name: model, agent, workflow ("sim/budget · react · refunds")."""
    return SEPARATOR.join((model, agent, workflow))


def cell_run_name_of_label(label: str) -> str:
    """The run name of a 'workflow/agent/model' label (the model may contain '/')."""
    parts = label.split("/", 2)
    if len(parts) != 3:
        return label
    workflow, agent, model = parts
    return cell_run_name(workflow, agent, model)
