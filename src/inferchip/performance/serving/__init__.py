"""The core performance model seen by the serving simulator (:mod:`.step_model`: one replica's engine step, its energy
and a beam search's step) and a serving run's entry points (:mod:`.run`: the setting it simulates, its replicas, its
money and :func:`serve`)."""

from inferchip.performance.serving.run import (
    OLD_NAMES,
    check_system_names,
    format_fields,
    serve,
    serve_inputs,
    serving_economics,
    serving_model,
    serving_setting,
    serving_step,
)
from inferchip.performance.serving.step_model import (
    BeamStepModel,
    ServingStepModel,
)

__all__ = ["OLD_NAMES", "BeamStepModel", "ServingStepModel",
           "check_system_names", "format_fields", "serve", "serve_inputs", "serving_economics", "serving_model",
           "serving_setting", "serving_step"]
