"""Whether a chip or model id names something the catalogue (or a file) has, for readers of tables whose
rows name one (the case files): the refusal names the closest catalogue ids, as :class:`UnknownIdError` does."""

from __future__ import annotations

from functools import lru_cache

from inferchip.errors import InferchipError, UnknownIdError


@lru_cache(maxsize=512)
def id_refusal(kind: str, given: str) -> str | None:
    """None when ``given`` is a known ``kind`` ("chip" or "model": a catalogue id, an alias or a file), else why
    not and what is allowed: ``is not a known chip; allowed: a chip id of `inferchip chips` (closest: ...)``. A file
    that is there but malformed is not refused here: the loader's own error names its field when it is used."""
    from inferchip.catalog.chips import load_chip
    from inferchip.catalog.models import load_model

    try:
        load_chip(given) if kind == "chip" else load_model(given)
    except UnknownIdError as exc:
        close = f" (closest: {', '.join(exc.closest)})" if exc.closest else ""
        return f"is not a known {kind}; allowed: a {kind} id of `inferchip {kind}s`{close} or a {kind} file"
    except InferchipError:
        return None
    return None
