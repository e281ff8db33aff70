"""Materials Project loader, tested with a fake MPRester (no network, no mp-api needed)."""

from __future__ import annotations

import builtins
import json
import math
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from data.materials_project import (
    COLUMNS,
    DEFAULT_FIELDS,
    MaterialsProjectError,
    load_materials_project,
    summary_to_table,
)

KEY = "a" * 32


class FakeMPID:
    """Like emmet's MPID: not a str, but str() gives the id."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class CrystalSystem(Enum):
    cubic = "Cubic"


def _doc(material_id: str, formula: object, **extra: object) -> dict:
    doc = {
        "material_id": material_id,
        "formula_pretty": formula,
        "energy_above_hull": 0.0,
        "formation_energy_per_atom": -1.5,
        "band_gap": 0.6,
        "total_magnetization": 0.0,
        "is_magnetic": False,
        "nsites": 2,
        "symmetry": {"crystal_system": "Cubic", "symbol": "Fd-3m", "number": 227, "point_group": "m-3m"},
    }
    doc.update(extra)
    return doc


DOCS = [
    _doc("mp-149", "Si", band_gap=0.6105),
    _doc("mp-13", "Fe", energy_above_hull=0.0, formation_energy_per_atom=0.0, band_gap=0.0,
         total_magnetization=2.31, is_magnetic=True, nsites=1,
         symmetry={"crystal_system": "Cubic", "symbol": "Im-3m", "number": 229}),
    # a document model (attributes, an MPID-like id object, an enum crystal system)
    SimpleNamespace(
        material_id=FakeMPID("mp-19009"), formula_pretty="Fe2O3",
        energy_above_hull=0.0123, formation_energy_per_atom=-1.73, band_gap=2.1, total_magnetization=None,
        is_magnetic=None, nsites=10, symmetry=SimpleNamespace(crystal_system=CrystalSystem.cubic, symbol="R-3c", number=167),
    ),
]  # fmt: skip


class FakeSummary:
    def __init__(self, docs: list, calls: list) -> None:
        self.docs = docs
        self.calls = calls

    def search(self, **kwargs):
        self.calls.append(kwargs)
        return list(self.docs)


class FakeMPRester:
    """Stands in for mp_api.client.MPRester: a context manager with materials.summary.search."""

    instances: ClassVar[list] = []

    def __init__(self, api_key: str, docs: list, calls: list, error: Exception | None = None) -> None:
        self.api_key = api_key
        self.error = error
        self.materials = SimpleNamespace(summary=FakeSummary(docs, calls))
        self.closed = False
        FakeMPRester.instances.append(self)

    def __enter__(self):
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self.closed = True


def factory(docs: list, calls: list, error: Exception | None = None):
    return lambda key: FakeMPRester(key, docs, calls, error)


def test_documents_become_our_table_columns(tmp_path: Path) -> None:
    calls: list = []
    table = load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(DOCS, calls))
    assert calls == [{"fields": list(DEFAULT_FIELDS)}]
    assert list(table.columns) == list(COLUMNS)
    assert table["mat_id"].tolist() == ["mp-149", "mp-13", "mp-19009"]
    assert table["formula"].tolist() == ["Si", "Fe", "Fe2O3"]
    assert table["spg"].tolist() == [227, 229, 167]
    assert table["spg_symbol"].tolist() == ["Fd-3m", "Im-3m", "R-3c"]
    assert table["crystal_system"].tolist() == ["Cubic", "Cubic", "Cubic"]
    np.testing.assert_array_equal(table["e_above_hull"], [0.0, 0.0, 0.0123])
    np.testing.assert_array_equal(table["e_form"], [-1.5, 0.0, -1.73])
    np.testing.assert_array_equal(table["band_gap"], [0.6105, 0.0, 2.1])
    assert table["total_mag"].tolist()[:2] == [0.0, 2.31] and math.isnan(table["total_mag"].iloc[2])
    assert table["is_magnetic"].tolist() == [False, True, pd.NA]
    assert table["nsites"].tolist() == [2, 1, 10]
    assert str(table["spg"].dtype) == "Int64" and str(table["is_magnetic"].dtype) == "boolean"
    manifest = table.attrs["manifest"]
    meta = manifest["metadata"]
    assert manifest["parquet"]["rows"] == 3 and meta["documents"] == 3 and meta["skipped"] == 0
    assert meta["query"] == {"fields": list(DEFAULT_FIELDS), "chemsys": None}
    assert KEY not in json.dumps(manifest)
    assert FakeMPRester.instances[-1].api_key == KEY and FakeMPRester.instances[-1].closed


def test_bad_documents_are_skipped_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs = [*DOCS, _doc("mp-1", "Xx2"), _doc("mp-2", None), _doc(None, "NaCl"), _doc("mp-149", "Si")]
    table = load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(docs, []))
    assert table["mat_id"].tolist() == ["mp-149", "mp-13", "mp-19009"]
    manifest = table.attrs["manifest"]["metadata"]
    assert manifest["skipped"] == 4
    assert manifest["skipped_by_reason"] == {
        "invalid formula": 1,
        "missing formula": 1,
        "missing material_id": 1,
        "duplicate material_id": 1,
    }
    assert [e["reason"] for e in manifest["skipped_examples"]] == [
        "invalid formula: unknown element symbol 'Xx'",
        "missing formula",
        "missing material_id",
        "duplicate material_id: first seen at row 0",
    ]
    assert [e["row"] for e in manifest["skipped_examples"]] == [3, 4, 5, 6]
    assert "skipped 4 of 7 Materials Project documents" in caplog.text


def test_chemsys_is_passed_and_extra_fields_are_kept(tmp_path: Path) -> None:
    calls: list = []
    docs = [_doc("mp-19017", "LiFePO4", volume=300.5, theoretical=False, elements=["Li", "Fe", "P", "O"])]
    table = load_materials_project(
        api_key=KEY, cache_dir=tmp_path, chemsys="Li-Fe-P-O",
        fields=["material_id", "formula_pretty", "band_gap", "volume", "theoretical", "elements"],
        client_factory=factory(docs, calls),
    )  # fmt: skip
    assert calls == [
        {
            "fields": ["material_id", "formula_pretty", "band_gap", "volume", "theoretical", "elements"],
            "chemsys": "Li-Fe-P-O",
        }
    ]
    assert list(table.columns) == ["mat_id", "formula", "band_gap", "volume", "theoretical", "elements"]
    assert table["volume"].tolist() == [300.5] and table["theoretical"].tolist() == [False]
    assert table["elements"].tolist() == ['["Li", "Fe", "P", "O"]']


def test_second_call_uses_the_cache_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    first = load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(DOCS, calls))
    monkeypatch.delenv("MP_API_KEY", raising=False)
    again = load_materials_project(cache_dir=tmp_path, client_factory=factory(DOCS, calls))
    pd.testing.assert_frame_equal(first, again)
    assert len(calls) == 1
    files = sorted(p.name for p in (tmp_path / "materials_project").iterdir() if not p.name.startswith("."))
    assert len(files) == 2 and files[0].endswith(".manifest.json") and files[1].endswith(".parquet")
    load_materials_project(api_key=KEY, cache_dir=tmp_path, refresh=True, client_factory=factory(DOCS, calls))
    assert len(calls) == 2


def test_damaged_cache_is_queried_again(tmp_path: Path) -> None:
    calls: list = []
    load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(DOCS, calls))
    parquet = next((tmp_path / "materials_project").glob("*.parquet"))
    parquet.write_bytes(b"PAR1 damaged")
    table = load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(DOCS, calls))
    assert len(calls) == 2 and len(table) == 3
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), table)


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MP_API_KEY", "b" * 32)
    load_materials_project(cache_dir=tmp_path, client_factory=factory(DOCS, []))
    assert FakeMPRester.instances[-1].api_key == "b" * 32


def test_missing_key_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(MaterialsProjectError) as info:
        load_materials_project(cache_dir=tmp_path, client_factory=factory(DOCS, []))
    assert str(info.value) == (
        "no Materials Project API key: pass api_key=... or set the MP_API_KEY environment variable "
        "(e.g. `export MP_API_KEY=<your key>`); a free key is shown on "
        "https://next-gen.materialsproject.org/api after logging in"
    )


def test_legacy_key_length_is_explained(tmp_path: Path) -> None:
    with pytest.raises(MaterialsProjectError, match="has 16 characters, but keys for the current API have 32"):
        load_materials_project(api_key="k" * 16, cache_dir=tmp_path, client_factory=factory(DOCS, []))


def test_missing_mp_api_package_says_pip_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_mp_api(name, *args, **kwargs):
        if name == "mp_api" or name.startswith("mp_api."):
            raise ModuleNotFoundError("No module named 'mp_api'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "mp_api", raising=False)
    monkeypatch.delitem(sys.modules, "mp_api.client", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_mp_api)
    with pytest.raises(MaterialsProjectError) as info:
        load_materials_project(api_key=KEY, cache_dir=tmp_path)
    assert str(info.value) == (
        "the Materials Project loader needs the optional package mp-api, which is not installed "
        "(No module named 'mp_api'): pip install mp-api"
    )


def test_client_errors_become_one_clear_message_without_the_key(tmp_path: Path) -> None:
    error = ConnectionError(f"HTTPSConnectionPool: Max retries exceeded (key {KEY})")
    with pytest.raises(MaterialsProjectError) as info:
        load_materials_project(api_key=KEY, cache_dir=tmp_path, client_factory=factory(DOCS, [], error))
    message = str(info.value)
    assert message.startswith("the Materials Project query failed (ConnectionError: HTTPSConnectionPool")
    assert KEY not in message and "<key>" in message
    assert not (tmp_path / "materials_project").exists()


@pytest.mark.parametrize(
    ("chemsys", "message"),
    [
        ("Li-Xx-O", "chemsys 'Li-Xx-O': unknown element symbol(s) 'Xx'"),
        ("", "chemsys '': unknown element symbol(s) ''"),
        ([], "chemsys is empty"),
    ],
)
def test_invalid_chemsys(tmp_path: Path, chemsys, message: str) -> None:
    with pytest.raises(MaterialsProjectError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_materials_project(api_key=KEY, cache_dir=tmp_path, chemsys=chemsys, client_factory=factory(DOCS, []))


def test_nothing_usable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MaterialsProjectError, match="returned no material for chemsys='Li-O'"):
        load_materials_project(api_key=KEY, cache_dir=tmp_path, chemsys="Li-O", client_factory=factory([], []))
    with pytest.raises(
        MaterialsProjectError, match="none of the 2 Materials Project documents is usable; skipped: 2 invalid formula"
    ):
        load_materials_project(
            api_key=KEY, cache_dir=tmp_path, client_factory=factory([_doc("mp-1", "Q"), _doc("mp-2", "Zz")], [])
        )


def test_summary_to_table_without_symmetry_and_with_odd_values() -> None:
    docs = [_doc("mp-1", "NaCl", band_gap="n/a", nsites=2.5, is_magnetic="yes", energy_above_hull=float("inf"))]
    table, skipped = summary_to_table(docs, fields=["band_gap", "nsites", "is_magnetic", "energy_above_hull"])
    assert list(table.columns) == ["mat_id", "formula", "e_above_hull", "band_gap", "is_magnetic", "nsites"]
    assert math.isnan(table["band_gap"].iloc[0]) and math.isnan(table["e_above_hull"].iloc[0])
    assert table["nsites"].isna().all() and table["is_magnetic"].isna().all()
    assert skipped.empty
