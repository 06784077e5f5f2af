"""Fleet reference data, degradation physics, history and live-stream generators."""
