"""Prices: price cards with provenance, genai-prices, FX, and the cost of one call."""
