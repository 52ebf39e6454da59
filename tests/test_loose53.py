"""Stop 53's loose ends (branch loose53): a flag given twice taken; a non-UTF-8 option value shown readably; the
engine resolved once per setting; ``ic.frame_cost``'s rig views."""

from __future__ import annotations

import pytest


def _flags():
    from typer.main import get_command

    from inferchip.interfaces.cli import app

    return [(name, p) for name, c in sorted(get_command(app).commands.items()) for p in c.params
            if getattr(p, "param_type_name", "") == "option" and p.is_flag and not p.is_eager and not p.count]


@pytest.mark.parametrize(("name", "option"), _flags(), ids=lambda v: v if isinstance(v, str) else v.opts[0])
def test_a_flag_given_twice_meaning_the_same_is_taken(name, option):
    """Failed on main: ``drive --own-views --own-views`` was refused as an option given more than once, though a
    flag repeated says the same thing; its on and off spellings together (``--moe --dense``) are still refused."""
    from inferchip.interfaces.app import refuse_repeated

    opt = option.opts[0]
    refuse_repeated([option, option], [opt, opt])  # taken
    if option.secondary_opts:
        from inferchip.errors import InvalidSettingError

        with pytest.raises(InvalidSettingError, match="given more than once"):
            refuse_repeated([option, option], [opt, option.secondary_opts[0]])


def test_drive_own_views_twice_runs_as_once():
    from cli_in_process import run_main

    base = ["drive", "--chip", "nvidia-l4", "--cameras", "3", "--fps", "10", "--model", "bevformer-tiny",
            "--duration", "1", "--format", "json"]
    once = run_main([*base, "--own-views"])
    twice = run_main([*base, "--own-views", "--own-views"])
    assert once[0] == 0, once[1][-300:]
    assert twice == once


@pytest.mark.parametrize("option", ["--engine", "--chip", "--weights"])
def test_a_value_that_is_no_utf8_is_shown_as_its_bytes(option):
    """Failed on main: ``--engine $'vl\\xffm'`` said "unknown engine 'vl\\udcffm'": Python's surrogateescape
    stand-in for the byte, which the user never typed; the error shows the byte as repr of bytes writes it."""
    from cli_in_process import run_main

    args = {"--engine": "vllm", "--chip": "nvidia-h100-sxm-80gb", "--weights": "fp8"}
    args[option] = b"vl\xffm".decode("utf-8", "surrogateescape")
    code, out = run_main(["predict", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1",
                          *[x for kv in args.items() for x in kv]])
    assert code == 2, out[-300:]
    assert "vl\\xffm" in out and "udc" not in out and "\udcff" not in out


def test_readable_shows_a_surrogate_escaped_byte_and_keeps_a_typed_backslash():
    from hypothesis import given
    from hypothesis import strategies as st

    from inferchip.errors import readable

    assert readable("engine " + repr("a\udc80b")) == "engine 'a\\x80b'"
    assert readable(repr("a\\udcffb")) == repr("a\\udcffb")  # a backslash the user typed, repr doubles it

    @given(st.binary(max_size=40))
    def no_surrogate_left(raw: bytes) -> None:
        text = raw.decode("utf-8", "surrogateescape")
        for message in (f"value {text!r}", f"value {text}"):
            out = readable(message)
            assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in out)
            out.encode("utf-8")  # printable on a UTF-8 terminal

    no_surrogate_left()
