"""The sizing's refusal when the bound falls inside the first whole unit (review42).

Llama-3.1-8B at fp8 needs 43 Groq chips for its weights (ceil(9.09 GB / 211.6 MB)); in GroqNodes of 8 the first
count is 48. With ``scale_out.max_chips: 44`` deploy42's refusal said "its weights alone need 43 chips ... above the
bound of 44 chips": 43 is not above 44. The refusal now says that the first whole unit (48 = 6 x 8) is above it."""

from __future__ import annotations

from pathlib import Path

from tests.test_review_deployment import L8, _claim_file, _sized

from inferchip.review.inputs import ReviewConfig


def test_the_bound_between_the_weights_and_the_first_unit_is_said_so(tmp_path: Path) -> None:
    d = _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path, 44)))["batch"]
    assert d.status == "does not fit" and d.prediction is None
    assert "need 43 chips" in d.reason and "above the bound of 44" not in d.reason.split(";")[0], d.reason
    assert "the first whole unit that holds them, 48 chips (6 x 8), is above the bound of 44 chips" in d.reason


def test_weights_above_the_bound_keep_their_refusal(tmp_path: Path) -> None:
    d = _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path, 40)))["batch"]
    assert "its weights alone need 43 chips of 211.6 MB usable, above the bound of 40 chips" in d.reason, d.reason
