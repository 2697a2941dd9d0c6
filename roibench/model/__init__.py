"""Talking to models: provider presets, the OpenAI-wire client, usage dialects, the error
taxonomy, the response cache."""
