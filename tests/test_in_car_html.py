"""The in-car table's P(fastest) cell is escaped like every other cell: "<1%" went into the page raw (found by
the new-user check of issue 14, on the DRIVE Thor row of the default review)."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

from inferchip.interfaces.report.in_car_page import in_car_html


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self._in = tag == "td"
        if self._in:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in = False if tag == "td" else self._in

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


def test_a_probability_below_one_percent_is_escaped():
    row = {"chip": "nvidia-drive-agx-thor", "estimate": True, "latency_p50_ms": 12.1, "latency_p99_ms": 13.4,
           "p99_ms_p5": 9.4, "p99_ms_p95": 18.5, "deadline_miss_rate": 0.0, "utilisation": 0.38,
           "average_power_w": 10.5, "energy_per_frame_j": 0.0366, "capacity_frames_per_s": 757.0, "p_fastest": 0.001,
           "notes": []}
    ic = {"rows": [row], "cameras": 8, "fps": 36.0, "networks": ["bevformer-tiny@rig"], "precision": "int8",
          "duration_s": 20.0, "deadline_ms": 27.8,
          "frame_deadlines": {"label": "frame deadlines", "verdict": "holds", "probability": 0.999, "decided_by": "x"}}
    res = SimpleNamespace(judgement=SimpleNamespace(in_car=ic, parts=[]), claim=None)
    page = in_car_html(res, "")
    assert "<1%" not in page and "&lt;1%" in page
    p = _Cells()
    p.feed(page)
    assert p.cells[-1] == "<1%"  # what a browser shows
