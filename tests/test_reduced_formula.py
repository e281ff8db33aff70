"""Tests for fingerprints.reduced_formula: canonical reduced formulas (checked against pymatgen)."""

from __future__ import annotations

import math

import pytest

from fingerprints.reduced_formula import ELECTRONEGATIVITY_ORDER, reduce_column, reduced_formula, reduced_formulas


def test_reduced_formula_is_canonical():
    for written in ("K4Mn4O8", "KMnO2", "O2MnK", "K0.5Mn0.5O", "K2(MnO2)2", "Mn K O2"):
        assert reduced_formula(written) == "KMnO2"
    assert reduced_formula("Fe2O3") == "Fe2O3"
    assert reduced_formula("O3Fe2") == "Fe2O3"
    assert reduced_formula("Sr(AlH)2") == "SrAl2H2"
    assert reduced_formula("Li1.2Mn0.6Ni0.2O2") == "Li6Mn3NiO10"
    assert reduced_formula("Fe0.333333O") == "FeO3"  # within 1e-6 of 1/3
    # No small fraction: ratios to the smallest amount, 10 significant digits.
    assert reduced_formula("Fe2O2.8284272") == reduced_formula("O1.4142136Fe") == "FeO1.4142136"
    assert reduced_formula("Fe0.7071068O") == "FeO1.414213525"
    assert reduced_formula("SiO2He") == reduced_formula("HeSiO2") == "SiO2He"  # pymatgen's order depends on input
    for formula in ("KMnO2", "Fe2O3", "Li6Mn3NiO10", "FeO1.4142136", "SiO2He", "Li101O103"):
        assert reduced_formula(formula) == formula


def test_reduced_formulas_reports_failures_without_raising():
    frame = reduced_formulas(["K4Mn4O8", "Xx2O", None, "O2MnK", "Fe2O3"])
    assert frame["formula"].tolist() == ["KMnO2", "", "", "KMnO2", "Fe2O3"]
    assert frame["elements"].tolist() == ["K-Mn-O", "", "", "K-Mn-O", "Fe-O"]
    assert frame["n_elements"].tolist() == [3, 0, 0, 3, 2]
    assert frame["error"].iloc[0] == "" and frame["error"].iloc[4] == ""
    assert "Xx" in frame["error"].iloc[1]
    assert "missing value" in frame["error"].iloc[2]


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
def test_electronegativity_order_matches_pymatgen():
    from pymatgen.core import Element

    from fingerprints.elements import SYMBOLS

    def rank(symbol):
        x = Element(symbol).X
        return (math.inf if math.isnan(x) else x, symbol)

    assert ELECTRONEGATIVITY_ORDER == tuple(sorted(SYMBOLS, key=rank))


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
def test_reduced_formula_agrees_with_pymatgen():
    from pymatgen.core import Composition

    sample = [
        "K4Mn4O8", "Fe8O12", "LiFePO4", "Sr3CaTiMn3O12", "CdH8(NO5)2", "Ga2(WO4)3", "Mg17(As3O16)2",
        "Eu(CdAs)2", "CsAlH24(SO10)2", "Co8Ge12Li12O48", "O6Si2Zn2", "Hf1Mg6Sb1", "Ce2K1Mn1", "Li2O1",
        "Li1.2Mn0.6Ni0.2O2", "Ba0.5Sr0.5TiO3", "NaCl", "C60", "Fe", "U3O8", "Ca3(Al(SiO4))2",
    ]  # fmt: skip
    for formula in sample:
        ours = reduced_formula(formula)
        assert Composition(ours).fractional_composition.almost_equals(
            Composition(formula).fractional_composition, rtol=1e-9
        ), formula
        if "." not in formula:  # pymatgen reduces whole-number formulas only
            # Same pymatgen formula: only pymatgen's polyanion brackets make the strings differ.
            assert Composition(ours).reduced_formula == Composition(formula).reduced_formula, formula
    # Without brackets in pymatgen's answer the strings are identical.
    for formula in ("K4Mn4O8", "Fe8O12", "LiFePO4", "Sr3CaTiMn3O12", "NaCl", "U3O8"):
        assert reduced_formula(formula) == Composition(formula).reduced_formula


def test_each_distinct_formula_is_reduced_once_and_shown_to_the_progress_hook():
    seen = []

    def progress(items):
        seen.append(list(items))
        return items

    column = reduce_column(["K4Mn4O8", "KMnO2", "K4Mn4O8", None, "Xx2O"], progress=progress)
    assert seen == [["K4Mn4O8", "KMnO2", "Xx2O"]]  # one call, distinct strings, no missing value
    assert column.key.tolist() == [0, 0, 0, -1, -1]  # two strings of one composition share an id
    assert column.formulas.tolist() == ["KMnO2"]
    assert column.systems.tolist() == ["K-Mn-O"] and column.sizes.tolist() == [3]
    assert column.error[3].startswith("missing value") and "Xx" in column.error[4]
