"""A serving engine as data (the catalogue is ``catalog/engines.yaml``, read by :mod:`inferchip.catalog.engines`),
by concept: the engine's record (:mod:`.record`: :class:`EngineSpec`, its host times, scheduler and kernel
efficiency), its launch recipes' entries per chip (:mod:`.recipes`) and a disaggregated deployment's workers
(:mod:`.workers`). The names every caller uses are exported here, so ``from inferchip.spec.engine import ...``
serves them.
"""

from inferchip.spec.engine.checkpoints import CheckpointAttention
from inferchip.spec.engine.recipes import (
    ChipRecipe,
    RecipeAllReduce,
    RecipeChunk,
    RecipeKernelEfficiency,
    RecipeMemory,
    RecipeMoeKernel,
    RecipeRequestPath,
    chip_entry_covers,
    first_on_chip,
)
from inferchip.spec.engine.record import KERNEL_CLASSES, DeviceBatchRule, EngineSpec, KernelEfficiency, SchedulerCaps
from inferchip.spec.engine.workers import (
    AttentionDpBalance,
    DecodeWorker,
    EagerSteps,
    FirstUseWait,
    RecipeBatch,
    RecvInterval,
    RunLength,
    WorkerRequestPath,
    WorkerScheduling,
    names_chip,
)

__all__ = [
    "KERNEL_CLASSES", "AttentionDpBalance", "CheckpointAttention", "ChipRecipe", "DecodeWorker", "DeviceBatchRule",
    "EagerSteps",
    "EngineSpec", "FirstUseWait", "KernelEfficiency", "RecipeAllReduce", "RecipeBatch", "RecipeChunk",
    "RecipeKernelEfficiency", "RecipeMemory", "RecipeMoeKernel", "RecipeRequestPath", "RecvInterval", "RunLength",
    "SchedulerCaps",
    "WorkerRequestPath", "WorkerScheduling", "chip_entry_covers", "first_on_chip", "names_chip",
]
