"""A model mapped onto a system for one layout (:mod:`.model`: its sharded shapes, the memory one chip holds, its step
times) and the error that says by how much it does not fit and what would make it fit (:mod:`.does_not_fit`)."""

from inferchip.performance.mapped.does_not_fit import fit_error
from inferchip.performance.mapped.model import (
    DEFAULT_CHUNK_TOKENS,
    LOGIT_ROWS,
    SHARDED_KEPT,
    MappedModel,
    map_model,
    sharded,
)

__all__ = ["DEFAULT_CHUNK_TOKENS", "LOGIT_ROWS", "SHARDED_KEPT", "MappedModel", "fit_error", "map_model", "sharded"]
