"""The simulator's contract with the step-time model (L3): the :class:`~inferchip.sim.step.protocol.StepModel`
protocol and the memoised step times every replica asks."""
