"""`inferchip explore --target ... --beat ... --boundary-map FILE` with a malformed map (stop 38, newuser38).

Before: a file with the three keys but values of the wrong shape (``x_tb_per_s: "abc"``, ``parts: 7``, a grid of
strings, rows of the wrong length) ran the whole beat search, wrote ``beat.json`` (and for some,
``boundary_map.json``), then ended in ``internal error: ... TypeError: 'int' object is not iterable`` or
``IndexError`` (exit 3) with no ``beat.html``. Now the map's shape is checked before any work or file: one error
naming the option, the file, the field, the value and the shape allowed, and the output folder is not created.
"""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import app

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
GOOD = {"x_tb_per_s": [1.0, 2.0, 4.0], "y_cost_multiplier": [0.5, 1.0],
        "parts": {"per_chip": [[True, True], [False, True], [False, False]],
                  "equal_money (modelled)": [[True, False], [True, False], [True, True]]}, "range": {}}

BAD_AXIS = st.sampled_from(["abc", 7, None, [], [1.0, "2"], [0.0], [-1.0], [math.inf], [True], {"a": 1}])
BAD_GRID = st.sampled_from(["x", 7, None, [], [[True, True]], [[True], [True], [True]], [["yes", True]] * 3,
                            [[1, 0]] * 3, [[True, True], [True, True], [True, None]], [True, True, True]])


@st.composite
def bad_maps(draw: st.DrawFn) -> tuple[dict[str, object], str]:
    bmap = json.loads(json.dumps(GOOD))
    field = draw(st.sampled_from(["x_tb_per_s", "y_cost_multiplier", "parts", "parts.per_chip"]))
    if field == "parts.per_chip":
        bmap["parts"]["per_chip"] = draw(BAD_GRID)
    elif field == "parts":
        bmap["parts"] = draw(st.sampled_from(["x", 7, [], None]))
    else:
        bmap[field] = draw(BAD_AXIS)
    return bmap, field


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bad_maps(), wrapped=st.booleans())
def test_a_malformed_boundary_map_is_refused_before_any_work(tmp_path, case, wrapped):
    bmap, field = case
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"boundary_map": bmap} if wrapped else bmap))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4", "--models", MODEL,
                                   "--boundary-map", str(path), "--out", str(out)])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    msg = str(res.exception)
    assert msg.startswith(f"--boundary-map: {path}: {field} = ") and "; allowed: " in msg, msg
    assert not out.exists()  # no beat.json, no boundary_map.json, no folder


def test_a_well_formed_map_of_several_parts_and_views_is_accepted(tmp_path):
    """Control: the shape review/boundary.boundary_map writes (parts keyed per cost view too) passes."""
    from inferchip.interfaces.cmd_explore import _read_boundary_map

    path = tmp_path / "data.json"
    path.write_text(json.dumps({"boundary_map": GOOD}))
    assert _read_boundary_map(path) == GOOD
