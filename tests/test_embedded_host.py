"""An embedded SoC's wall power adds its carrier board, not a datacenter server's host (newuser43b, stop 43).

On main every chip's wall power added ``host.host_idle_w`` (750 W, two server CPUs and 1-2 TB of DRAM) shared by at
least 8 accelerators plus 75 W per accelerator: a 75 W Jetson AGX Thor drew 274 W at the wall. A chip YAML's
``system: embedded_soc`` now picks ``host.embedded_soc`` (catalog/assumptions.yaml): the module's power already holds
its CPU cores and DRAM, so the wall is (module + carrier_w) x (1 + fan) / psu, per module."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import all_chips, load_chip
from inferchip.cost.energy import host_system, wall_power_w
from inferchip.interfaces.cli import app

EDGE = ("nvidia-jetson-agx-orin-64gb", "nvidia-jetson-agx-thor-t5000", "nvidia-jetson-orin-nano-8gb",
        "nvidia-jetson-orin-nx-16gb", "nvidia-drive-agx-thor", "tesla-ai4-hw4", "tesla-fsd-hw3")


def test_the_bundled_embedded_host_by_hand() -> None:
    a = load_assumptions()
    h = host_system("embedded_soc", a)
    assert (h.idle_w, h.per_accelerator_w, h.fan_power_fraction, h.psu_efficiency, h.min_accelerators) == (
        0.0, 5.0, 0.0, 0.88, 1)
    assert wall_power_w(75.0, 1, a, system="embedded_soc") == pytest.approx((75.0 + 5.0) / 0.88)
    # four modules are four carriers (each module sits on its own), not one carrier shared by four
    assert wall_power_w(4 * 75.0, 4, a, system="embedded_soc") == pytest.approx((300.0 + 4 * 5.0) / 0.88)
    # the server's host is unchanged: (8 x 700 + 750 + 8 x 75) x 1.08 / 0.96
    assert wall_power_w(8 * 700.0, 8, a) == pytest.approx((5600.0 + 750.0 + 600.0) * 1.08 / 0.96)
    assert wall_power_w(8 * 700.0, 8, a, system="server") == wall_power_w(8 * 700.0, 8, a)


def test_the_catalogues_modules_are_embedded_and_the_rest_servers() -> None:
    systems = {c.id: c.system for c in all_chips()}
    assert all(systems[c] == "embedded_soc" for c in EDGE), {c: systems[c] for c in EDGE}
    assert {c for c, s in systems.items() if s == "embedded_soc"} == set(EDGE)
    for c in ("nvidia-h100-sxm-80gb", "nvidia-l4", "nvidia-rtx-2000e-ada-16gb", "tesla-ai5"):  # cards, boards
        assert systems[c] == "server"


def test_an_unknown_system_is_refused_naming_the_allowed() -> None:
    raw = load_chip("nvidia-l4").model_dump()
    with pytest.raises(ValidationError, match="server.*embedded_soc"):
        type(load_chip("nvidia-l4")).model_validate({**raw, "system": "laptop"})


def test_predict_wall_power_of_a_jetson_is_its_module_and_carrier() -> None:
    res = CliRunner().invoke(app, ["predict", "--chip", "nvidia-jetson-agx-thor-t5000", "--model",
                                   "meta-llama/Llama-3.2-1B", "--batch", "1", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["wall_power_w_per_chip"] == pytest.approx((d["power_w_per_chip"] + 5.0) / 0.88)  # main: ~274 W
    assert d["wall_power_w_per_chip"] < 1.25 * d["power_w_per_chip"]


def test_serve_wall_power_of_a_jetson_is_its_module_and_carrier() -> None:
    res = CliRunner().invoke(app, ["serve", "--chip", "nvidia-jetson-agx-thor-t5000", "--model",
                                   "meta-llama/Llama-3.2-1B", "--rate", "1", "--requests", "10", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["wall_power_w_per_chip"] == pytest.approx((d["power_w_per_chip"] + 5.0) / 0.88)
