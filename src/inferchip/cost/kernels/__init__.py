"""Kernel equations the cost rules (:mod:`inferchip.cost.rules`) call, as pure functions of arrays."""
