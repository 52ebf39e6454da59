"""L3: time, energy and money of one mapped step."""
