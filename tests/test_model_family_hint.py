"""`inferchip models` lists LLMs and vision networks side by side; an id of the one family given to a command of
the other is answered with the command that takes it, not with "unknown model ... Closest: Qwen/Qwen2.5-7B" (found
by the new-user check of issue 14)."""

from __future__ import annotations

import pytest

from cli_in_process import run_main
from inferchip.catalog.models import load_model
from inferchip.errors import UnknownIdError
from inferchip.workload.vision.network import load_network


def test_a_vision_network_given_as_an_llm_points_to_the_vision_command():
    with pytest.raises(UnknownIdError, match=r"'resnet50-v1\.5' is a vision network, not an LLM.*inferchip vision"):
        load_model("resnet50-v1.5")


def test_an_llm_given_as_a_vision_network_points_to_predict():
    with pytest.raises(UnknownIdError, match=r"'meta-llama/Llama-3\.1-8B' is an LLM, not a vision network.*"
                                             r"inferchip predict"):
        load_network("meta-llama/Llama-3.1-8B")


def test_the_cli_answers_in_one_error_line():
    code, text = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "yolov8n-640", "--batch", "1"])
    assert code == 2 and "is a vision network" in text and "Closest" not in text and "Traceback" not in text


def test_a_true_unknown_id_still_names_the_closest():
    with pytest.raises(UnknownIdError, match="Closest"):
        load_model("meta-llama/Llama-3.1-9B")
