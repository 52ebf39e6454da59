"""L0: what the hardware and the models are (frozen pydantic specs, validation only)."""
