"""Area, power and cost of chip designs that do not exist yet (design-space exploration)."""
