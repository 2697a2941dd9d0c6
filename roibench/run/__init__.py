"""Running a suite: plan, plug-in resolution, the runner and executors, the orchestrator."""
