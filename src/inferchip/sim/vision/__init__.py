"""Queues of vision work with deterministic service times per batch: MLPerf loads and camera rigs.

:mod:`~inferchip.sim.vision.queue` holds the two queue engines (a vectorised FIFO and a dynamic
batcher); :mod:`~inferchip.sim.vision.rig` simulates frames from a camera rig through them, and
:mod:`~inferchip.sim.vision.rig_energy` prices a rig's cycle (a frame of every camera) per network and per rig.
"""
