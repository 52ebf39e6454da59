"""Design-space exploration: what a chip would need to be, evaluated over a workload suite at scale."""
