from __future__ import annotations

from fingerprints.elements import CATEGORIES, SYMBOL_TO_INDEX, SYMBOLS, element_table


def test_symbols_agree_with_pymatgen():
    from pymatgen.core import Element

    assert len(SYMBOLS) == 98
    assert list(SYMBOLS) == [Element.from_Z(z).symbol for z in range(1, 99)]
    assert SYMBOL_TO_INDEX["Fe"] == 25 and SYMBOL_TO_INDEX["Cf"] == 97


def test_element_table_contents():
    table = element_table()
    assert table.shape == (98, 7)
    assert list(table.columns) == ["symbol", "name", "Z", "group", "period", "block", "category"]
    by_symbol = table.set_index("symbol")
    assert by_symbol.loc["Fe", ["Z", "group", "period", "block"]].tolist() == [26, 8, 4, "d"]
    assert by_symbol.loc["Fe", "name"] == "Iron"
    expected = {
        "Na": "alkali metal", "Mg": "alkaline earth metal", "Fe": "transition metal",
        "La": "lanthanide", "Lu": "lanthanide", "U": "actinide", "Al": "post-transition metal",
        "Si": "metalloid", "O": "nonmetal", "Cl": "halogen", "Ar": "noble gas", "H": "nonmetal",
    }  # fmt: skip
    for symbol, category in expected.items():
        assert by_symbol.loc[symbol, "category"] == category, symbol
    assert set(table["category"].astype(str)) <= set(CATEGORIES)
    assert table["category"].notna().all()
    assert table["block"].isin(["s", "p", "d", "f"]).all()


def test_element_table_is_a_copy():
    table = element_table()
    table.loc[0, "name"] = "changed"
    assert element_table().loc[0, "name"] == "Hydrogen"
