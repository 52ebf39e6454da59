"""Performance questions: predict one setting, the serving adapter of the core model, batch phases."""
