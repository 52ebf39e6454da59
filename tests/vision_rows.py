"""One vision case row for tests: the columns of vision_cases.csv, a test's base values and its overrides, parsed
by the real reader (validation.vision.cases.parse_vision_cases)."""

from __future__ import annotations

import csv
import io

from inferchip.validation.vision.cases import VisionCase, parse_vision_cases

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


DEFAULTS = {"case_id": "c1", "source": "s", "num_accelerators": "1", "system_name": "x", "input_shape": "800",
            "batch": "1", "notes": "n"}


def vision_case(base: dict[str, str], **over: str) -> VisionCase:
    """The row :data:`DEFAULTS`, then ``base``, then ``over``, written as CSV under :data:`HEADER` and read back."""
    row = {**DEFAULTS, **base, **over}
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([row[k] for k in HEADER.split(",")])
    return parse_vision_cases(HEADER + "\n" + buf.getvalue() + "\n")[0]
