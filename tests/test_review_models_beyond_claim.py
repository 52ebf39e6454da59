"""`inferchip review --models` where no model is within the claim's bound (stop 38, newuser38).

Before: `inferchip review --models deepseek-ai/DeepSeek-R1` (671B, above the bundled claim's 250B), or a
``--claim-file`` whose ``max_total_params`` is below every reviewed model, ran the ranking, then ended in
``internal error: ... TypeError: ufunc 'invert' not supported`` (exit 3) in the ledger, which splits the (empty)
in-scope cases into dense and MoE. Now resolve() refuses it before any work, naming the models, their sizes, the
bound and its file, and the two ways forward; ``--claim none`` (rank without judging) still runs.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.review.claim_file import CLAIM_FILE
from inferchip.review.inputs import ReviewConfig, resolve

SMALL, BIG = "meta-llama/Llama-3.1-8B-Instruct", "deepseek-ai/DeepSeek-R1"


def test_a_model_set_all_above_the_bundled_bound_is_refused_naming_sizes_and_bound():
    cfg = ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[BIG], sensitivity=False, samples=1000)
    with pytest.raises(InvalidSettingError, match=r"^models: none of deepseek-ai/DeepSeek-R1 \(671\.0B\) is within "
                                                  r"the claim's bound max_total_params = 250B parameters "
                                                  r"\(review/claim\.yaml\).*claim=none"):
        resolve(cfg)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bound=st.floats(min_value=1e6, max_value=7.9e9))  # below 1e6 the claim file refuses it (newuser45)
def test_a_claim_file_bound_below_every_model_is_refused(tmp_path, bound):
    raw = yaml.safe_load(CLAIM_FILE.read_text())
    raw["max_total_params"] = bound
    path = tmp_path / "claim.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[SMALL], claim_file=str(path), sensitivity=False)
    with pytest.raises(InvalidSettingError, match=rf"within the claim's bound .*\({path}\)"):
        resolve(cfg)


def test_one_model_within_the_bound_or_no_claim_is_reviewed():
    """Controls: a set with one model inside the bound, and the same big model with --claim none, resolve."""
    resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[BIG, SMALL], sensitivity=False))
    resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[BIG], claim=None, sensitivity=False))


def test_the_cli_prints_one_error_line_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from inferchip.interfaces.cli import app

    out = tmp_path / "review"
    res = CliRunner().invoke(app, ["review", "--chips", "nvidia-h100-sxm-80gb", "--models", BIG, "--no-sensitivity",
                                   "--samples", "1000", "--out", str(out)])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    assert not (out / "report.html").exists()


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_claim_file_bound_that_is_not_finite_is_called_so(tmp_path, value):
    """Before: NaN was refused as 'Input should be less than or equal to 1000000000000000', which it is not about."""
    from inferchip.review.claim_file import ClaimFileError, load_claim

    text = CLAIM_FILE.read_text().replace("max_total_params: 250.0e9", f"max_total_params: {value}")
    path = tmp_path / "claim.yaml"
    path.write_text(text)
    with pytest.raises(ClaimFileError, match=r"max_total_params = -?(nan|inf): Input should be a finite number$"):
        load_claim(path)
