"""Bad arguments to the public Python API (``ic.predict``, ``ic.ask``, ``ic.resolve_setting``) are one
InvalidSettingError naming the argument, the value and what is allowed, on the first call and on a repeated
one (``predict`` keeps recent settings and skips the checks of a plain question): never a raw ValueError,
OverflowError or TypeError from deep inside, nor a NaN limit read as "no batch meets the latency limits"."""

from __future__ import annotations

import math

import pytest

import inferchip as ic
from inferchip.errors import InvalidSettingError

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"
NAN, INF = math.nan, math.inf

BAD_PREDICT = [
    ({"input_tokens": NAN}, "input_tokens=", "nan"),
    ({"input_tokens": INF}, "input_tokens=", "inf"),
    ({"output_tokens": -INF}, "output_tokens=", "-inf"),
    ({"input_tokens": "1024"}, "input_tokens=", "'1024'"),
    ({"batch": NAN}, "batch=", "nan"),
    ({"batch": INF}, "batch=", "inf"),
    ({"count": NAN}, "count=", "nan"),
    ({"count": 2, "tp": INF}, "tp=", "inf"),
    ({"max_ttft_s": NAN}, "max_ttft_s (seconds)", "nan"),
    ({"max_tpot_s": INF}, "max_tpot_s (seconds)", "inf"),
    ({"max_tpot_s": "0.05"}, "max_tpot_s (seconds)", "'0.05'"),
    ({"max_ttft_s": -0.5}, "max_ttft_s (seconds)", "-0.5"),
]


@pytest.mark.parametrize(("kwargs", "name", "shown"), BAD_PREDICT)
def test_a_bad_number_to_predict_is_named_on_every_call(kwargs, name, shown):
    ic.predict(CHIP, MODEL, batch=1)  # the setting is now among predict's recent ones (the repeated-call path)
    for _ in range(2):
        with pytest.raises(InvalidSettingError) as err:
            ic.predict(CHIP, MODEL, **kwargs)
        text = str(err.value)
        assert name in text and shown in text and "allowed: a finite number above 0" in text


@pytest.mark.parametrize("args", [(NAN, 128), (1024, INF), (1024, "128"), (1024, 128, NAN), (1024, 128, None, NAN),
                                  (1024, 128, None, None, INF), (1024, 128, None, -1.0),
                                  (1024, 128, True)])
def test_ask_refuses_a_number_that_is_not_finite_and_positive(args):
    with pytest.raises(InvalidSettingError, match="allowed: a finite number above 0"):
        ic.ask(*args)


def test_a_latency_limit_is_named_in_seconds_as_the_api_takes_it():
    """``max_ttft_s``/``max_tpot_s`` are seconds: a bad one is not reported as the CLI's millisecond option
    (review36: "--max-ttft-ms must be positive, got -0.5" for a limit given in seconds)."""
    for call in (lambda: ic.predict(CHIP, MODEL, max_ttft_s=-0.5), lambda: ic.ask(1024, 128, None, None, 0.0)):
        with pytest.raises(InvalidSettingError) as err:
            call()
        assert "(seconds)" in str(err.value) and "-ms" not in str(err.value)


@pytest.mark.parametrize(("kwargs", "name"), [({"count": INF}, "count="), ({"count": 2, "tp": NAN}, "tp="),
                                              ({"count": 2, "pp": "2"}, "pp=")])
def test_resolve_setting_names_a_bad_size(kwargs, name):
    with pytest.raises(InvalidSettingError, match=name):
        ic.resolve_setting(CHIP, MODEL, **kwargs)


def test_good_numbers_still_answer():
    """Whole numbers, floats and numpy scalars are numbers; the answers do not change with the check."""
    import numpy as np

    a = ic.predict(CHIP, MODEL, batch=4, input_tokens=512, output_tokens=64)
    b = ic.predict(CHIP, MODEL, batch=np.int64(4), input_tokens=np.float64(512.0), output_tokens=64)
    assert a.tpot_s == pytest.approx(b.tpot_s, rel=1e-12) and a.ttft_s == pytest.approx(b.ttft_s, rel=1e-12)
    assert ic.predict(CHIP, MODEL, max_tpot_s=0.05).tpot_s <= 0.05


@pytest.mark.parametrize(("inp", "out"), [(200_000, 10), (131_072, 1), (1, 131_072)])
def test_predict_refuses_a_request_beyond_the_context_window_as_the_cli_does(inp, out):
    """Stop 36: ``inferchip predict`` refused 200,000 + 10 tokens on Llama-3.1-8B (131,072), ``ic.predict`` answered."""
    for _ in range(2):  # the first call and the repeated one (the setting kept)
        with pytest.raises(InvalidSettingError, match=f"= {inp + out:,} is beyond the context window.*131,072"):
            ic.predict(CHIP, MODEL, count=8, tp=8, batch=1, input_tokens=inp, output_tokens=out)
    assert ic.predict(CHIP, MODEL, count=8, tp=8, batch=1, input_tokens=131_000, output_tokens=72).ttft_s > 0


@pytest.mark.parametrize(("kwargs", "name", "shown"), [
    ({"count": 2.5}, "count=", "2.5"), ({"count": 1e30}, "count=", "1e+30"), ({"count": None}, "count=", "None"),
    ({"count": 2.0}, "count=", "2.0"), ({"count": 2, "pp": 1.5}, "pp=", "1.5")])
def test_a_chip_count_that_is_not_a_whole_number_is_named(kwargs, name, shown):
    """Stop 39 (newuser39): ``count=2.5``, ``1e30`` or ``None`` ended in ``TypeError: 'float' object cannot be
    interpreted as an integer`` (or ``NoneType + int``) inside the layout search."""
    with pytest.raises(InvalidSettingError) as err:
        ic.predict(CHIP, MODEL, batch=1, **kwargs)
    text = str(err.value)
    assert text.startswith(f"{name} must be a whole number of chips, got {shown} (") and "allowed: a whole number " \
        "from 1" in text, text


def test_a_numpy_whole_number_of_chips_is_taken():
    """Control: a numpy integer is a whole number."""
    import numpy as np

    assert ic.predict(CHIP, MODEL, batch=1, count=np.int64(2)).num_chips == 2
