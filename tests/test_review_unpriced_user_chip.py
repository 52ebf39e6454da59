"""`review` with a user's chip YAML (newuser42): the review prices chips from the dated street/list price table
only, so a user's chip is unpriced there and its per-$ and TCO ranks print as '-'; on main the terminal said nothing
of why, and the chip file's own `price.usd` (which `predict` uses: "chip price used $50,000 (reported price)") was
dropped without a word. Now a line per unpriced chip gives the reason. Since reviewchip50 (stop 50) a user's own chip
file (an id no catalogue chip has) is priced by its stated price.usd, with a `priced:` line saying so, and one
without a price is unpriced with the field to add named; the lines wrap at 100 columns in a pipe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.interfaces.cli import main


@pytest.mark.parametrize("price", [50_000, None])
def test_unpriced_user_chip_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str], price: int | None) -> None:
    raw = yaml.safe_load((CHIPS_DIR / "nvidia-h100-sxm-80gb.yaml").read_text())
    raw["id"] = "my-chip"
    if price is None:
        raw.pop("price", None)
    else:
        raw["price"] = {"usd": price}
    chip = tmp_path / "mine.yaml"
    chip.write_text(yaml.safe_dump(raw))
    code = main(["review", "--chips", f"{chip},nvidia-h100-sxm-80gb", "--models", "meta-llama/Llama-3.2-1B",
                 "--claim", "none", "--no-sensitivity", "--slo", "batch", "--out", str(tmp_path / "rv")])
    out = capsys.readouterr().out
    assert code == 0, out
    flat = " ".join(out.split())  # the note lines wrapped at 100 columns, read back as one line
    lines = [ln.split(":")[0] for ln in out.splitlines() if ln.startswith(("priced:", "unpriced:"))]
    assert lines == ["unpriced" if price is None else "priced"], out
    if price is None:
        assert "unpriced: my-chip: no street or list price: not a catalogue chip, and the chip file states no " \
               "price.usd; add price.usd" in flat
    else:
        assert "priced: my-chip: 50,000 USD, the chip file's price.usd, one figure as stated (no range)" in flat
