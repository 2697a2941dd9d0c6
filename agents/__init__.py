"""Built-in agent architectures (installed as `roibench.agents`)."""
