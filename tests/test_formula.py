"""Tests of fingerprints.formula: hand-written cases, pymatgen as the reference, batches."""

from __future__ import annotations

import math
import os
import re
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from fingerprints import formula as formula_module
from fingerprints.elements import MAX_Z, SYMBOL_TO_INDEX, SYMBOLS
from fingerprints.formula import (
    MAX_AMOUNT,
    MAX_FORMULA_LENGTH,
    FormulaBatch,
    FormulaError,
    formula_fractions,
    parse_formula,
    parse_formulas,
)

BEYOND_CF = ["Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
             "Nh", "Fl", "Mc", "Lv", "Ts", "Og"]  # fmt: skip

# FORMULA_MAX_EXAMPLES=20000 for a long soak; the default keeps the file well under 30 s.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("FORMULA_MAX_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def approx_dict(expected: dict[str, float], tol: float = 1e-12):
    return pytest.approx(expected, rel=tol, abs=tol)


def pymatgen_fractions(formula: str) -> dict[str, float]:
    return {str(el): amount for el, amount in Composition(formula).fractional_composition.items()}


# --------------------------------------------------------------------------- hand-written


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("Fe2O3", {"Fe": 2, "O": 3}),
        ("NaCl", {"Na": 1, "Cl": 1}),
        ("O2", {"O": 2}),
        ("C", {"C": 1}),
        ("Cf", {"Cf": 1}),
        ("LiFePO4", {"Li": 1, "Fe": 1, "P": 1, "O": 4}),
        ("Ba0.5Sr0.5TiO3", {"Ba": 0.5, "Sr": 0.5, "Ti": 1, "O": 3}),
        ("La0.7Sr0.3MnO3", {"La": 0.7, "Sr": 0.3, "Mn": 1, "O": 3}),
        ("Li1.2Mn0.6Ni0.2O2", {"Li": 1.2, "Mn": 0.6, "Ni": 0.2, "O": 2}),
        ("Cu1.8S", {"Cu": 1.8, "S": 1}),
        ("Fe2.5O3", {"Fe": 2.5, "O": 3}),
        ("Fe.5O", {"Fe": 0.5, "O": 1}),
        ("Fe2.O3", {"Fe": 2, "O": 3}),
        ("Fe2.", {"Fe": 2}),
        ("Fe02O3", {"Fe": 2, "O": 3}),
        ("CH3COOH", {"C": 2, "H": 4, "O": 2}),
        ("OFeOFeO", {"O": 3, "Fe": 2}),
        ("Ca3(Al(SiO4))2", {"Ca": 3, "Al": 2, "Si": 2, "O": 8}),
        ("Ca3Al2(SiO4)3", {"Ca": 3, "Al": 2, "Si": 3, "O": 12}),
        ("Li3Fe2(PO4)3", {"Li": 3, "Fe": 2, "P": 3, "O": 12}),
        ("((CH3)2)3", {"C": 6, "H": 18}),
        ("(Fe)0.5O", {"Fe": 0.5, "O": 1}),
        ("(Fe2.)3", {"Fe": 6}),
        ("Fe(O)2.", {"Fe": 1, "O": 2}),
        ("Fe2. ", {"Fe": 2}),
        ("K4[Fe(CN)6]", {"K": 4, "Fe": 1, "C": 6, "N": 6}),
        ("{Fe(CN)6}2", {"Fe": 2, "C": 12, "N": 12}),
        ("[Co(NH3)6]Cl3", {"Co": 1, "N": 6, "H": 18, "Cl": 3}),
        ("Fe2 O3", {"Fe": 2, "O": 3}),
        ("  Fe 2 O 3\n", {"Fe": 2, "O": 3}),
        ("Ca3 ( Al ( Si O4 ) ) 2", {"Ca": 3, "Al": 2, "Si": 2, "O": 8}),
        ("Fe\t2O3", {"Fe": 2, "O": 3}),
    ],
)
def test_parse_formula_amounts(formula, expected):
    assert parse_formula(formula) == approx_dict({k: float(v) for k, v in expected.items()})


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        # unambiguous hydrate dots
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4•5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4⋅5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4 · 5 H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CaSO4·0.5H2O", {"Ca": 1, "S": 1, "O": 4.5, "H": 1}),
        ("CuSO4·H2O", {"Cu": 1, "S": 1, "O": 5, "H": 2}),
        ("K2SO4·Al2(SO4)3·24H2O", {"K": 2, "S": 4, "O": 40, "Al": 2, "H": 48}),
        ("ZnSO4·(H2O)7", {"Zn": 1, "S": 1, "O": 11, "H": 14}),
        ("(CuSO4·5H2O)2", {"Cu": 2, "S": 2, "O": 18, "H": 20}),
        ("Fe2O3·3SiO2", {"Fe": 2, "O": 9, "Si": 3}),
        # '.' as a hydrate dot (the documented rule)
        ("CuSO4.5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("Na2CO3.10H2O", {"Na": 2, "C": 1, "O": 13, "H": 20}),
        ("MgSO4.7H2O", {"Mg": 1, "S": 1, "O": 11, "H": 14}),
        ("CaSO4.0.5H2O", {"Ca": 1, "S": 1, "O": 4.5, "H": 1}),
        ("CuSO4.1.5H2O", {"Cu": 1, "S": 1, "O": 5.5, "H": 3}),
        ("NaBr.2H2O", {"Na": 1, "Br": 1, "H": 4, "O": 2}),
        ("CuSO4.H2O", {"Cu": 1, "S": 1, "O": 5, "H": 2}),
        ("H2O·2HH1.H", {"H": 8, "O": 1}),  # "1." is a decimal point: the unit is HH1.H
        ("LiCl.H2O", {"Li": 1, "Cl": 1, "H": 2, "O": 1}),
        ("CuSO4. 5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("NiCl2.6NH3", {"Ni": 1, "Cl": 2, "N": 6, "H": 18}),
        ("Mg6Al2(OH)16CO3.4H2O", {"Mg": 6, "Al": 2, "O": 23, "H": 24, "C": 1}),
        ("Fe(OH)2.5H2O", {"Fe": 1, "O": 7, "H": 12}),
        # '.' as a decimal point (the rule keeps pymatgen's reading)
        ("Li1.2MnO3", {"Li": 1.2, "Mn": 1, "O": 3}),
        ("CuSO4.05H2O", {"Cu": 1, "S": 1, "O": 5.05, "H": 2}),
        ("LaNi4.5H6", {"La": 1, "Ni": 4.5, "H": 6}),
        ("Li1.5Al0.5Ge1.5(PO4)3", {"Li": 1.5, "Al": 0.5, "Ge": 1.5, "P": 3, "O": 12}),
    ],
)
def test_hydrates(formula, expected):
    assert parse_formula(formula) == approx_dict({k: float(v) for k, v in expected.items()})


def test_hydrate_dot_reading_differs_from_pymatgen_on_purpose():
    # pymatgen reads CuSO4.5H2O as Cu S O4.5 H2 O; the product wants the pentahydrate.
    assert pymatgen_fractions("CuSO4.5H2O")["O"] == pytest.approx(5.5 / 9.5)
    assert formula_fractions("CuSO4.5H2O") == approx_dict(formula_fractions("CuSO4·5H2O"))
    # Without hydrogen in the following unit both read a decimal.
    assert formula_fractions("Li1.2MnO3") == approx_dict(pymatgen_fractions("Li1.2MnO3"))


def test_formula_fractions_sum_to_one():
    fractions = formula_fractions("Ba0.5Sr0.5TiO3")
    assert fractions == approx_dict({"Ba": 0.1, "Sr": 0.1, "Ti": 0.2, "O": 0.6})
    assert math.isclose(sum(fractions.values()), 1.0)


def test_parse_formula_keeps_first_appearance_order():
    assert list(parse_formula("OFeOFeO")) == ["O", "Fe"]


REJECTIONS = [
    ("", "empty formula"),
    ("   ", "empty formula"),
    ("\n\t", "empty formula"),
    ("Fe2Xx3", "unknown element symbol 'Xx'"),
    ("Fe2Q", "unknown element symbol 'Q'"),
    ("X2O", "unknown element symbol 'X'"),
    ("Hfe2", "unknown element symbol 'Hfe'"),
    ("Uue", "unknown element symbol 'Uue'"),
    ("FE2O3", "unknown element symbol 'E'"),
    ("D2O", "isotope symbol 'D'"),
    ("Es2O3", "element beyond Cf (Z = 99) is not supported"),
    ("FeFm", "element beyond Cf (Z = 100) is not supported"),
    ("Og", "element beyond Cf (Z = 118) is not supported"),
    ("Fe0O2", "amount for Fe is zero"),
    ("Fe0.000O2", "amount for Fe is zero"),
    ("(FeO)0", "multiplier for the group '(FeO)' is zero"),
    ("CuSO4·0H2O", "is zero"),
    ("Fe-2O3", "negative amount for Fe '-2'"),
    ("Fe2O3-", "unexpected character '-'"),
    ("-2Fe", "negative number '-2'"),
    ("Fe2(O3", "unbalanced parentheses: '(' at position 3 is never closed"),
    ("((Fe)O3", "unbalanced parentheses: '(' at position 0 is never closed"),
    ("Fe2O3)", "unbalanced parentheses: ')' at position 5 has no opening bracket"),
    ("(Fe2O3]", "unbalanced parentheses: '(' at position 0 is closed by ']' at position 6"),
    ("[Fe2O3}", "unbalanced parentheses: '[' at position 0 is closed by '}' at position 6"),
    ("Fe2()", "empty group '()' at position 3"),
    ("Fe2O3!", "unexpected character '!' at position 5"),
    ("Fe2+O3", "unexpected character '+' at position 3"),
    ("Y3N@C80", "unexpected character '@' at position 3"),
    ("fe2O3", "unexpected character 'f' at position 0"),
    ("Fe1e2", "exponent notation is not supported"),
    ("Fe2O3*H2O", "unexpected character '*'"),
    ("Fe2O3.xH2O", "unexpected character 'x' at position 6 (variable amounts"),
    ("Li1-xFexPO4", "unexpected character '-' at position 3 (variable amounts"),
    ("2H2O", "number '2' at position 0 has nothing to multiply"),
    ("Fe2O3 2", "number '2' at position 6 has nothing to multiply"),
    ("Fe2 3O", "number '3' at position 4 has nothing to multiply"),
    ("(2)", "number '2' at position 1 has nothing to multiply"),
    ("·5H2O", "hydrate dot '·' at position 0 has nothing before it"),
    ("CuSO4··H2O", "hydrate dot '·' at position 6 has nothing before it"),
    ("CuSO4·", "hydrate dot '·' at position 5 has nothing after it"),
    ("Fe.", "hydrate dot '.' at position 2 has nothing after it"),
    ("CuSO4·5", "multiplier '5' after the hydrate dot '·' at position 5 has nothing to multiply"),
    ("Fe2.5.3", "has nothing to multiply"),
    ("Fe2..O3", "unexpected character '.' at position 4 (two dots in a row)"),
    ("Fe2 .", "hydrate dot '.' at position 4 has nothing after it"),
    ("Fe2000000O", "amount for Fe is absurdly large"),
    ("Fe" + "9" * 200, "amount for Fe is absurdly large"),
    ("((Fe1000)1000)2", "total amount of Fe is absurdly large"),
    ("Fe" * 200, "absurd length: 400 characters (limit 256)"),
]


@pytest.mark.parametrize(("formula", "reason"), REJECTIONS)
def test_rejections_name_formula_and_reason(formula, reason):
    with pytest.raises(FormulaError) as info:
        parse_formula(formula)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.formula == formula
    assert reason in err.reason
    message = str(err)
    assert reason in message
    assert repr(formula)[:40] in message  # long formulas are shortened in the message
    assert message.startswith("invalid formula ")


def test_error_message_example_from_the_spec():
    with pytest.raises(FormulaError) as info:
        parse_formula("Fe2Xx3")
    assert str(info.value) == "invalid formula 'Fe2Xx3': unknown element symbol 'Xx'"
    assert info.value.reason == "unknown element symbol 'Xx'"


def test_formula_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(FormulaError("Fe2Q", "unknown element symbol 'Q'")))
    assert (err.formula, err.reason) == ("Fe2Q", "unknown element symbol 'Q'")


@pytest.mark.parametrize("value", [None, float("nan"), 5, 2.5, b"Fe2O3", ["Fe"], True])
def test_parse_formula_non_strings_raise_formula_error(value):
    with pytest.raises(FormulaError, match="missing value|not a string"):
        parse_formula(value)


def test_max_length_is_configurable():
    long = "Fe2O3" * 60  # 300 characters
    with pytest.raises(FormulaError, match="absurd length: 300 characters"):
        parse_formula(long)
    assert parse_formula(long, max_length=1000) == {"Fe": 120.0, "O": 180.0}
    with pytest.raises(FormulaError, match="absurd length"):
        parse_formula("Fe2O3", max_length=4)
    assert MAX_FORMULA_LENGTH == 256


def test_absurd_length_is_rejected_before_parsing():
    huge = "(" * 10_000_000  # would be slow (and deeply nested) if anything parsed it
    start = time.perf_counter()
    with pytest.raises(FormulaError, match="absurd length: 10000000 characters"):
        parse_formula(huge)
    assert time.perf_counter() - start < 0.01
    # ... and a long input whose brackets are deeply nested does not hit the recursion limit
    deep = "(" * 5000 + "Fe" + ")" * 5000
    assert parse_formula(deep, max_length=20_000) == {"Fe": 1.0}


def test_non_finite_amount():
    # 400 digits overflow a float; only reachable with a raised max_length.
    with pytest.raises(FormulaError, match="amount for Fe is not finite"):
        parse_formula("Fe" + "9" * 400, max_length=1000)
    with pytest.raises(FormulaError, match="multiplier for the group '\\(Fe\\)' is not finite"):
        parse_formula("(Fe)" + "9" * 400, max_length=1000)


def test_max_amount_boundary():
    assert parse_formula(f"Fe{int(MAX_AMOUNT)}") == {"Fe": MAX_AMOUNT}
    with pytest.raises(FormulaError, match="absurdly large"):
        parse_formula(f"Fe{int(MAX_AMOUNT) + 1}")


# --------------------------------------------------------------------- pymatgen reference

ELEMENTS = st.sampled_from(SYMBOLS)
WS = st.sampled_from(["", "", "", " ", "  ", "\t"])
BRACKETS = st.sampled_from([("(", ")"), ("[", "]"), ("{", "}")])


@st.composite
def amounts(draw, *, allow_empty: bool = True, max_int: int = 99) -> str:
    kind = draw(st.sampled_from(["none", "int", "int", "decimal", "decimal", "dot-leading", "dot-trailing"]))
    if kind == "none" and allow_empty:
        return ""
    if kind == "decimal":
        whole = draw(st.integers(0, max_int))
        frac = draw(st.integers(1, 999))
        digits = draw(st.integers(len(str(frac)), 4))
        return f"{whole}.{frac:0{digits}d}"
    if kind == "dot-leading":
        return f".{draw(st.integers(1, 99))}"
    if kind == "dot-trailing":
        return f"{draw(st.integers(1, max_int))}."
    return str(draw(st.integers(1, max_int)))


@st.composite
def terms(draw) -> str:
    return f"{draw(WS)}{draw(ELEMENTS)}{draw(WS)}{draw(amounts())}{draw(WS)}"


def groups(children):
    @st.composite
    def group(draw) -> str:
        open_, close = draw(BRACKETS)
        inner = "".join(draw(st.lists(children, min_size=1, max_size=3)))
        multiplier = draw(amounts(max_int=9))
        return f"{open_}{inner}{close}{draw(WS)}{multiplier}"

    return group()


LONG = 10_000  # generated formulas may exceed MAX_FORMULA_LENGTH; length is tested elsewhere
ITEMS = st.recursive(terms(), lambda children: groups(children), max_leaves=6)
FORMULAS = st.lists(ITEMS, min_size=1, max_size=4).map("".join)
SHORT_FORMULAS = st.lists(terms(), min_size=1, max_size=3).map("".join)  # cheap to draw

# Decimal amounts in front of a hydrogen-bearing unit are where our '.' rule may read a
# hydrate dot and pymatgen a decimal point: tested separately, not against pymatgen.
_MAYBE_HYDRATE_DOT = re.compile(r"\.\d")
_HYDROGEN = re.compile(r"H(?![a-z])")


def _not_a_hydrate_candidate(formula: str) -> bool:
    return not (_MAYBE_HYDRATE_DOT.search(formula) and _HYDROGEN.search(formula))


@PROPERTY_SETTINGS
@given(FORMULAS)
def test_fractions_agree_with_pymatgen(formula):
    assume(_not_a_hydrate_candidate(formula))
    try:
        expected = pymatgen_fractions(formula)
    except Exception:  # noqa: BLE001 - only formulas pymatgen accepts are compared
        assume(False)
    ours = formula_fractions(formula, max_length=LONG)
    assert ours == approx_dict(expected)


@PROPERTY_SETTINGS
@given(FORMULAS, st.sampled_from(["·", "•", "⋅"]), st.sampled_from(["", "2", "5", "0.5", "12"]), SHORT_FORMULAS)
def test_hydrate_dots_add_multiplied_units(first, dot, multiplier, second):
    assume(_not_a_hydrate_candidate(first) and _not_a_hydrate_candidate(second))
    assume(not second.lstrip()[:1].isdigit())
    try:
        expected = Composition(first) + float(multiplier or 1) * Composition(second)
    except Exception:  # noqa: BLE001
        assume(False)
    ours = formula_fractions(f"{first}{dot}{multiplier}{second}", max_length=LONG)
    assert ours == approx_dict({str(el): x for el, x in expected.fractional_composition.items()})


@PROPERTY_SETTINGS
@given(
    SHORT_FORMULAS,
    st.integers(1, 99),
    st.integers(1, 30),
    st.sampled_from(["H2O", "NH3", "CH3OH", "HF", "H2O2"]),
)
def test_dot_before_integer_and_solvent_is_a_hydrate_dot(head, count, multiplier, solvent):
    # "<head><count>.<multiplier><solvent>" = head with count, plus multiplier solvents.
    assume(_not_a_hydrate_candidate(head))
    formula = f"{head}O{count}.{multiplier}{solvent}"
    expected = Composition(f"{head}O{count}") + multiplier * Composition(solvent)
    assert formula_fractions(formula, max_length=LONG) == approx_dict(
        {str(el): x for el, x in expected.fractional_composition.items()}
    )


@PROPERTY_SETTINGS
@given(FORMULAS, st.integers(0, 10), st.sampled_from(["Xx", "Xa", "X", "Q"] + BEYOND_CF))
def test_symbols_pymatgen_accepts_but_we_do_not(formula, where, symbol):
    # insert at a token boundary: before an uppercase letter or at the end
    boundaries = [i for i, c in enumerate(formula) if c.isupper()] + [len(formula)]
    position = boundaries[min(where, len(boundaries) - 1)]
    bad = f"{formula[:position]}{symbol}2{formula[position:]}"
    try:
        Composition(bad)
    except Exception:  # noqa: BLE001
        assume(False)
    with pytest.raises(FormulaError) as info:
        parse_formula(bad, max_length=LONG)
    if symbol in BEYOND_CF:
        z = 99 + BEYOND_CF.index(symbol)
        assert f"element beyond Cf (Z = {z}) is not supported" in info.value.reason
    else:
        assert info.value.reason == f"unknown element symbol {symbol!r}"


@PROPERTY_SETTINGS
@given(FORMULAS, st.sampled_from(SYMBOLS), st.sampled_from(["0", "00", "0.0", "0.000"]))
def test_zero_amounts_pymatgen_drops_are_rejected(formula, symbol, zero):
    bad = f"{formula}{symbol}{zero}"
    try:
        Composition(bad)  # pymatgen accepts it and silently drops the element
    except Exception:  # noqa: BLE001
        assume(False)
    with pytest.raises(FormulaError, match="is zero"):
        parse_formula(bad, max_length=LONG)


@PROPERTY_SETTINGS
@given(FORMULAS)
def test_batch_row_equals_single_parse(formula):
    batch = parse_formulas([formula, "Fe2O3", formula], max_length=LONG)
    try:
        expected = formula_fractions(formula, max_length=LONG)
    except FormulaError as err:
        assert batch.errors[0] == batch.errors[2] == err.reason
        assert batch.fractions[0].nnz == 0
        return
    row = batch.fractions[0].toarray().ravel()
    dense = np.zeros(MAX_Z)
    for symbol, x in expected.items():
        dense[SYMBOL_TO_INDEX[symbol]] = x
    np.testing.assert_allclose(row, dense, rtol=0, atol=1e-15)
    assert batch.errors[0] == ""


NUMBER_TEXTS = st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,9})?\Z").filter(lambda t: 0 < float(t) <= MAX_AMOUNT)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(NUMBER_TEXTS, NUMBER_TEXTS), min_size=1, max_size=20))
def test_vectorised_amounts_equal_float_of_the_text(pairs):
    # The vectorised pass computes amounts as mantissa / 10**decimals: must equal float(text).
    batch = parse_formulas([f"Fe{a}O{b}" for a, b in pairs])
    assert batch.n_failed == 0
    dense = batch.fractions.toarray()
    for i, (a, b) in enumerate(pairs):
        total = float(a) + float(b)
        assert dense[i, SYMBOL_TO_INDEX["Fe"]] == float(a) / total
        assert dense[i, SYMBOL_TO_INDEX["O"]] == float(b) / total


# --------------------------------------------------------------------------------- batches


def dense_row(fractions: dict[str, float]) -> np.ndarray:
    row = np.zeros(MAX_Z)
    for symbol, x in fractions.items():
        row[SYMBOL_TO_INDEX[symbol]] = x
    return row


def test_batch_structure_order_and_failures(batch_engine):
    inputs = ["Fe2O3", "Fe2Xx3", "NaCl", "", "Fe2O3", "CuSO4·5H2O", "Es2O3", "Ca3(Al(SiO4))2"]
    batch = parse_formulas(inputs)
    assert isinstance(batch, FormulaBatch)
    assert len(batch) == 8
    assert isinstance(batch.fractions, sp.csr_matrix)
    assert batch.fractions.shape == (8, MAX_Z)
    assert batch.fractions.dtype == np.float64
    assert batch.formulas.dtype == object and list(batch.formulas) == inputs
    assert batch.errors.dtype == object and batch.errors.shape == (8,)
    np.testing.assert_array_equal(batch.ok, [True, False, True, False, True, True, False, True])
    assert batch.ok.dtype == bool
    assert batch.n_failed == 3
    dense = batch.fractions.toarray()
    for i, formula in enumerate(inputs):
        if batch.ok[i]:
            np.testing.assert_allclose(dense[i], dense_row(formula_fractions(formula)), atol=1e-15)
            assert batch.errors[i] == ""
        else:
            assert not dense[i].any()
    np.testing.assert_allclose(dense.sum(axis=1), batch.ok.astype(float), atol=1e-12)

    failures = batch.failures()
    assert list(failures.columns) == ["row", "formula", "error"]
    assert failures["row"].tolist() == [1, 3, 6]
    assert failures["formula"].tolist() == ["Fe2Xx3", "", "Es2O3"]
    assert failures["error"].tolist() == [
        "unknown element symbol 'Xx'",
        "empty formula",
        "element beyond Cf (Z = 99) is not supported: 'Es'",
    ]
    assert "n_failed=3" in repr(batch)


def test_batch_with_no_failures_has_empty_failures_frame():
    batch = parse_formulas(["Fe2O3", "NaCl"])
    assert batch.n_failed == 0 and batch.ok.all()
    failures = batch.failures()
    assert failures.empty and list(failures.columns) == ["row", "formula", "error"]


def test_empty_batch(batch_engine):
    batch = parse_formulas([])
    assert len(batch) == 0
    assert batch.fractions.shape == (0, MAX_Z)
    assert batch.n_failed == 0
    assert batch.failures().empty


def test_batch_non_string_entries_become_failed_rows(batch_engine):
    inputs = ["Fe2O3", None, float("nan"), 5, 2.5, b"NaCl", pd.NA, np.nan, ["Fe"], {"Fe": 1}, "NaCl", None]
    batch = parse_formulas(inputs)
    assert len(batch) == len(inputs)
    np.testing.assert_array_equal(batch.ok, [True] + [False] * 9 + [True, False])
    assert batch.formulas[5] == b"NaCl" and batch.formulas[8] == ["Fe"]
    errors = batch.errors
    for i in (1, 2, 6, 7, 11):
        assert errors[i].startswith("missing value"), errors[i]
    assert errors[3] == "not a string: got int 5"
    assert errors[4] == "not a string: got float 2.5"
    assert errors[5] == "not a string: got bytes b'NaCl'"
    assert errors[8].startswith("not a string: got list")
    assert errors[9].startswith("not a string: got dict")
    assert batch.fractions[[1, 2, 3, 4, 5, 6, 7, 8, 9, 11]].nnz == 0


@pytest.mark.parametrize(
    "container",
    [
        list,
        tuple,
        lambda xs: np.array(xs, dtype=object),
        np.array,  # numpy unicode array
        pd.Series,
        lambda xs: pd.Series(xs, dtype="string"),
        lambda xs: pd.Series(xs, index=[10, 5, 7, 1]),  # the index is ignored
        pd.Index,
        iter,
        lambda xs: (x for x in xs),
    ],
)
def test_batch_accepts_any_iterable(container, batch_engine):
    inputs = ["Fe2O3", "NaCl", "Fe2O3", "Fe2Q"]
    batch = parse_formulas(container(inputs))
    assert list(batch.formulas) == inputs
    np.testing.assert_array_equal(batch.ok, [True, True, True, False])
    np.testing.assert_allclose(batch.fractions[0].toarray().ravel(), dense_row({"Fe": 0.4, "O": 0.6}))


def test_batch_series_with_missing_values():
    batch = parse_formulas(pd.Series(["Fe2O3", None, "NaCl"], dtype="str"))
    np.testing.assert_array_equal(batch.ok, [True, False, True])
    assert batch.errors[1].startswith("missing value")


def test_batch_rejects_a_single_string_and_2d_input():
    with pytest.raises(TypeError, match="single str"):
        parse_formulas("Fe2O3")
    with pytest.raises(ValueError, match="one-dimensional"):
        parse_formulas(np.array([["Fe2O3", "NaCl"]]))


def test_batch_duplicates_are_parsed_consistently(batch_engine):
    rng = np.random.default_rng(0)
    pool = np.array(["Fe2O3", "NaCl", "Xx", "Ba0.5Sr0.5TiO3", "CuSO4·5H2O", None, "Li3Fe2(PO4)3"], dtype=object)
    picks = rng.integers(0, len(pool), size=5000)
    batch = parse_formulas(pool[picks])
    single = parse_formulas(pool)
    dense_single = single.fractions.toarray()
    np.testing.assert_array_equal(batch.fractions.toarray(), dense_single[picks])
    np.testing.assert_array_equal(batch.errors, single.errors[picks])
    assert batch.n_failed == int(np.isin(picks, [2, 5]).sum())


def test_batch_max_length_and_huge_string(batch_engine):
    huge = "Fe2O3" * 2_000_000  # 10 MB
    elapsed = []
    for _ in range(3):  # best of three: the machine may be busy
        start = time.perf_counter()
        batch = parse_formulas(["NaCl", huge, "Fe2O3"])
        elapsed.append(time.perf_counter() - start)
    assert min(elapsed) < 0.1, elapsed
    np.testing.assert_array_equal(batch.ok, [True, False, True])
    assert batch.errors[1] == "absurd length: 10000000 characters (limit 256)"
    long = "Fe2O3" * 60
    assert parse_formulas([long]).n_failed == 1
    assert parse_formulas([long], max_length=300).n_failed == 0


def test_batch_csr_is_canonical(batch_engine):
    batch = parse_formulas(["OFe2", "Fe2O3", "CuSO4·5H2O", "Xx"])
    fractions = batch.fractions
    assert fractions.has_sorted_indices
    assert fractions.indices.dtype.kind == "i"
    fractions.check_format(full_check=True)


@pytest.fixture(params=["arrow", "pure-python"])
def batch_engine(request, monkeypatch):
    """Run a test with the Arrow/numpy vectorised pass and without it (pyarrow missing)."""
    if request.param == "pure-python":
        monkeypatch.setattr(formula_module, "pa", None)
        monkeypatch.setattr(formula_module, "pc", None)
    return request.param


EDGE_BATCH = [
    "Fe2O3", "NaCl", "Fe02O3", "Fe0.5O", "Ba0.5Sr0.5TiO3", "CH3COOH", "OFeOFeO",  # simple
    "Fe2Xx3", "Fe2Q", "Es2O3", "D2O", "Fe0O2", "Fe0.000O", "Fe2000000O", "Fe999999Fe2",  # bad simple
    "Fe" + "1" * 16, "Fe0.1234567890123456", "Fe1.00000000000001",  # long numbers
    "Li1.2Mn0.6Ni0.2O2", "CuSO4.5H2O", "LaNi4.5H6", "Hf0.5Zr0.5O2", "Li1.2MnO3",  # dots
    "Ca3(Al(SiO4))2", "CuSO4·5H2O", " Fe2O3", "Fe2 O3", "", "  ", "fe", "Fe" * 200,
    "Fe\ud800", "Fé2O3", "Fe٣", "Fe2O3\n", None, float("nan"), "Fe2O3",
]  # fmt: skip


@pytest.mark.parametrize("with_non_strings", [False, True])
def test_batch_matches_single_parse_on_edge_cases(batch_engine, with_non_strings):
    inputs = EDGE_BATCH + ([5, b"NaCl", ["Fe"]] if with_non_strings else [])
    batch = parse_formulas(inputs)
    dense = batch.fractions.toarray()
    for i, value in enumerate(inputs):
        try:
            expected = formula_fractions(value)
        except FormulaError as err:
            assert batch.errors[i] == err.reason, (value, batch.errors[i])
            assert not dense[i].any()
            continue
        assert batch.errors[i] == "", (value, batch.errors[i])
        np.testing.assert_allclose(dense[i], dense_row(expected), rtol=0, atol=1e-15, err_msg=repr(value))
    assert batch.errors[EDGE_BATCH.index("Fe999999Fe2")].startswith("total amount of Fe is absurdly large")
    assert batch.errors[EDGE_BATCH.index("Fe٣")].startswith("unexpected character")


def test_batch_is_frozen():
    batch = parse_formulas(["Fe2O3"])
    with pytest.raises(AttributeError):
        batch.errors = np.array(["x"], dtype=object)


def test_batch_of_200k_formulas_is_fast():
    rng = np.random.default_rng(1)
    symbols = np.array(SYMBOLS[:80])
    pool = [
        f"{a}{i}{b}{j}O{k}"
        for a, b, i, j, k in zip(
            rng.choice(symbols, 20_000),
            rng.choice(symbols, 20_000),
            rng.integers(1, 5, 20_000),
            rng.integers(1, 5, 20_000),
            rng.integers(1, 9, 20_000),
        )
    ]
    pool += ["Ba0.5Sr0.5TiO3", "Li3Fe2(PO4)3", "CuSO4·5H2O", "Xx2O"]
    formulas = np.array(pool, dtype=object)[rng.integers(0, len(pool), 200_000)]
    start = time.perf_counter()
    batch = parse_formulas(formulas)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed
    assert batch.fractions.shape == (200_000, MAX_Z)
    np.testing.assert_allclose(np.asarray(batch.fractions[batch.ok].sum(axis=1)).ravel(), 1.0, atol=1e-12)
