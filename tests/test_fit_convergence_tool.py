"""tools/calibration/fit_convergence.py: a fold it cannot fit is refused, naming the allowed ones; a fit's stop
is printed with its evaluations."""

from __future__ import annotations

import re
import sys

import pytest
from tests.conftest import load_tool

fc = load_tool("fit_convergence")


def test_an_unknown_fold_is_refused_naming_the_accelerators(monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["fit_convergence.py", "--fold", "no-such-chip"])
    with pytest.raises(SystemExit, match=r"--fold 'no-such-chip'.*allowed: all, amd-mi300x"):
        fc.main()


def test_a_fit_at_a_limit_of_two_evaluations_says_it_did_not_converge(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["fit_convergence.py", "--max-evaluations", "2"])
    fc.main()
    out = capsys.readouterr().out
    assert re.search(r"full fit on \d+ rows: stopped at the evaluation limit \(not converged\) after 2 residual "
                     r"evaluations \(status 0: ", out)
