"""L5: predict, compare, review, explore and validate."""
