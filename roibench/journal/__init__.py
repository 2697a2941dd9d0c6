"""The run log, the one seam: the RunSpec header and typed trial records, written append-only
and read back."""
