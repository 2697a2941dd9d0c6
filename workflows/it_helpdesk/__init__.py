"""Workflow package (being built)."""
