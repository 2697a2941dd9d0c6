"""From trials to figures: running tallies, statistics, economics and the per-cell summary."""
