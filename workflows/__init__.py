"""Built-in vertical business workflows (installed as `roibench.workflows`)."""
