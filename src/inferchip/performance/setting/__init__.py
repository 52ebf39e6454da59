"""One resolved setting: the system and the model, checked once and passed down.

:func:`resolve_setting` (:mod:`.resolve`) is the only place that turns user choices (catalogue ids or paths, format
names, layout sizes, the estimate corner, calibration and assumptions files, the step budget and the back end's step
padding) into objects, and the only place that checks them: every error is an
:class:`~inferchip.errors.InvalidSettingError` naming the option, the value and what is allowed. ``predict``, serving
(:func:`~inferchip.performance.serving.serving_model`) and validation read the :class:`Setting` (:mod:`.resolved`) it
returns instead of resolving again; its number formats are :mod:`.formats`' rule.
"""

from inferchip.performance.setting.formats import dequantises_four_bit, format_choice, resolve_formats
from inferchip.performance.setting.resolve import ESTIMATES, SETTINGS_CACHED, estimate_level, resolve_setting
from inferchip.performance.setting.resolved import (
    MAX_CHUNK_TOKENS,
    PADDING_ENGINE,
    PADDING_GIVEN,
    PADDING_NONE,
    PADDING_SERVED,
    Derived,
    Setting,
    SweepKey,
    Sweeps,
    checked_chunk,
    engine_padding,
)

__all__ = ["ESTIMATES", "MAX_CHUNK_TOKENS", "PADDING_ENGINE", "PADDING_GIVEN", "PADDING_NONE", "PADDING_SERVED",
           "SETTINGS_CACHED",
           "Derived", "Setting", "SweepKey", "Sweeps", "checked_chunk", "dequantises_four_bit", "engine_padding",
           "estimate_level", "format_choice", "resolve_formats", "resolve_setting"]
