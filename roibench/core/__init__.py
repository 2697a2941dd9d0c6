"""Value types every stage shares: usage, outcomes, call and trial records, faults, errors,
secrets."""
