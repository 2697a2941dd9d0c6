"""Reading and validating what the user wrote: suite files, datasets, value models and
outcome pricing."""
