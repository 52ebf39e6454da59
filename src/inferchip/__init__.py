"""inferchip: model AI inference chips before silicon exists.

Predict latency, throughput, memory fit, energy and cost of LLM inference on any
accelerator, and check every prediction against published measurements.

The public API (what a script uses; everything else may move)::

    import inferchip as ic

    chip = ic.load_chip("nvidia-h100-sxm-80gb")          # ChipSpec (datasheet figures, SI units)
    model = ic.load_model("meta-llama/Llama-3.1-8B")      # ModelSpec (from its config.json)
    p = ic.predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", batch=8,
                   input_tokens=1024, output_tokens=256)  # Prediction: seconds, tokens/s, bytes, W
    s = ic.resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1)  # Setting, resolved once
    p = ic.predict_setting(s, ic.ask(1024, 256, batch=8))  # the same prediction on the resolved setting
    net = ic.load_network("resnet50-v1.5")                # a vision network (bundled id, YAML or ONNX file)
    f = ic.frame_cost("nvidia-l4", net, [1, 8])            # FrameCost: seconds, joules, W per call of 1, 8 frames
    rig = ic.drive("nvidia-jetson-agx-orin-64gb", cameras=8, fps=36, models=["yolov8n-640@camera"],
                   deadline_ms=30)  # dict: frame latency, misses, average_power_w, energy per camera frame and cycle
    run = ic.serve(s, rate_per_s=4.0, num_requests=200)    # serving simulation summary (dict)
    rows = ic.validate()                                   # list of CaseResult (shipped cases)
    df = ic.sweep(["nvidia-h100-sxm-80gb", "amd-mi300x"], "meta-llama/Llama-3.1-8B",
                  batch=range(1, 513), input_tokens=[512, 4096])  # DataFrame: one row per point, `fits` per row
    cost = ic.chip_cost("nvidia-h100-sxm-80gb")            # ChipCost: dies, yield, wafer, HBM, package vs price
    c = ic.curve(s, concurrencies=[1, 8, 64])              # CurveResult (.to_dataframe()): tokens/s per chip, user
    run = ic.serve(s, concurrency=16, slo_ttft_s=0.2, slo_tpot_s=0.02)  # run["slo"]: met at p99 (slo_percentile=99)?
    fleet = ic.find_count("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", rate_per_s=20.0,
                          slo_ttft_s=0.5, slo_tpot_s=0.03)  # the fewest chips meeting it: fleet["sizing"]["count"]
    result = ic.review(chips=["nvidia-h100-sxm-80gb"], models=["meta-llama/Llama-3.1-8B"])

Without ``weights=`` a model is priced in the format its checkpoint ships (its config's ``quantization_config``,
else its ``torch_dtype``: MXFP4 for gpt-oss, FP8 for DeepSeek-R1/V3); ``Prediction.weights_source``,
``Setting.weights_source`` and ``serve``'s ``weights_source`` say where the format came from. Activations and KV
then default to what the engines do with that checkpoint (KV in its model dtype, ``--kv-cache-dtype auto``;
``mapping.format_defaults.format_sources``), said in ``activations_source`` and ``kv_source``.

A chip is a catalogue id, a chip YAML's path (str or ``pathlib.Path``), a ``ChipSpec`` (``load_chip``'s, or
``load_chip(...).model_copy(update=...)``) or a ``ChipParams``; a model an id, a config.json's path, a ModelSpec or
the config's mapping (a dict, as ``json.load`` reads it). A bad argument raises an ``inferchip.errors`` exception
naming it (``InvalidSettingError``, ``UnknownIdError`` with the closest ids, ``SpecError`` naming file and field).

Names are imported on first use, so ``import inferchip`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API: dict[str, str] = {
    "load_chip": "inferchip.catalog.chips",
    "load_model": "inferchip.catalog.models",
    "predict": "inferchip.performance.predict",
    "predict_setting": "inferchip.performance.predict",
    "ask": "inferchip.performance.predict",
    "Prediction": "inferchip.performance.predict",
    "resolve_setting": "inferchip.performance.setting",
    "Setting": "inferchip.performance.setting",
    "Question": "inferchip.performance.operating",
    "LengthDist": "inferchip.performance.operating",
    "serve": "inferchip.performance.serving",
    "validate": "inferchip.validation.validate",
    "review": "inferchip.review.review",
    "frame_cost": "inferchip.performance.vision",
    "load_network": "inferchip.performance.vision",
    "drive": "inferchip.interfaces.api",
    "sweep": "inferchip.interfaces.api",
    "chip_cost": "inferchip.interfaces.api",
    "curve": "inferchip.interfaces.api",
    "find_count": "inferchip.interfaces.api",
    "ChipSpec": "inferchip.spec.chip",
    "ChipParams": "inferchip.spec.chip",
    "ModelSpec": "inferchip.spec.model",
}

__all__ = [
    "__version__", "load_chip", "load_model", "predict", "predict_setting", "ask", "Prediction",
    "resolve_setting", "Setting", "Question", "LengthDist", "serve", "validate", "review", "frame_cost", "load_network",
    "drive", "sweep", "chip_cost", "curve", "find_count", "ChipParams",
]
# ``ic.ChipSpec`` and ``ic.ModelSpec`` (the pydantic records load_chip and load_model return, for annotations and
# ``model_copy``) resolve too but stay out of ``__all__``: help(ic) would print pydantic's ~500 lines of BaseModel
# methods for each (help(ic) 34,000 -> 109,000 characters); help(ic.ChipSpec) has them.

if TYPE_CHECKING:  # pragma: no cover
    from inferchip.catalog.chips import load_chip
    from inferchip.catalog.models import load_model
    from inferchip.interfaces.api import chip_cost, curve, drive, find_count, sweep
    from inferchip.performance.operating import LengthDist, Question
    from inferchip.performance.predict import Prediction, ask, predict, predict_setting
    from inferchip.performance.serving import serve
    from inferchip.performance.setting import Setting, resolve_setting
    from inferchip.performance.vision import frame_cost, load_network
    from inferchip.review.review import review
    from inferchip.spec.chip import ChipParams
    from inferchip.spec.chip import ChipSpec as ChipSpec  # (re-exported though not in __all__)
    from inferchip.spec.model import ModelSpec as ModelSpec
    from inferchip.validation.validate import validate


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'inferchip' has no attribute {name!r}")
    # ``review`` is also the name of a package, which Python binds here when any of its modules is imported: the
    # package itself is the callable (inferchip/review/__init__.py), so the two are one object
    value = importlib.import_module("inferchip.review") if name == "review" else getattr(
        importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
