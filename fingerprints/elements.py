"""The chemical elements the fingerprints cover: Z = 1..98 (H..Cf), in atomic-number order.

``SYMBOLS`` is a constant so that formula parsing never has to import pymatgen;
``element_table`` builds the descriptive table (names, groups, categories) from pymatgen
and a test checks that both agree.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

MAX_Z = 98

SYMBOLS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
    "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd",
    "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm",
    "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os",
    "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa",
    "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf",
)  # fmt: skip

#: Column index (0-based, Z - 1) of every covered element symbol.
SYMBOL_TO_INDEX: dict[str, int] = {symbol: index for index, symbol in enumerate(SYMBOLS)}

CATEGORIES: tuple[str, ...] = (
    "alkali metal",
    "alkaline earth metal",
    "transition metal",
    "lanthanide",
    "actinide",
    "post-transition metal",
    "metalloid",
    "nonmetal",
    "halogen",
    "noble gas",
)


def _category(element) -> str:
    # Order matters: La and Ac count as lanthanide/actinide although pymatgen also calls
    # La a transition metal; the pnictogen/chalcogen nonmetals fall through to "nonmetal".
    if element.is_noble_gas:
        return "noble gas"
    if element.is_halogen:
        return "halogen"
    if element.is_alkali:
        return "alkali metal"
    if element.is_alkaline:
        return "alkaline earth metal"
    if element.is_lanthanoid:
        return "lanthanide"
    if element.is_actinoid:
        return "actinide"
    if element.is_transition_metal:
        return "transition metal"
    if element.is_metalloid:
        return "metalloid"
    if element.is_post_transition_metal:
        return "post-transition metal"
    return "nonmetal"


@lru_cache(maxsize=1)
def _element_table_cached() -> pd.DataFrame:
    from pymatgen.core import Element  # heavy import, only when the table is asked for

    rows = []
    for z, symbol in enumerate(SYMBOLS, start=1):
        element = Element.from_Z(z)
        rows.append(
            {
                "symbol": element.symbol,
                "name": element.long_name,
                "Z": z,
                "group": int(element.group),
                "period": int(element.row),
                "block": element.block,
                "category": _category(element),
            }
        )
    table = pd.DataFrame(rows)
    table["category"] = pd.Categorical(table["category"], categories=CATEGORIES)
    return table


def element_table() -> pd.DataFrame:
    """Descriptive table of the elements Z = 1..98.

    Returns
    -------
    DataFrame of shape (98, 7)
        Columns ``symbol, name, Z, group, period, block, category`` in Z order. ``group`` is
        the IUPAC group 1..18 with lanthanides and actinides in group 3, as pymatgen gives it.
    """
    return _element_table_cached().copy()
