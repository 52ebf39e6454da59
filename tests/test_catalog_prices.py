"""The sourced price table, the unpriced list and the year-matched competitor sets (catalog/prices*, competitors*)."""

from __future__ import annotations

import pytest

from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.catalog.competitors import (
    DEFAULT_REVIEW_YEAR,
    competitors_for_year,
    npu_board_chips,
    read_competitors,
    review_years,
)
from inferchip.catalog.prices import PriceQuote, load_prices, load_unpriced, read_prices, read_unpriced
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.review.inputs import DEFAULT_CHIPS, DEFAULT_CLAIM
from inferchip.spec.chip import Range

HEADER = "chip_id,basis,covers,price_usd,low_usd,high_usd,estimate,source,url,date,note\n"
GOOD = "nvidia-h100-sxm-80gb,street,accelerator,27500,25000,30000,no,Some report,https://x.example,2026-01,\n"


def _write(tmp_path, text, name="prices.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _reviewed() -> set[str]:
    ids = set(DEFAULT_CHIPS) | {DEFAULT_CLAIM}
    for year in review_years():
        ids |= set(competitors_for_year(year))
    return ids


# ---------------------------------------------------------------- bundled data


def test_every_reviewed_chip_has_a_price_quote_or_is_listed_unpriced():
    prices, unpriced = load_prices(), load_unpriced()
    missing = sorted(c for c in _reviewed() if c not in prices and c not in unpriced)
    assert not missing, f"reviewed chips with neither a price quote nor an unpriced entry: {missing}"
    assert not set(prices) & set(unpriced)


def test_every_quote_and_unpriced_entry_names_a_catalogue_chip_a_source_and_a_date():
    known = set(chip_ids())
    for q in load_prices().values():
        assert q.chip_id in known
        assert q.source.strip() and q.date[:4].isdigit() and 2019 <= int(q.date[:4]) <= 2027
        assert q.low_usd <= q.price_usd <= q.high_usd
        if q.estimate:  # an estimate says whose
            whose = ("inferchip", "analyst", "hsbc", "morgan stanley", "semianalysis")
            assert any(w in q.source.lower() for w in whose)
    for u in load_unpriced().values():
        assert u.chip_id in known and u.reason.strip() and u.source.strip()


def test_chip_yaml_prices_agree_with_the_price_table():
    # Two places hold a price (the chip YAML for predict/cost, the table for the review): they must not drift.
    for q in load_prices().values():
        usd = load_chip(q.chip_id).price.usd
        assert usd is not None, f"{q.chip_id}: quoted in prices.csv but no price.usd in its YAML"
        central = usd.central if isinstance(usd, Range) else usd
        assert central == pytest.approx(q.price_usd), q.chip_id


def test_every_reviewed_chip_has_a_tdp_and_can_be_costed_by_the_silicon_model():
    for c in sorted(_reviewed()):
        spec = load_chip(c)
        assert spec.power.tdp_w is not None, f"{c}: no TDP"
        assert spec.silicon.die_area_mm2 is not None and spec.silicon.node_nm is not None, f"{c}: no die area or node"
        assert spec.memory.memory_type is not None, f"{c}: no memory type"


# ---------------------------------------------------------------- bad input


def test_a_row_without_source_names_file_line_and_column(tmp_path):
    p = _write(tmp_path, HEADER + GOOD + "amd-mi300x,street,accelerator,15000,10000,20000,no,,https://x.example,2024,\n")
    with pytest.raises(SpecError) as err:
        read_prices(p)
    msg = str(err.value)
    assert str(p) in msg and "line 3" in msg and "amd-mi300x" in msg and "source" in msg


def test_a_row_without_date_or_with_a_non_iso_date_is_refused(tmp_path):
    p = _write(tmp_path, HEADER + "amd-mi300x,street,accelerator,15000,10000,20000,no,Report,,,\n")
    with pytest.raises(SpecError, match=r"line 2.*date"):
        read_prices(p)
    p = _write(tmp_path, HEADER + "amd-mi300x,street,accelerator,15000,10000,20000,no,Report,,March 2024,\n", "b.csv")
    with pytest.raises(SpecError, match=r"date = 'March 2024'.*ISO 8601"):
        read_prices(p)


def test_low_above_high_is_refused_with_the_three_values(tmp_path):
    p = _write(tmp_path, HEADER + "amd-mi300x,street,accelerator,15000,20000,10000,no,Report,,2024,\n")
    with pytest.raises(SpecError) as err:
        read_prices(p)
    msg = str(err.value)
    assert str(p) in msg and "line 2" in msg and "low_usd <= price_usd <= high_usd" in msg and "20000" in msg


@pytest.mark.parametrize(
    "row, what",
    [
        ("amd-mi300x,wholesale,accelerator,15000,10000,20000,no,Report,,2024,\n", "basis"),
        ("amd-mi300x,street,accelerator,cheap,10000,20000,no,Report,,2024,\n", "price_usd = 'cheap'"),
        ("amd-mi300x,street,accelerator,inf,10000,20000,no,Report,,2024,\n", "finite"),
        ("amd-mi300x,street,accelerator,-5,-10,20000,no,Report,,2024,\n", "low_usd"),
        ("amd-mi300x,street,accelerator,15000,10000,20000,maybe,Report,,2024,\n", "estimate = 'maybe'"),
        ("amd-mi300x,street,accelerator,15000,10000,20000,no,Report,2024,\n", "cells"),
    ],
)
def test_other_bad_cells_are_named(tmp_path, row, what):
    p = _write(tmp_path, HEADER + row)
    with pytest.raises(SpecError, match="line 2") as err:
        read_prices(p)
    assert what in str(err.value)


def test_a_chip_quoted_twice_and_a_wrong_header_are_refused(tmp_path):
    with pytest.raises(SpecError, match="twice"):
        read_prices(_write(tmp_path, HEADER + GOOD + GOOD))
    with pytest.raises(SpecError, match="missing date"):
        read_prices(_write(tmp_path, HEADER.replace(",date", "") + GOOD, "h.csv"))


def test_a_good_table_reads_into_quotes(tmp_path):
    q = read_prices(_write(tmp_path, "# comment\n" + HEADER + GOOD))["nvidia-h100-sxm-80gb"]
    assert isinstance(q, PriceQuote)
    assert (q.basis, q.covers, q.low_usd, q.price_usd, q.high_usd) == ("street", "accelerator", 25000, 27500, 30000)
    assert q.estimate is False and q.date == "2026-01"


def test_an_unpriced_row_needs_a_reason(tmp_path):
    p = _write(tmp_path, "chip_id,reason,source,url,date\ngoogle-tpu7x-ironwood,,Google,,2025\n", "u.csv")
    with pytest.raises(SpecError, match=r"line 2.*reason"):
        read_unpriced(p)


# ---------------------------------------------------------------- competitors


def test_unknown_year_lists_the_allowed_years():
    with pytest.raises(InvalidSettingError) as err:
        competitors_for_year(1999)
    for y in review_years():
        assert str(y) in str(err.value)


def test_default_year_is_a_known_year_and_its_set_is_todays_default_set():
    assert DEFAULT_REVIEW_YEAR in review_years()
    assert competitors_for_year(DEFAULT_REVIEW_YEAR) == DEFAULT_CHIPS


def test_2027_adds_the_parts_ai5_will_meet():
    now, later = set(competitors_for_year(2025)), set(competitors_for_year(2027))
    assert now < later
    added = later - now
    for family in ("b300", "gb300", "rubin", "mi455x", "trainium3"):
        assert any(family in c for c in added), family
    for c in added:  # each new part loads and is either measured or flagged as an estimate with Ranges
        spec = load_chip(c)
        assert spec.year is not None and spec.year >= 2025


def test_bad_competitor_files_name_file_and_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("years:\n  2025:\n    note: x\n    chips: [a, a]\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"c\.yaml.*twice"):
        read_competitors(p)
    p.write_text("years:\n  next: {note: x, chips: [a]}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"c\.yaml"):
        read_competitors(p)


def test_the_claimed_chip_is_deployed_as_an_npu_board():
    assert DEFAULT_CLAIM in npu_board_chips()
