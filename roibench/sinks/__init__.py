"""Where results go: MLflow runs, tables, traces and plots."""
