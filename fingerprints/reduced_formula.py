"""Canonical reduced formulas: one string per composition, however it is written.

``K4Mn4O8``, ``KMnO2``, ``O2MnK`` and ``K0.5Mn0.5O`` all give ``KMnO2``. Used to join rows of
different files on their composition (the built-in datasets, :mod:`data.builtin`). Pure
computation on :func:`fingerprints.formula.parse_formula`: no I/O (a progress display is
passed in by the caller).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from fingerprints.formula import FormulaError, parse_formula

__all__ = [
    "ELECTRONEGATIVITY_ORDER",
    "ReducedColumn",
    "reduce_column",
    "reduced_formula",
    "reduced_formulas",
]

#: Order of elements in a reduced formula: Pauling electronegativity as pymatgen gives it,
#: ties broken by symbol, the three noble gases without a value (He, Ne, Ar) last. This is
#: pymatgen's formula order (Fe2O3, LiFePO4, SrTiO3), made deterministic; a test checks it
#: against pymatgen. Hard-coded so that reducing formulas never imports pymatgen.
ELECTRONEGATIVITY_ORDER: tuple[str, ...] = (
    "Fr", "Cs", "K", "Rb", "Ba", "Ra", "Na", "Sr", "Li", "Ca", "Ac", "La", "Tb", "Yb", "Ce",
    "Pm", "Pr", "Nd", "Sm", "Eu", "Gd", "Dy", "Y", "Ho", "Er", "Tm", "Lu", "Pu", "Am", "Bk",
    "Cf", "Cm", "Hf", "Th", "Mg", "Zr", "Np", "Sc", "U", "Pa", "Ta", "Ti", "Mn", "Be", "Nb",
    "Al", "Tl", "V", "Zn", "Cr", "Cd", "In", "Ga", "Fe", "Co", "Cu", "Re", "Si", "Tc", "Ni",
    "Ag", "Sn", "Hg", "Po", "Ge", "Bi", "B", "Sb", "Te", "Mo", "As", "P", "At", "H", "Ir",
    "Os", "Pd", "Rn", "Ru", "Pt", "Rh", "Pb", "W", "Au", "C", "Se", "S", "Xe", "I", "Br",
    "Kr", "N", "Cl", "O", "F", "Ar", "He", "Ne",
)  # fmt: skip
_ORDER_RANK = {symbol: rank for rank, symbol in enumerate(ELECTRONEGATIVITY_ORDER)}

#: Amounts closer than this (relative, at least absolute 1e-6) to a whole number or to a
#: fraction with a small denominator are taken as exact.
_AMOUNT_TOLERANCE = 1e-6
_MAX_DENOMINATOR = 100
_DIGITS = 10


def _significant(value: float) -> str:
    return np.format_float_positional(value, precision=_DIGITS, unique=False, fractional=False, trim="-")


def _whole_amounts(values: Sequence[float]) -> tuple[list[int] | None, list[str]]:
    """Integers proportional to ``values`` when they are (near-)rational, else decimal ratios.

    Returns ``(integers, [])`` or ``(None, ratios)``. Whole amounts are taken as they are.
    Otherwise the amounts are divided by the smallest one and rounded to 10 significant
    digits; when every ratio is within 1e-6 of a fraction with denominator <= 100 they are
    scaled by the least common denominator (Li0.5Fe0.5O -> 1, 1, 2), else the rounded
    ratios are returned as text. Rounding before deciding makes the result idempotent:
    the text of an irrational result parses back to the very same ratios.
    """
    if all(value.is_integer() for value in values):  # the usual case, exact
        return [int(value) for value in values], []
    whole = []
    for value in values:
        nearest = round(value)
        if nearest < 1 or abs(value - nearest) > _AMOUNT_TOLERANCE * max(1.0, value):
            break
        whole.append(int(nearest))
    else:
        return whole, []
    smallest = min(values)
    ratios = [_significant(value / smallest) for value in values]
    fractions = []
    for text in ratios:
        ratio = float(text)
        fraction = Fraction(ratio).limit_denominator(_MAX_DENOMINATOR)
        if abs(float(fraction) - ratio) > _AMOUNT_TOLERANCE * ratio:
            return None, ratios
        fractions.append(fraction)
    common = math.lcm(*(fraction.denominator for fraction in fractions))
    return [int(fraction * common) for fraction in fractions], []


def _reduce_amounts(amounts: dict[str, float]) -> str:
    symbols = sorted(amounts, key=_ORDER_RANK.__getitem__)
    whole, ratios = _whole_amounts([amounts[symbol] for symbol in symbols])
    if whole is not None:
        divisor = math.gcd(*whole)
        return "".join(
            symbol if count == divisor else f"{symbol}{count // divisor}" for symbol, count in zip(symbols, whole)
        )
    return "".join(symbol if text == "1" else f"{symbol}{text}" for symbol, text in zip(symbols, ratios))


def reduced_formula(formula: str) -> str:
    """The canonical reduced formula of one composition.

    The same composition always gives the same string, however it is written (element
    order, cell multiples, groups, decimals): ``"K4Mn4O8"``, ``"KMnO2"``, ``"O2MnK"`` and
    ``"K0.5Mn0.5O"`` all give ``"KMnO2"``.

    Rules: amounts from :func:`fingerprints.formula.parse_formula`; whole amounts (within a
    relative 1e-6) are divided by their greatest common divisor; otherwise the amounts are
    divided by the smallest one and, when every ratio is within 1e-6 of a fraction with
    denominator <= 100, scaled to the smallest whole numbers (``Li1.2Mn0.6Ni0.2O2`` gives
    ``Li6Mn3NiO10``), else written as ratios with 10 significant digits (``Fe2O2.8284272``
    gives ``FeO1.4142136``). The result parses back to itself. Elements are written in
    :data:`ELECTRONEGATIVITY_ORDER` (pymatgen's formula order); an amount of 1 is not written.
    Unlike pymatgen's ``reduced_formula`` there are no polyanion brackets (``Sr(AlH)2``
    gives ``SrAl2H2``) and no special molecule forms (``O2`` gives ``O``).

    Parameters
    ----------
    formula : str

    Returns
    -------
    str

    Raises
    ------
    fingerprints.formula.FormulaError
        The formula does not parse.
    """
    return _reduce_amounts(parse_formula(formula))


@dataclass(frozen=True)
class ReducedColumn:
    """Reduced formulas of N input rows, as integer ids into K distinct compositions.

    ``key`` (N,) int64: composition id, -1 where the row failed; ``error`` (N,) object:
    the reason, "" when ok; ``formulas``, ``systems`` (K,) object and ``sizes`` (K,) int16:
    reduced formula, alphabetical chemical system and number of elements of each id.
    """

    key: np.ndarray
    error: np.ndarray
    formulas: np.ndarray
    systems: np.ndarray
    sizes: np.ndarray


def reduce_column(formulas: Iterable, *, progress: Callable[[Sequence], Iterable] | None = None) -> ReducedColumn:
    """Reduce a column of N formulas, each distinct string once, never raising for a bad row.

    Parameters
    ----------
    formulas : iterable of N entries
        Strings; anything else becomes a failed row.
    progress : callable, optional, keyword-only
        Wraps the iteration over the distinct formulas (e.g. ``lambda items: tqdm(items)``)
        so that a caller can show progress; called once.

    Returns
    -------
    ReducedColumn
        Rows as integer ids into the distinct compositions.
    """
    if isinstance(formulas, (pd.Series, pd.Index)):
        values = formulas.to_numpy(dtype=object)
    else:
        values = np.asarray(list(formulas) if not isinstance(formulas, np.ndarray) else formulas, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    n_unique = len(uniques)
    keys = np.full(n_unique, None, dtype=object)
    systems = np.full(n_unique, "", dtype=object)
    sizes = np.zeros(n_unique, dtype=np.int16)
    errors = np.full(n_unique + 1, "", dtype=object)
    errors[n_unique] = "missing value (None or NaN), not a formula string"
    for position, value in enumerate(uniques if progress is None else progress(uniques)):
        try:
            amounts = parse_formula(value)
        except FormulaError as err:
            errors[position] = err.reason
            continue
        keys[position] = _reduce_amounts(amounts)
        systems[position] = "-".join(sorted(amounts))
        sizes[position] = len(amounts)
    # Distinct strings of one composition (KMnO2, K4Mn4O8) share one id.
    key_of_unique, compositions = pd.factorize(keys, use_na_sentinel=True)
    first = np.zeros(len(compositions), dtype=np.int64)
    ok = key_of_unique >= 0
    first[key_of_unique[ok]] = np.flatnonzero(ok)  # any string of the composition will do
    key_of_unique = np.append(key_of_unique, -1)  # the missing-value slot
    codes = np.where(codes < 0, n_unique, codes)
    return ReducedColumn(
        key=key_of_unique[codes].astype(np.int64),
        error=errors[codes],
        formulas=np.asarray(compositions, dtype=object),
        systems=systems[first],
        sizes=sizes[first],
    )


def reduced_formulas(formulas: Iterable, *, progress: Callable[[Sequence], Iterable] | None = None) -> pd.DataFrame:
    """Canonical reduced formulas of a column of formulas, never raising for a bad row.

    Distinct strings are reduced once (factorised first), so repeated formulas cost nothing.

    Parameters
    ----------
    formulas : iterable of N entries
        Strings; anything else becomes a failed row.
    progress : callable, optional, keyword-only
        As for :func:`reduce_column`.

    Returns
    -------
    DataFrame of N rows, in input order, with columns
        ``formula`` (str: the reduced formula, ``""`` for failures), ``elements`` (str:
        the element symbols in alphabetical order joined by ``-``, e.g. ``"Fe-O"``, as the
        Materials Project writes chemical systems), ``n_elements`` (int16, 0 for failures)
        and ``error`` (str: why the row failed, ``""`` when it parsed).
    """
    reduced = reduce_column(formulas, progress=progress)
    ok = reduced.key >= 0
    index = np.where(ok, reduced.key, 0)
    formula = np.where(ok, reduced.formulas[index] if len(reduced.formulas) else "", "")
    systems = np.where(ok, reduced.systems[index] if len(reduced.systems) else "", "")
    sizes = np.where(ok, reduced.sizes[index] if len(reduced.sizes) else 0, 0).astype(np.int16)
    return pd.DataFrame(
        {
            "formula": pd.Series(formula, dtype=str),
            "elements": pd.Series(systems, dtype=str),
            "n_elements": sizes,
            "error": pd.Series(reduced.error, dtype=str),
        }
    )
