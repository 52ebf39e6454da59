"""The claim file is a setting resolved once (stop 43, claim43).

Before, the review read and checked its claim file again at about ten places: ``resolve`` (twice for the CLI, which
resolves before any work and ``run_review`` resolved again), the claimed chip's deployment, ``size_model`` per sized
chip and model (in the worker processes too), ``record_systems`` (twice), ``deployment_notes``, the charts, the claim
judgement and its pieces run ahead, the report's assumptions. Now ``resolve`` reads it once into
``ReviewInputs.claim_doc`` and every stage takes it from there.

The count is of the file's reads (``catalog.yaml_io.read_mapping``, which every load of a claim file goes through),
written to a file so that reads in the forked workers count too. The claim file given differs from the bundled one
in its ``scale_out`` (a bound of 640 chips, prefill steps of 128 tokens), and the report must say so: a stage
reading the bundled file instead (or ``ScaleOut()``'s defaults, 1024 / 256) would show.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferchip.review.claim_file import CLAIM_FILE

H100, GROQ = "nvidia-h100-sxm-80gb", "groq-lpu-v1"
L8 = "meta-llama/Llama-3.1-8B-Instruct"


def _claim_file(tmp: Path) -> Path:
    raw = yaml.safe_load(CLAIM_FILE.read_text(encoding="utf-8"))
    raw["scale_out"] = {**raw["scale_out"], "max_chips": 640, "chunk_tokens": 128}
    path = tmp / "my-claim.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _count_reads(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each read of a YAML mapping appends its resolved path to ``log`` (forked workers inherit the patch)."""
    import inferchip.catalog.yaml_io as yaml_io

    real = yaml_io.read_mapping

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{Path(path).resolve()}\n")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(yaml_io, "read_mapping", counted)


def _reads(log: Path, path: Path) -> int:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return sum(1 for line in lines if line == str(path.resolve()))


def test_the_counter_sees_a_read(tmp_path, monkeypatch):
    """The control: one load of the file is one read counted (a counter that saw nothing would pass below)."""
    from inferchip.review.claim_file import load_claim

    path, log = _claim_file(tmp_path), tmp_path / "reads.txt"
    _count_reads(monkeypatch, log)
    load_claim(str(path))
    assert _reads(log, path) == 1


def test_a_review_with_a_claim_file_reads_it_once_and_uses_it_throughout(tmp_path, monkeypatch):
    """The whole CLI review of a sized chip (Groq: size_model, record_systems, the deployment notes, the charts,
    the report's assumptions) with the claim judged (its pieces run ahead in two workers where there are two
    cores): the given file read once, the bundled one never."""
    from cli_in_process import run_main

    path, log, out = _claim_file(tmp_path), tmp_path / "reads.txt", tmp_path / "rv"
    _count_reads(monkeypatch, log)
    code, text = run_main(["review", "--claim-file", str(path), "--chips", f"{H100},{GROQ}", "--models", L8,
                           "--slo", "both", "--no-sensitivity", "--samples", "200", "--workers", "2",
                           "--out", str(out)])
    assert code == 0, text
    assert _reads(log, path) == 1, log.read_text(encoding="utf-8")
    assert _reads(log, CLAIM_FILE) == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["claim"]["scale_out"]["max_chips"] == 640 and data["claim"]["scale_out"]["chunk_tokens"] == 128
    sized = {a["name"]: a["value"] for a in data["assumptions"]
             if a["group"] == "review: layer-pipelined competitors (claim.yaml scale_out)"}
    assert sized == {"largest sized deployment": 640, "prefill step of a sized chip": 128}
    dom = [r for r in data["rows"] if r["chip_id"] == GROQ and r["setting"] == "domain"]
    assert dom and all("up to 640 (review/claim.yaml scale_out); prefill steps of 128 tokens" in r["deployment_basis"]
                       for r in dom)
    said = " ".join(data["verdict"]["lines"])  # the deployment notes (review.deploy.sizing.deployment_notes)
    assert "up to 640 chips, with prefill steps of 128 tokens" in said, said
    ledger = [e for e in data["ledger"] if "competitor deployment" in json.dumps(e)]
    assert ledger and all("up to 640 chips, prefill steps of 128 tokens" in json.dumps(e) for e in ledger)


def test_the_resolved_inputs_carry_the_checked_claim_and_it_travels_pickled(tmp_path):
    """``resolve`` holds the claim file as read, frozen; the claim pickles to the same record (the review's workers
    are forked and inherit it; a spawned one would get it pickled)."""
    from inferchip.review.inputs import ReviewConfig, ReviewInputs, resolve

    path = _claim_file(tmp_path)
    inputs = resolve(ReviewConfig(chips=[H100], models=[L8], claim_file=str(path)))
    assert isinstance(inputs, ReviewInputs) and inputs.claim_doc.scale_out.chunk_tokens == 128
    again = pickle.loads(pickle.dumps(inputs.claim_doc))
    assert again == inputs.claim_doc and again is not inputs.claim_doc
    with pytest.raises(AttributeError):  # frozen: a stage cannot swap the claim under the others
        inputs.claim_doc = again  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):  # nor change it
        inputs.claim_doc.scale_out.chunk_tokens = 256  # type: ignore[misc]


def test_the_verdict_names_the_claim_files_own_parameter_bound(tmp_path):
    """A claim file's ``max_total_params`` is the bound the verdict names (it said 250B, the bundled claim's, for
    any claim file before stop 43): a 20B bound puts Llama-3.1-70B outside it and the verdict says 20B."""
    from cli_in_process import run_main

    raw = yaml.safe_load(CLAIM_FILE.read_text(encoding="utf-8"))
    raw["max_total_params"] = 20e9
    path, out = tmp_path / "small-claim.yaml", tmp_path / "rv"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, text = run_main(["review", "--claim-file", str(path), "--chips", H100, "--claim", H100,
                           "--models", f"{L8},meta-llama/Llama-3.1-70B-Instruct", "--slo", "interactive",
                           "--no-sensitivity", "--samples", "200", "--workers", "1", "--out", str(out)])
    assert code == 0, text
    verdict = json.dumps(json.loads((out / "results.json").read_text(encoding="utf-8"))["verdict"])
    assert "bound of 20B parameters" in verdict
    assert "250B" not in verdict
