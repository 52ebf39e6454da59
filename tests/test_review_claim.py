"""The claim judged part by part: verdict rule, cost views, Monte Carlo, corners, ledger, bad input.

Chip sets are built so the answer is known without running the model: copies of one chip
that differ in a single spec (memory bandwidth), priced from a small local price table.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import Quote, make_chip
from inferchip.catalog.chips import load_chip
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.interfaces.report.deciding import short_name
from inferchip.interfaces.report.tables import cell
from inferchip.review.claim_file import FAILS_UP_TO, HOLDS_FROM, PARTS, ClaimFileError, load_claim, pct, verdict
from inferchip.review.judge import Figures, judge_part, suite_scores, usd_per_million_tokens, wall_power_per_chip_w
from inferchip.review.review import ReviewConfig, run_review
from inferchip.review.uncertainty import Base, Corner, claim_at, model_error_sigmas, monte_carlo
from inferchip.review.views import street_view

L8 = "meta-llama/Llama-3.1-8B-Instruct"
ROOT = Path(__file__).resolve().parents[1]




PRICES = {c: Quote(c, "street", p, 0.8 * p, 1.2 * p, "test price table")
          for c, p in (("slow", 20_000.0), ("mid", 20_000.0), ("fast", 20_000.0))}


# ------------------------------------------------------------------ the verdict rule
@given(st.floats(0.0, 1.0))
def test_verdict_follows_the_probability_rule(p):
    v = verdict(p)
    assert v == ("holds" if p >= HOLDS_FROM else "does not hold" if p <= FAILS_UP_TO else "undecided")


def test_a_part_not_judged_is_undecided():
    assert verdict(None) == "undecided"


# ------------------------------------------------------------------ judging on arrays, by hand
def _figs(tput, board=None, price=None, cost=None):
    tput = np.asarray(tput, float)[:, :, None] if np.ndim(tput) == 2 else np.asarray(tput, float)
    n_c, n_k = tput.shape[:2]
    board = np.full_like(tput, 500.0) if board is None else np.asarray(board, float)
    return Figures([f"c{i}" for i in range(n_c)], 0, [("m", "batch")] * n_k, tput, board, np.ones(n_c),
                   np.full((n_c, n_k), 8.0), np.full(n_c, 750.0), np.full(n_c, 75.0),
                   price or {}, cost)


def test_suite_scores_by_hand():
    # case 1: 100 vs 200 -> 0.5, 1; case 2: 50 vs 25 -> 1, 0.5; case 3: only c0 -> 1, 0 (not served)
    v = np.array([[100.0, 50.0, 10.0], [200.0, 25.0, np.nan]])[:, :, None]
    s, takes = suite_scores(v, True)
    assert s[:, 0] == pytest.approx([(0.5 + 1 + 1) / 3, (1 + 0.5 + 0) / 3])
    assert takes.all()


def test_a_chip_that_serves_nothing_takes_no_part_and_the_claim_must_serve():
    f = _figs([[np.nan, np.nan], [10.0, 10.0], [np.nan, np.nan]])
    o = judge_part(f, PARTS["per_chip"])
    assert o.holds is not None and not o.holds[0]  # the claim serves nothing: it is not first
    assert o.ranked.tolist() == [False, True, False]


def test_ties_count_as_first():
    o = judge_part(_figs([[10.0], [10.0]]), PARTS["per_chip"])
    assert o.holds[0]


def test_lowest_cost_silicon_needs_the_by_far_margin():
    # c3 is cheaper but serves no case: it is no competitor for the claim's models
    f = _figs([[1.0], [1.0], [1.0], [np.nan]], cost=np.array([[1000.0], [1900.0], [np.nan], [100.0]]))
    assert not judge_part(f, PARTS["lowest_cost_silicon"]).holds[0]  # 1.9x, not 2x
    assert judge_part(replace(f, by_far=1.0), PARTS["lowest_cost_silicon"]).holds[0]
    assert judge_part(replace(f, cost_usd=np.array([[1000.0], [2000.0], [np.nan], [100.0]])),
                      PARTS["lowest_cost_silicon"]).holds[0]


def test_wall_power_matches_the_energy_model_for_a_gpu_server():
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.energy import wall_power_w

    a = load_assumptions()
    mine = wall_power_per_chip_w(np.array(600.0), np.array(8.0), np.array(a.number("host.host_idle_w")),
                                 np.array(a.number("host.host_per_accelerator_w")),
                                 a.number("host.fan_power_fraction"), a.number("host.psu_efficiency"))
    assert float(mine) == pytest.approx(float(wall_power_w(600.0 * 8, 8, a)) / 8, rel=1e-12)


def test_views_never_mix_bases():
    # Two chips; the street view prices only c1, the modelled view both. Changing one view's prices
    # changes that view's $/Mtok only; a chip unpriced in a view has no figure there and takes no part.
    f = _figs([[100.0], [100.0]], price={"street": np.array([[np.nan], [20_000.0]]),
                                          "modelled": np.array([[2_000.0], [5_000.0]])})
    street, modelled = usd_per_million_tokens(f, "street"), usd_per_million_tokens(f, "modelled")
    assert np.isnan(street[0]).all() and np.isfinite(street[1]).all()
    g = replace(f, price={**f.price, "modelled": f.price["modelled"] * 3})
    assert np.array_equal(usd_per_million_tokens(g, "street"), street, equal_nan=True)
    assert (usd_per_million_tokens(g, "modelled") > modelled).all()
    o = judge_part(f, PARTS["equal_money"], "street")
    assert o.holds is None and "no price on the street basis" in o.reason  # the claim (c0) is unpriced there
    assert judge_part(f, PARTS["equal_money"], "modelled").holds[0]  # cheaper silicon, same throughput


# ------------------------------------------------------------------ Monte Carlo
def _base():
    f = _figs(np.array([[100.0, 50.0], [90.0, 60.0]]))
    corners = [Corner("memory bandwidth", "low", {}, np.array([80.0, np.nan]), np.array([400.0, 400.0])),
               Corner("memory bandwidth", "high", {}, np.array([120.0, 70.0]), np.array([550.0, 550.0]))]
    return Base(f, corners, {"memory bandwidth": (1.0, 2.0, 3.0)},
                {"street": np.array([[8e3, 1e4, 1.2e4], [2e4, 2.5e4, 3e4]])}, np.array([[900, 1e3, 1.1e3]] * 2))


def test_the_surrogate_meets_the_corners_and_the_centre():
    b = _base()
    t, w = claim_at(b, {"memory bandwidth": np.array([-1.0, 0.0, 1.0, -0.4])})
    assert t[:, 0][0] == pytest.approx(80.0) and np.isnan(t[1, 0])  # the low corner does not serve case 2
    assert t[:, 1] == pytest.approx([100.0, 50.0]) and w[:, 1] == pytest.approx([500.0, 500.0])
    assert t[:, 2] == pytest.approx([120.0, 70.0])
    # 40% of the way to the low end in log space: 100 * (80/100)**0.4; case 2 still served (before the midpoint)
    assert t[0, 3] == pytest.approx(100 * 0.8 ** 0.4) and t[1, 3] == pytest.approx(50.0)


def test_a_seeded_monte_carlo_reproduces():
    b = _base()
    one, two = monte_carlo(b, 1000, 7), monte_carlo(b, 1000, 7)
    assert one.tput_in_limits is not None and monte_carlo(b, 1000, 7, model_error=False).tput_in_limits is None
    assert np.array_equal(one.tput, two.tput, equal_nan=True) and np.array_equal(one.price["street"],
                                                                                 two.price["street"])
    other = monte_carlo(b, 1000, 8)
    assert not np.array_equal(one.tput, other.tput, equal_nan=True)
    lo, hi = one.price["street"].min(axis=1), one.price["street"].max(axis=1)
    assert (lo >= [8e3, 2e4]).all() and (hi <= [1.2e4, 3e4]).all()  # draws stay in each range


def test_model_error_sigmas_match_the_validation_page():
    """review/model_error.yaml copies docs/validation.md's per-metric table and, for TTFT and TPOT, its
    closed-loop table (held-out column); a new validation run must update it."""
    import yaml

    page = (ROOT / "docs" / "validation.md").read_text()
    data = yaml.safe_load((ROOT / "src/inferchip/review/model_error.yaml").read_text())
    assert {"throughput", "power", "ttft", "tpot"} <= set(data)
    for row in data.values():
        if row["table"] == "per_metric":
            m = re.search(rf"^\| {row['metric']} \| \d+ \| \d+ \| ([\d.]+)% \| ([\d.]+)% \|", page, re.M)
        else:
            assert row["table"] == "closed_loop"
            section = page[page.index("## Closed-loop serving rows"):]
            m = re.search(rf"^\| {row['metric']} \| [\d,]+ \|[^|]+\|[^|]+\| ([\d.]+) / ([\d.]+) %", section, re.M)
        assert m, row["metric"]
        assert (float(m.group(1)), float(m.group(2))) == (row["median_ape_pct"], row["p90_ape_pct"])
    s = model_error_sigmas()
    for kind in ("throughput", "tpot"):
        assert s[kind] == pytest.approx(max(np.log1p(data[kind]["median_ape_pct"] / 100) / 0.6745,
                                            np.log1p(data[kind]["p90_ape_pct"] / 100) / 1.6449))


def test_latency_error_divides_throughput_and_misses_limits_by_hand():
    """tok/s = users / TPOT: a TPOT twice the predicted one halves it; an error that takes the TTFT or the
    TPOT past its limit leaves the case unserved; a case without a limit keeps its throughput."""
    from inferchip.review.uncertainty import within_limits

    tput = np.full((1, 3, 1), 100.0)
    ratio = np.array([[[0.4, 0.4], [0.9, 0.2], [np.nan, np.nan]]])  # predicted / limit: TTFT, TPOT
    ln2 = np.log(2.0)
    # TPOT error x2, TTFT error x1: case 0 halves (0.4 x 2 < 1), case 1 halves, case 2 (no limit) keeps 100
    out = within_limits(tput, ratio, np.zeros((1, 1)), np.ones((1, 1)), 0.5, ln2)
    assert out[0, :, 0] == pytest.approx([50.0, 50.0, 100.0])
    # TTFT error x2: case 1's TTFT (0.9 of its limit) misses; case 0's (0.8) does not
    out = within_limits(tput, ratio, np.ones((1, 1)), np.zeros((1, 1)), ln2, 0.1)
    assert out[0, 0, 0] == pytest.approx(100.0) and np.isnan(out[0, 1, 0]) and out[0, 2, 0] == pytest.approx(100.0)


# ------------------------------------------------------------------ whole reviews with known answers
def _chips():
    base = make_chip(id="mid", max_scaleup_domain=1)
    return [replace(base, id="slow", memory_bytes_per_s=base.memory_bytes_per_s / 2), base,
            replace(base, id="fast", memory_bytes_per_s=base.memory_bytes_per_s * 2)]


def _review(claim_index: int):
    chips = _chips()
    claim = chips.pop(claim_index)
    return run_review(ReviewConfig(chips=chips, claim=claim, models=[L8], metric="throughput", sensitivity=False,
                                   samples=1000, prices=PRICES))


@pytest.fixture(scope="module")
def fast_claim():
    return _review(2)


def test_each_part_verdict_follows_its_probability(fast_claim):
    j = fast_claim.judgement
    assert j.samples == 1000
    for p in j.parts:
        assert set(p) >= {"part", "metric", "verdict", "probability", "decided_by"}
        assert p["verdict"] == verdict(p["probability"])
    judged = {(p["part"], p["view"]): p for p in j.parts}
    # a made-up claimed chip has no catalogue spec for the vision cost model: the rig part is not judged
    assert judged[("frame_deadlines", None)]["probability"] is None
    assert "vision cost model" in judged[("frame_deadlines", None)]["decided_by"]
    assert judged[("equal_money", "modelled")]["probability"] is None  # test chips have no silicon spec
    assert judged[("equal_money", "street")]["probability"] is not None


def test_twice_the_bandwidth_makes_the_per_chip_part_likely(fast_claim):
    slow = _review(0)
    p_fast = {p["part"]: p["probability"] for p in fast_claim.judgement.parts if p["view"] != "modelled"}
    p_slow = {p["part"]: p["probability"] for p in slow.judgement.parts if p["view"] != "modelled"}
    assert p_fast["per_chip"] > 0.5 > p_slow["per_chip"]
    assert p_fast["equal_money"] > p_slow["equal_money"]  # the same price, more tokens


def test_rows_use_the_street_basis_only(fast_claim):
    for r in fast_claim.rows:
        if r["status"] == "ok":
            assert r["price_basis"] == "street" and r["chip_price_usd"] == 20_000.0
            assert r["price_source"] == "test price table"


def test_the_ledger_names_every_choice(fast_claim):
    choices = {e["choice"] for e in fast_claim.judgement.ledger}
    assert {"year", "service levels", "power basis", "model error", "price basis"} <= choices
    for e in fast_claim.judgement.ledger:
        assert set(e) >= {"choice", "default", "flips"}
        assert e["flips"] is None or isinstance(e["flips"], list)


# ------------------------------------------------------------------ bad input
def test_a_claim_file_with_an_unknown_part_is_refused(tmp_path, capsys):
    text = (ROOT / "src/inferchip/review/claim.yaml").read_text().replace("per_chip,", "per_chip, fastest_ever,")
    bad = tmp_path / "claim.yaml"
    bad.write_text(text)
    with pytest.raises(ClaimFileError, match="fastest_ever.*allowed: per_chip"):
        load_claim(bad)
    assert main(["review", "--claim-file", str(bad), "--out", str(tmp_path / "rv")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "fastest_ever" in err and "Traceback" not in err and not (tmp_path / "rv").exists()


def test_an_unknown_year_is_refused(tmp_path, capsys):
    assert main(["review", "--year", "1850", "--out", str(tmp_path / "rv")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--year" in err and "1850" in err and "Traceback" not in err


def test_a_price_row_without_source_is_refused():
    chips = [replace(make_chip(id="x"))]
    from inferchip.review.inputs import chip_entry

    entries = [chip_entry(c, 72) for c in chips]
    with pytest.raises(InvalidSettingError, match="chip x: source is empty"):
        street_view(entries, {"x": Quote("x", "street", 1e4, 9e3, 1.1e4, " ")})
    with pytest.raises(InvalidSettingError, match="must lie in its range"):
        street_view(entries, {"x": Quote("x", "street", 1e4, 1.1e4, 1.2e4, "src")})


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One small review through the command: its results.json, report.html and terminal output."""
    import io
    from contextlib import redirect_stdout

    out = tmp_path_factory.mktemp("claim") / "rv"
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["review", "--chips", "nvidia-h100-sxm-80gb", "--models", L8, "--slo", "both", "--no-sensitivity",
                   "--samples", "1000", "--out", str(out)])
    assert rc == 0
    return json.loads((out / "results.json").read_text()), (out / "report.html").read_text(), buf.getvalue()


def test_results_json_has_the_claim_interface(small_run):
    data, html, _ = small_run
    assert data["monte_carlo_samples"] == 1000 and data["claim"]["date"] == "2025-09-06"
    assert "best inference chip of any kind for models below ~250B params" in data["claim"]["text"]
    assert {p["part"] for p in data["claim_parts"]} == set(load_claim().parts)
    assert all({"choice", "default", "flips"} <= set(e) for e in data["ledger"])
    assert [v["name"] for v in data["views"]] == ["street", "modelled"]
    for c in data["chips"]:
        assert {"price_usd", "price_basis", "price_source"} <= set(c)
    ai5 = next(c for c in data["chips"] if c["id"] == "tesla-ai5")
    assert ai5["weights"] == load_claim().deployment.weights and ai5["chips_in_domain"] == 8
    groups = {(c["group"], c["end"]) for c in data["named_corners"]}
    assert ("memory bandwidth", "low") in groups and ("memory bandwidth", "high") in groups
    # independent named corners: each group at its favourable and its unfavourable end, never several at once
    sides: dict[str, set[str]] = {}
    for c in [*data["named_corners"], *data["in_car"]["named_corners"]]:
        sides.setdefault(c["group"], set()).add(c["side"])
    assert all(s == {"favourable", "unfavourable"} for s in sides.values()), sides
    assert next(c["side"] for c in data["named_corners"] if c["group"] == "memory bandwidth" and c["end"] == "high") \
        == "favourable"
    assert "levels" not in data["verdict"]["estimates"]
    in_car = data["in_car"]  # the driving rig on the in-car chips, and the frame-deadline part judged on it
    assert set(in_car["chips"]) == {"tesla-fsd-hw3", "tesla-ai4-hw4", "tesla-ai5", "nvidia-jetson-agx-orin-64gb",
                                    "nvidia-drive-agx-thor"}
    assert (in_car["cameras"], in_car["fps"]) == (8, 36.0)
    fd = next(p for p in data["claim_parts"] if p["part"] == "frame_deadlines")
    assert fd == in_car["frame_deadlines"] and fd["probability"] is not None
    assert fd["verdict"] == verdict(fd["probability"])
    order = [html.index(f'id="{s}"') for s in ("claim", "in-car", "verdict", "summary")]
    assert order == sorted(order)


def test_year_2027_adds_the_parts_ai5_will_meet():
    from inferchip.catalog.competitors import DEFAULT_REVIEW_YEAR, competitors_for_year
    from inferchip.review.inputs import resolve, review_year

    got = resolve(ReviewConfig(year=2027, models=[L8]))
    chips, claim = got.chips, got.claim
    ids = {c.id for c in chips}
    assert set(competitors_for_year(2027)) <= ids and claim.id == "tesla-ai5"
    assert ids - set(competitors_for_year(DEFAULT_REVIEW_YEAR)) - {"tesla-ai5"}  # more than the default year's
    assert review_year(ReviewConfig()) == DEFAULT_REVIEW_YEAR and review_year(ReviewConfig(year=2027)) == 2027


def test_the_claimed_chip_is_deployed_as_its_claim_file_says():
    from inferchip.review.inputs import resolve

    claim = resolve(ReviewConfig(chips=[], models=[L8])).claim
    assert claim.deployed and claim.weights == load_claim().deployment.weights
    assert claim.domain == claim.params.max_scaleup_domain > 1  # a board of several chips
    alone = resolve(ReviewConfig(chips=[], models=[L8], deploy_claim=False)).claim
    assert not alone.deployed and alone.weights is None


def test_summary_and_tables_agree(fast_claim):
    """The verdict's first places, the rows' ranks and the suite ranks come from one table."""
    res = fast_claim
    from inferchip.review.ranking import METRICS, rank_case

    for name, met in METRICS.items():
        for (mid, slo), vals in res.tables[name].items():
            ranks = rank_case(vals, met.higher_is_better)
            for r in res.rows:
                if r["setting"] == "domain" and (r["model_id"], r["slo"]) == (mid, slo):
                    assert r.get(f"rank_{name}") == ranks[r["chip_id"]]
                    if r["status"] != "ok":
                        assert ranks[r["chip_id"]] is None  # unserved: shown, not ranked
    firsts = sum(1 for r in res.rows if r["setting"] == "domain" and r["is_claim"] and r.get(f"rank_{res.metric}") == 1)
    assert res.verdict["first_places"] == firsts


def _rows(html: str, section: str) -> list[list[str]]:
    """The text of each body row of the first table in the section ``id=section``."""
    import html as h

    part = html[html.index(f'id="{section}"'):]
    body = part[part.index("<tbody>"):part.index("</tbody>")]
    return [[h.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body)]


def test_claim_parts_agree_wherever_they_are_shown(small_run):
    """Each part's verdict and probability read the same in results.json, its own 'what decides it', the
    report's first screen and the terminal; the rival named is the one in the words."""
    data, html, out = small_run
    parts, n = data["claim_parts"], data["monte_carlo_samples"]
    screen = _rows(html, "claim")
    assert len(screen) == len(parts)
    terminal = " ".join(out.replace("\u2502", " ").split())  # the panels' borders and wrapping undone
    for p, row in zip(parts, screen, strict=True):
        assert p["verdict"] == verdict(p["probability"])
        assert row[0] == f"{p['label']}figure: {p['metric']} ({p['unit']})"  # the label, then its figure and unit
        d = p.get("deployment")  # lowest-cost silicon: its verdict on the serving deployment under its own
        below = (f"serving deployment: {d['verdict']} ({pct(d['probability'])}; "
                 f"{'moves' if d['moves'] else 'same verdict'})" if d else "")
        assert (d is not None) == (p["part"] == "lowest_cost_silicon")
        assert row[2] == p["verdict"] + below and row[3] == pct(p["probability"])
        rival = p.get("rival")
        names = {c["id"]: c["name"] for c in data["chips"]}
        assert row[4].startswith(names.get(rival) or load_chip(rival).name) if rival else row[4] == "-"
        prob = "not judged" if p["probability"] is None else f"P = {pct(p['probability'])}"
        view = f" (on {p['view']} prices)" if p["view"] else ""
        assert f"{p['label']}{view}: {p['verdict']} ({prob})" in terminal
        if p["probability"] is None:
            continue
        assert f"in {pct(p['probability'])} of {n:,} samples" in p["decided_by"]
        # the rival by its catalogue name in the words (review44), by id in the data field
        rival_name = (names.get(p["rival"]) or load_chip(p["rival"]).name).split(" (", 1)[0]
        assert rival_name in p["decided_by"] and p["rival"] not in p["decided_by"]
        assert p["rival"] != data["settings"]["claim"]
        if p["part"] not in ("lowest_cost_silicon", "frame_deadlines"):
            assert ("(first at the central" in p["decided_by"]) == p["holds_at_central"]


def test_the_in_car_table_agrees_with_its_part(small_run):
    """The rig's frame-deadline part is decided by the table beside it: the claimed chip's P(fastest) is the
    part's probability, and at the central figures it holds exactly when the claimed chip's p99 is the lowest
    among the chips within the deadline."""
    data, html, _ = small_run
    ic, claim = data["in_car"], data["settings"]["claim"]
    part = ic["frame_deadlines"]
    rows = {r["chip"]: r for r in ic["rows"] if "error" not in r}
    assert rows[claim]["p_fastest"] == pytest.approx(part["probability"])
    assert sum(r["p_fastest"] for r in rows.values()) <= 1 + 1e-9
    within = {c: r["latency_p99_ms"] for c, r in rows.items() if r["latency_p99_ms"] <= ic["deadline_ms"]}
    assert part["holds_at_central"] == (claim in within and within[claim] == min(within.values()))
    shown = {r[0].replace(" (estimate)", ""): r for r in _rows(html, "in-car")}  # the chips by their short names
    name = short_name(next(c["name"] for c in data["chips"] if c["id"] == claim))
    assert shown[name][-1] == pct(part["probability"]) and shown[name][2] == cell(rows[claim]["latency_p99_ms"], "g")
