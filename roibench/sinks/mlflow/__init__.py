"""The MLflow sink: runs, tables, artifacts and traces, rebuildable from the journal."""
