"""What a compiled step plan holds that depends on the sharded model only (:mod:`.shape`)."""
