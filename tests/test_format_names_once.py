"""A setting's format names are checked once (spec.formats.check_names): format_choice and resolve_formats read the
one resolution. Until stop 47 format_choice checked --weights, --activations and --kv and then resolve_formats checked
them again."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip.spec.formats as formats
from inferchip.errors import InvalidSettingError
from inferchip.performance.setting import format_choice, resolve_formats
from inferchip.spec.formats import ALL_FORMATS, FORMAT_ALIASES, check_names


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = formats.check_format

    def count(name: str, field: str) -> str:
        seen.append(field)
        return real(name, field)

    monkeypatch.setattr(formats, "check_format", count)
    return seen


def test_format_choice_checks_each_given_name_once(monkeypatch):
    seen = _counting(monkeypatch)
    fmt, _, _ = format_choice("FP8", "bfloat16", "e4m3", None, chip=None, model_id=None)
    assert sorted(seen) == ["activations", "kv", "weights"]
    assert (fmt.weights, fmt.activations, fmt.kv) == ("fp8", "bf16", "fp8")


def test_resolve_formats_checks_each_given_name_once(monkeypatch):
    seen = _counting(monkeypatch)
    resolve_formats("NVFP4", None, None)
    assert seen == ["weights"]  # the defaults it fills in are the catalogue's own names


SPELLINGS = sorted({*ALL_FORMATS, *(a for a, f in FORMAT_ALIASES.items() if f in ALL_FORMATS),
                    *(f.upper() for f in ALL_FORMATS)})


@settings(max_examples=150, deadline=None)
@given(w=st.sampled_from(SPELLINGS), a=st.none() | st.sampled_from(SPELLINGS),
       kv=st.none() | st.sampled_from(SPELLINGS))
def test_format_choice_and_resolve_formats_agree_on_any_spelling(w, a, kv):
    try:
        want = resolve_formats(w, a, kv)
    except InvalidSettingError as exc:  # an impossible pair (int4 activations, W4A4 without 4-bit weights)
        with pytest.raises(InvalidSettingError, match=str(exc).split(":")[0]):
            format_choice(w, a, kv, None, chip=None, model_id=None)
        return
    assert format_choice(w, a, kv, None, chip=None, model_id=None)[0] == want


def test_an_unknown_name_is_refused_under_its_field():
    with pytest.raises(InvalidSettingError, match=r"^kv: unknown number format 'fp7'"):
        check_names("fp8", "bf16", "fp7")
    with pytest.raises(InvalidSettingError, match=r"^activations: unknown number format"):
        format_choice("fp8", "fp9", None, None, chip=None, model_id=None)
