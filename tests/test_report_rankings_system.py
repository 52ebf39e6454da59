"""The ranking tables' "chips per system" cell (interfaces/report/tables._system_cell): the system a row is judged
on, with its basis on hover; a sized (layer-pipelined) chip that no deployment up to the bound serves reads
"none ≤ N", not a blank."""

from __future__ import annotations

from inferchip.interfaces.report.tables import _system_cell


def test_domain_row_gives_its_chips_with_the_basis_on_hover():
    cell = _system_cell({"deployment_chips": 72, "deployment_basis": "its scale-up domain: 72 chips",
                         "status": "ok"})
    assert cell == '<span title="its scale-up domain: 72 chips">72</span>'


def test_sized_row_that_nothing_serves_reads_none_up_to_the_bound():
    cell = _system_cell({"deployment_chips": 1024, "deployment_basis": "sized: the smallest multiple of 8 chips",
                         "status": "does not fit"})
    assert ">none ≤ 1,024<" in cell


def test_sized_row_served_gives_its_count():
    cell = _system_cell({"deployment_chips": 96, "deployment_basis": "sized: the smallest multiple of 8 chips",
                         "status": "ok"})
    assert ">96<" in cell
