"""A model's tokenizer as the serving front end runs it: the time to encode one prompt token of the benchmark's
text (``s_per_prompt_token``). The rate belongs to the tokenizer (its vocabulary, merges and pre-tokenisation
regex); whether the time falls on a request's path is the engine's (``EngineSpec.front_end_tokenizes``).
Records live in ``catalog/engines.yaml`` (``tokenizers``), each with its source."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenizerSpec(BaseModel):
    """One tokenizer: the models that ship it (lower-case fragments of a case's ``model``) and its encode time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    models: tuple[str, ...] = Field(min_length=1, description="Lower-case fragments of a case's `model` text.")
    s_per_prompt_token: float = Field(ge=0, le=1e-4, description="Encode time per prompt token on one core (s).")
    source: str = Field(min_length=1)

    def fits(self, model: str) -> bool:
        text = model.lower()
        return any(f in text for f in self.models)


def tokenize_time_s(s_per_prompt_token: float, prompt_tokens: float) -> float:
    """Time (s) to encode a prompt of ``prompt_tokens`` tokens at ``s_per_prompt_token``: the product (a BPE
    encode is linear in its input; huggingface/tokenizers PR #1582 benchmark, throughput flat in the text's
    length)."""
    if not prompt_tokens >= 0:
        raise ValueError(f"prompt_tokens must be >= 0, got {prompt_tokens!r}")
    if not s_per_prompt_token >= 0:
        raise ValueError(f"s_per_prompt_token must be >= 0, got {s_per_prompt_token!r}")
    return s_per_prompt_token * float(prompt_tokens)
