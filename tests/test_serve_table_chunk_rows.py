"""``serve``'s table shows the prefill chunk and the activations it keeps in its own rows (newuser43b, stop 43).

On main the keys ``prefill_chunk_tokens``, ``prefill_chunk_source`` and ``activations_bytes_per_chip`` (added to the
summary at stop 42) fell into the table's catch-all "other" section, printed raw (``1000341504.0``). Now they sit under
"memory and scheduling" with units, and a plain run prints no "other" section."""

from __future__ import annotations

from typer.testing import CliRunner

from inferchip.interfaces.cli import app


def test_the_chunk_rows_are_labelled_and_no_other_section_is_left() -> None:
    res = CliRunner().invoke(app, ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B",
                                   "--rate", "2", "--requests", "20", "--input-tokens", "64", "--output-tokens", "8"])
    assert res.exit_code == 0, res.output
    lines = [" ".join(line.split()) for line in res.output.splitlines()]
    assert "prefill chunk per step and chip 8,192 tokens" in lines
    act = [line for line in lines if line.startswith("activations kept per chip (one chunk)")]
    assert len(act) == 1 and act[0].endswith(" MB"), act
    assert "other" not in lines and not any(line.startswith("activations_bytes_per_chip") for line in lines)
