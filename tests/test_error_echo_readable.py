"""A bad value echoed in an error stays readable (errors.readable, the one rule of every clear error: the
InferchipError text and the CLI's ``error:`` line): a value longer than 200 characters is shown as its first 60 and
its length. Until stop 47 a 100,000-character ``--weights`` came back whole in its one-line error. And generated bad
values of serve's and curve's options each get one ``error:`` line, exit status 2, no traceback."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.errors import (
    ECHO_HEAD_CHARS,
    ECHO_MAX_CHARS,
    MESSAGE_MAX_CHARS,
    InvalidSettingError,
    readable,
    shown,
)
from inferchip.interfaces.cli import main
from inferchip.spec.formats import check_format

BOUND = MESSAGE_MAX_CHARS + 200  # a message's length whatever the value (the tail kept adds its marker)


def test_a_long_value_is_shown_by_its_head_and_length():
    assert shown("x" * ECHO_MAX_CHARS) == "x" * ECHO_MAX_CHARS  # whole up to the bound (a long path stays whole)
    assert shown("x" * 100_000) == "x" * ECHO_HEAD_CHARS + "...(100,000 characters)"


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=3_000) | st.text(alphabet=" a'\"b", min_size=5_000, max_size=20_000))
def test_a_format_error_stays_short_and_names_the_field_whatever_the_value(value):
    with pytest.raises(InvalidSettingError) as exc:
        check_format(value + "?", "--weights")  # "?" is in no format name
    text = str(exc.value)
    assert text.startswith("--weights: unknown number format")
    assert len(text) <= BOUND
    assert "allowed: fp32" in text  # what is allowed survives the shortening


@settings(max_examples=200, deadline=None)
@given(message=st.text(max_size=20_000))
def test_readable_bounds_any_message_and_keeps_a_short_one(message):
    out = readable(message)
    assert len(out) <= BOUND
    assert len(out.splitlines()) <= max(1, message.count("\n") + 1)  # no line break but the message's own
    plain = all(c == "\n" or c.isprintable() or c in "\t " for c in message)
    if len(message) <= ECHO_MAX_CHARS and plain:
        assert out == message  # nothing to shorten or escape


def test_the_cli_error_line_of_a_100000_character_weights_is_short():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B", "--batch", "1",
                     "--weights", "x" * 100_000])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: --weights") and "...(100,000 characters)" in lines[0]
    assert len(lines[0]) < 400


H100 = "nvidia-h100-sxm-80gb"
L1B = "meta-llama/Llama-3.2-1B"
SERVE = ["serve", "--chip", H100, "--model", L1B, "--rate", "1", "--requests", "10"]
CURVE = ["curve", "--chip", H100, "--model", L1B, "--input-tokens", "64", "--output-tokens", "8"]

_NOT_A_NUMBER = st.text(max_size=300).filter(lambda s: not s.strip().lstrip("+-").replace(".", "", 1).isdigit())
_BAD_INT = st.integers(max_value=0).map(str) | st.integers(min_value=10**13).map(str) | _NOT_A_NUMBER
_BAD_FLOAT = (st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400"])
              | st.floats(max_value=-1e-9, allow_nan=False).map(repr) | _NOT_A_NUMBER)
_BAD_NAME = st.text(max_size=20_000).filter(lambda s: s.strip() != "" and not s.startswith("-"))
# (option, bad values, the commands it belongs to); --seed's floor is 0
OPTIONS = [
    ("--input-tokens", _BAD_INT), ("--output-tokens", _BAD_INT), ("--count", _BAD_INT), ("--tp", _BAD_INT),
    ("--chunk-tokens", _BAD_INT), ("--seed", st.integers(max_value=-1).map(str) | _NOT_A_NUMBER),
    ("--range-ratio", _BAD_FLOAT | st.sampled_from(["1.5", "2"])),
    ("--weights", _BAD_NAME), ("--kv", _BAD_NAME), ("--engine", _BAD_NAME), ("--chip", _BAD_NAME),
    ("--model", _BAD_NAME),
]
SERVE_ONLY = [("--requests", _BAD_INT), ("--rate", _BAD_FLOAT), ("--slo-ttft-ms", _BAD_FLOAT),
              ("--concurrency", _BAD_INT)]


def _run(argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().strip().splitlines()


def _valid(option: str, value: str) -> bool:
    """A generated value that is a good one for ``option`` (a format, engine, chip or model name of the catalogue in
    any case or spelling: "FP8 ", "atom"): not the bad input this fuzz is about."""
    from inferchip.catalog.chips import get_chip_params
    from inferchip.catalog.engines import engine_ids
    from inferchip.catalog.models import load_model
    from inferchip.errors import InferchipError
    from inferchip.spec.formats import BYTES_PER_ELEMENT, canonical_format

    if option in ("--weights", "--kv"):
        return canonical_format(value) in BYTES_PER_ELEMENT
    if option == "--engine":
        return value.strip().lower() in engine_ids()
    if option in ("--chip", "--model"):
        try:
            (get_chip_params if option == "--chip" else load_model)(value)
        except (InferchipError, OSError, ValueError):
            return False
        return True
    return False


def _without(base: list[str], option: str) -> list[str]:
    i = base.index(option) if option in base else -1
    return base if i < 0 else base[:i] + base[i + 2:]


@pytest.mark.parametrize(("base", "option", "values"), [(SERVE, o, v) for o, v in OPTIONS + SERVE_ONLY]
                         + [(CURVE, o, v) for o, v in OPTIONS])
def test_a_generated_bad_value_is_one_clear_error_line(base, option, values, tmp_path_factory):
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                     HealthCheck.too_slow])
    @given(value=values)
    def check(value: str) -> None:
        argv = _without(base, option)
        if option == "--concurrency":
            argv = _without(argv, "--rate")
        if option in ("--chip", "--model") and ("/" in value or "\\" in value or value.startswith(".")):
            value = "zz" + value.replace("/", "_").replace("\\", "_")  # a name, not a path of this machine
        if "\x00" in value:
            value = value.replace("\x00", "")  # no process argument holds a NUL
        if not value.strip() or value.startswith("-") or _valid(option, value):
            return
        code, lines = _run([*argv, option, value])
        text = "\n".join(lines)
        assert code == 2, (option, value[:80], text[:500])
        assert len(lines) == 1 and lines[0].startswith("error:"), (option, value[:80], text[:500])
        assert "Traceback" not in text and len(lines[0]) <= BOUND

    check()


@pytest.mark.parametrize("argv", [
    [*CURVE[:4], "--model", "~0"],  # the fuzz's find: Path.expanduser raised RuntimeError, an internal error (3)
    ["serve", "--chip", "~nosuchuser", "--model", L1B, "--rate", "1"],
    ["predict", "--chip", H100, "--model", "~nosuchuser/config.json", "--batch", "1"],
])
def test_a_tilde_of_an_unknown_user_is_a_clear_error(argv):
    code, lines = _run(argv)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and "~" in lines[0]
