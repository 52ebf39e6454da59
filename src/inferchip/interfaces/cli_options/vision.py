"""Command-line options of the vision commands: ``--dim NAME=VALUE`` for an ONNX graph's dynamic axes,
and the vision ``--model`` (a bundled network id, a network YAML or an ``.onnx`` file)."""

from __future__ import annotations

from typing import Any

import typer

from inferchip.errors import InvalidSettingError

# --weights of vision and drive: the format of the weights, the activations follow it (as predict's --activations
# does). Its default is int8, not the LLM commands' bf16: the vision networks are recorded int8 (an imported ONNX
# graph too, workload/vision/onnx_import.py), and another default would change every vision answer given so far.
VISION_WEIGHTS = "int8"
WEIGHTS_HELP = "Number format of the weights; the activations follow it."
DIM_MAX = 10**7  # no real axis (batch, sequence, pixels per side) comes near ten million


def parse_dims(values: list[str] | None) -> dict[str, int]:
    """``["N=1", "H=800"]`` -> ``{"N": 1, "H": 800}``; a malformed, repeated or non-positive entry -> error."""
    out: dict[str, int] = {}
    for raw in values or []:
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidSettingError(f"--dim '{raw}': expected NAME=VALUE, e.g. --dim batch=1")
        try:
            size = int(value.strip())
        except ValueError:
            raise InvalidSettingError(f"--dim '{raw}': the size must be a whole number, got '{value}'") from None
        if not 1 <= size <= DIM_MAX:
            raise InvalidSettingError(f"--dim '{raw}': the size must be between 1 and {DIM_MAX:,}")
        if name in out:
            raise InvalidSettingError(f"--dim {name}: given twice")
        out[name] = size
    return out


def dim_option() -> Any:
    return typer.Option(None, "--dim", help="Size of an ONNX graph's dynamic axis, NAME=VALUE (repeatable).")


def vision_model_option() -> Any:
    return typer.Option(..., "--model", help="Vision network id from `inferchip models`, a network YAML, or a "
                        "FILE.onnx (its dynamic axes sized with --dim).")


def load_vision_model(model: str, dims: list[str] | None) -> Any:
    """The network ``--model`` names, ONNX dynamic axes from ``--dim``."""
    from inferchip.workload.vision.network import load_network

    return load_network(model, **parse_dims(dims))
