"""What an engine runs of a checkpoint's attention projections (``EngineSpec.checkpoint_attention``): the formats a
checkpoint stores them in, as the engine runs them, matched to a row by the checkpoint its notes name, and the launch
recipes that run MLA's q_b apart (SGLang's SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN). Sources in catalog/engines.yaml."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class CheckpointAttention(BaseModel):
    """The attention projections' formats the engine runs for rows of a model (``model``: a fragment of its lower-case
    id, or of the checkpoint's name where the row's id is a served name) served in ``weights`` from one of
    ``checkpoints`` (the checkpoint's published names; named in the row's notes), where that checkpoint leaves some
    attention projections unquantised and the engine runs them as stored: ``attention_weights`` for q_a, q_b, kv_a and
    kv_b, ``attention_out_weights`` for the output projection o (blank: as the others). NVIDIA's DeepSeek-R1-0528 FP4 v2
    checkpoint under TensorRT-LLM: bf16, and NVFP4 for o; its v1: bf16 for all five (engines.yaml). First match wins.

    ``q_b_weights``: MLA's query up-projection q_b where the engine runs it apart from the other projections (blank:
    as they): SGLang requantises the stored bf16 q_b to FP8 with 128x128 block scales where the launch recipe sets
    SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN (sgl-project/sglang PR #11805). ``decode_worker_chips``: an entry with them
    applies only to a disaggregated row whose decode worker spans one of those chip counts, the layouts of the launch
    recipes that set it (empty: any row; a row or command without a decode worker takes no such entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1, pattern=r"^[a-z0-9_.+/-]+$")
    weights: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    checkpoints: tuple[str, ...] = Field(min_length=1)
    attention_weights: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    attention_out_weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    q_b_weights: str = Field("", pattern=r"^[a-z0-9_]*$")
    decode_worker_chips: tuple[Annotated[int, Field(ge=2)], ...] = ()


def checkpoint_attention_for(entries: Sequence[CheckpointAttention], model: str, weights: str, stated: str,
                             decode_chips: int = 0) -> tuple[CheckpointAttention, str | None] | None:
    """The entry for a row of ``model`` served in ``weights`` whose text ``stated`` (its notes) names its checkpoint,
    with the name it gives: the first entry whose ``weights`` is the row's, one of whose ``checkpoints`` the text
    names as a whole name (all compared in lower case; a name followed by more of a name, as ``-FP4`` by ``-FP4-v2``,
    is another checkpoint), and whose ``model`` fragment the model id contains, or that name with the id's own name
    (a served name, as ``deepseek-ai/DeepSeek-R1`` for a 0528 checkpoint, is reached by the checkpoint it names). A
    row naming none takes the first entry of its model id and weights, with None for the name (the catalogue's
    default checkpoint, assumed, as a CLI row that names none); None where no entry is of its model and weights.
    ``decode_chips``: the chips of the row's decode worker (0: none), which entries with ``decode_worker_chips``
    must list."""
    low, fmt, text = model.lower(), weights.lower(), stated.lower()
    entries = [e for e in entries if not e.decode_worker_chips or decode_chips in e.decode_worker_chips]
    for e in (e for e in entries if e.weights == fmt):
        named = next((c for c in e.checkpoints if names_checkpoint(text, c)), None)
        if named is not None and (e.model in low or e.model in named.lower() and low.split("/")[-1] in named.lower()):
            return e, named
    mine = [e for e in entries if e.model in low and e.weights == fmt]
    return (mine[0], None) if mine else None


def names_checkpoint(text: str, checkpoint: str) -> bool:
    """Whether lower-case ``text`` names ``checkpoint`` whole: not inside a longer name (letters, digits, ``-``,
    ``_``, ``.`` or ``/`` on either side)."""
    return re.search(rf"(?<![\w./-]){re.escape(checkpoint.lower())}(?![\w/-]|\.\w)", text) is not None
