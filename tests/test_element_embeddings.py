"""Element tables, composition features and the elementembeddings wheel reader (offline)."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from data.element_embeddings import (
    ELEMENTEMBEDDINGS_WHEEL_NAME,
    EMBEDDING_FILES,
    EmbeddingDataError,
    EmbeddingWheelChecksumError,
    EmbeddingWheelUnavailableError,
    ensure_elementembeddings_wheel,
    load_element_tables,
    load_mod_petti,
    read_element_table,
    read_mod_petti,
)
from fingerprints.element_embeddings import (
    ElementTable,
    composition_features,
    element_table_from_frame,
    element_table_from_mapping,
    one_hot_table,
    pettifor_table,
    scale_one_hot_table,
)
from fingerprints.elements import SYMBOL_TO_INDEX
from fingerprints.formula import parse_formulas

MEMBER_DIR = "elementembeddings/data/element_representations"


def small_table() -> ElementTable:
    frame = pd.DataFrame({"element": ["O", "Fe", "Na", "Cl"], "a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, -1.0]})
    return element_table_from_frame(frame, name="toy", source="test")


# --------------------------------------------------------------------------- element tables


def test_table_rows_are_put_in_atomic_number_order_and_matrix_covers_98_elements():
    table = small_table()
    assert table.covered == ("O", "Na", "Cl", "Fe")
    full, covered = table.matrix()
    assert full.shape == (98, 2) and covered.sum() == 4
    assert full[SYMBOL_TO_INDEX["Fe"]].tolist() == [2.0, 1.0]
    assert not covered[SYMBOL_TO_INDEX["H"]] and full[SYMBOL_TO_INDEX["H"]].tolist() == [0.0, 0.0]
    assert "Fe" not in table.missing and "H" in table.missing and len(table.missing) == 94


def test_rows_beyond_cf_and_corrupt_labels_are_left_out_with_notes():
    frame = pd.DataFrame({"element": ["H", "GaGe", "Og", "Null", "He"], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    table = element_table_from_frame(frame, name="t")
    assert table.covered == ("H", "He")
    assert any("outside H..Cf" in note and "Og" in note and "Null" in note for note in table.notes)
    assert any("'GaGe'" in note for note in table.notes)


def test_missing_values_are_filled_with_the_column_median_and_reported():
    frame = pd.DataFrame({"element": ["H", "He", "Li", "Be"], "x": [1.0, np.nan, 3.0, 10.0], "y": [1.0, 2.0, 3.0, 4.0]})
    table = element_table_from_frame(frame, name="t")
    assert table.vectors.loc["He", "x"] == 3.0  # median of 1, 3, 10
    assert any("x (He)" in note for note in table.notes)
    with pytest.raises(ValueError, match="missing values"):
        element_table_from_frame(frame, name="t", impute=None)


def test_column_without_any_value_is_dropped():
    frame = pd.DataFrame({"element": ["H", "He"], "x": [np.nan, np.nan], "y": [1.0, 2.0]})
    table = element_table_from_frame(frame, name="t")
    assert list(table.vectors.columns) == ["y"]
    assert any("without any value" in note for note in table.notes)


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"symbol": ["H"], "x": [1.0]}), "no column 'element'"),
        (pd.DataFrame({"element": ["H", "H"], "x": [1.0, 2.0]}), "listed twice"),
        (pd.DataFrame({"element": ["H"], "x": ["big"]}), "not numeric"),
        (pd.DataFrame({"element": ["Zz"], "x": [1.0]}), "no row for any element"),
        (pd.DataFrame({"element": ["H"]}), "no feature columns"),
    ],
)
def test_bad_tables_are_refused_with_a_clear_message(frame, message):
    with pytest.raises((ValueError, KeyError), match=message):
        element_table_from_frame(frame, name="bad")


def test_mapping_tables_need_equal_lengths():
    table = element_table_from_mapping({"H": [1, 2], "O": [3, 4], "Null": [0, 0]}, name="m")
    assert table.covered == ("H", "O") and table.n_features == 2
    with pytest.raises(ValueError, match="unequal length"):
        element_table_from_mapping({"H": [1, 2], "O": [3]}, name="m")


def test_one_hot_and_scale_one_hot():
    assert one_hot_table().vectors.shape == (98, 98)
    table = scale_one_hot_table({"O": 5, "H": 102, "Fe": 1, "D": 102, "Og": 0}, name="scale")
    assert table.covered == ("H", "O", "Fe")
    # axes follow the scale: Fe (1) first, O (5), then H (102)
    assert table.vectors.loc["Fe"].tolist() == [1.0, 0.0, 0.0]
    assert table.vectors.loc["H"].tolist() == [0.0, 0.0, 1.0]
    assert any("ignored" in note for note in table.notes)


def test_pettifor_table_covers_only_elements_with_data(toy):
    table = pettifor_table(toy, variant="corrected")
    assert table.covered == ("H", "He", "Li")
    assert table.n_features == 98
    assert np.allclose(np.linalg.norm(table.vectors.to_numpy(), axis=1), 1.0)
    assert table.name == "pettifor-corrected"


# --------------------------------------------------------------------------- composition features


def test_features_are_fraction_weighted_sums():
    table = small_table()
    batch = parse_formulas(["NaCl", "Fe2O3", "O"])
    features = composition_features(batch.fractions, table)
    assert features.covered.all()
    assert np.allclose(features.features[0], [(3 + 4) / 2, (0 - 1) / 2])
    assert np.allclose(features.features[1], [0.4 * 2 + 0.6 * 1, 0.4 * 1 + 0.6 * 0])
    normalised = composition_features(batch.fractions, table, normalize=True).features
    assert np.allclose(np.linalg.norm(normalised, axis=1), 1.0)


def test_uncovered_rows_are_zero_and_say_which_element_is_missing():
    table = small_table()
    batch = parse_formulas(["NaCl", "LiCl", "FeS2Li", "Qq3"])
    features = composition_features(batch.fractions, table)
    assert features.covered.tolist() == [True, False, False, False]
    assert features.reasons[1] == "no toy vector for Li"
    assert features.reasons[2] == "no toy vector for Li, S"
    assert "did not parse" in features.reasons[3]
    assert np.all(features.features[1:] == 0)
    assert features.n_uncovered == 3


def test_features_scale_to_many_rows():
    rng = np.random.default_rng(0)
    formulas = [f"Na{a}Cl{b}O{c}" for a, b, c in rng.integers(1, 9, size=(50_000, 3))]
    batch = parse_formulas(formulas)
    features = composition_features(batch.fractions, small_table())
    assert features.features.shape == (50_000, 2) and features.covered.all()


# --------------------------------------------------------------------------- the wheel


def fake_wheel(path, *, gage: bool = True):
    """A small zip in the layout of the elementembeddings wheel."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            f"{MEMBER_DIR}/magpie.csv", "element,Number,Electronegativity\nH,1,2.2\nO,8,3.44\nFe,26,1.83\n"
        )
        archive.writestr(f"{MEMBER_DIR}/megnet16.json", json.dumps({"Null": [0, 0], "H": [0.1, 0.2], "O": [0.3, -0.1]}))
        rows = "element,0,1\nH,0.1,0.2\n" + ("GaGe,0.3,0.4\n" if gage else "Ga,0.3,0.4\nGe,0.5,0.6\n") + "Og,1,1\n"
        archive.writestr(f"{MEMBER_DIR}/random_200.csv", rows)
        archive.writestr(f"{MEMBER_DIR}/oliynyk.csv", "element,a,b\nH,1,\nO,2,5\nFe,3,7\n")
        archive.writestr(
            f"{MEMBER_DIR}/mod_petti.json", json.dumps({"D": 102, "H": 102, "He": 0, "O": 96, "Fe": 70, "Og": 0})
        )
        archive.writestr(f"{MEMBER_DIR}/mat2vec.csv", "element,0\nH,not-a-number\n")
    return path


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tables_read_from_a_local_wheel(tmp_path):
    wheel = fake_wheel(tmp_path / "given.whl")
    cache = tmp_path / "cache"
    tables = load_element_tables(
        ["magpie", "megnet16", "random_200", "oliynyk"], wheel=wheel, cache_dir=cache, sha256=sha(wheel)
    )
    assert tables["magpie"].covered == ("H", "O", "Fe")
    assert tables["magpie"].vectors.loc["O", "Electronegativity"] == 3.44
    assert tables["megnet16"].covered == ("H", "O")
    assert tables["random_200"].covered == ("H",)
    assert any("GaGe" in note for note in tables["random_200"].notes)
    assert tables["oliynyk"].vectors.loc["H", "b"] == 6.0  # median of 5 and 7
    assert (cache / ELEMENTEMBEDDINGS_WHEEL_NAME).is_file()
    assert wheel.is_file()  # the given file is left alone


def test_wheel_checksum_is_enforced(tmp_path):
    wheel = fake_wheel(tmp_path / "given.whl")
    with pytest.raises(EmbeddingWheelChecksumError, match="sha256"):
        ensure_elementembeddings_wheel(wheel=wheel, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / ELEMENTEMBEDDINGS_WHEEL_NAME).exists()
    path = ensure_elementembeddings_wheel(wheel=wheel, cache_dir=tmp_path / "cache", sha256=sha(wheel))
    assert sha(path) == sha(wheel)


def test_missing_local_wheel_is_reported(tmp_path):
    with pytest.raises(EmbeddingWheelUnavailableError, match="does not exist"):
        ensure_elementembeddings_wheel(wheel=tmp_path / "nope.whl", cache_dir=tmp_path)


def test_mod_petti_keeps_elements_h_to_cf_in_z_order(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl")
    scale = load_mod_petti(wheel=wheel, cache_dir=tmp_path / "cache", sha256=sha(wheel))
    assert scale.equals(read_mod_petti(wheel))
    assert scale.index.tolist() == ["H", "He", "O", "Fe"]
    assert scale["Fe"] == 70.0 and scale.name == "mod_petti"


def test_broken_files_in_the_wheel_are_reported(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl")
    with pytest.raises(EmbeddingDataError, match="mat2vec.csv .* not a valid element table"):
        read_element_table("mat2vec", wheel)
    with pytest.raises(EmbeddingDataError, match="lacks .*skipatom"):
        read_element_table("skipatom", wheel)
    with pytest.raises(KeyError, match="unknown element embedding"):
        read_element_table("word2vec", wheel)
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(EmbeddingDataError, match="cannot read"):
        read_element_table("magpie", broken)


def test_every_embedding_file_is_named():
    assert set(EMBEDDING_FILES) >= {"magpie", "mat2vec", "megnet16", "oliynyk", "skipatom", "random_200"}
    assert EMBEDDING_FILES["skipatom"] == "skipatom_20201009_induced.csv"
