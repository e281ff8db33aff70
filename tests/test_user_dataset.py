"""User datasets: CSV/Parquet files and uploads, every validation rule with its exact message."""

from __future__ import annotations

import gzip
import io
import math
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import user_dataset
from data.user_dataset import DEFAULT_MAX_BYTES, UserDatasetError, load_user_dataset

GOOD_CSV = b"formula,band_gap,kind\nFe2O3,2.1,oxide\nNaCl,5.0,halide\nSi,1.1,element\n"


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --------------------------------------------------------------------------- plain cases


def test_csv_path_gives_typed_columns_and_no_warnings(tmp_path: Path) -> None:
    dataset = load_user_dataset(write(tmp_path, "data.csv", GOOD_CSV))
    assert list(dataset.table.columns) == ["formula", "band_gap", "kind"]
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl", "Si"]
    assert dataset.table["band_gap"].dtype == np.float64
    np.testing.assert_array_equal(dataset.table["band_gap"], [2.1, 5.0, 1.1])
    assert isinstance(dataset.table["kind"].dtype, pd.CategoricalDtype)
    assert dataset.table["kind"].tolist() == ["oxide", "halide", "element"]
    assert dataset.skipped.empty and list(dataset.skipped.columns) == ["row", "formula", "reason"]
    assert dataset.cell_issues.empty and list(dataset.cell_issues.columns) == ["row", "column", "value", "reason"]
    assert dataset.warnings == []
    assert dataset.source == str(tmp_path / "data.csv")
    assert dataset.property_columns == ["band_gap", "kind"]


def test_upload_bytes_with_filename(tmp_path: Path) -> None:
    dataset = load_user_dataset(GOOD_CSV, filename="mine.csv")
    assert dataset.source == "upload 'mine.csv'"
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl", "Si"]
    assert dataset.summary()[0] == (
        "upload 'mine.csv': 3 rows kept, 0 skipped; numeric columns: band_gap; categorical columns: kind"
    )


def test_parquet_file_keeps_numeric_types_and_drops_nested_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "formula": ["Fe2O3", "NaCl", None],
            "n": pd.array([1, 2, 3], dtype="Int64"),
            "gap": [2.1, np.inf, 1.0],
            "magnetic": [True, False, True],
            "sites": [[1, 2], [3], []],
        }
    )
    dataset = load_user_dataset(write(tmp_path, "d.parquet", parquet_bytes(frame)))
    assert list(dataset.table.columns) == ["formula", "n", "gap", "magnetic"]
    assert dataset.table["n"].tolist() == [1.0, 2.0] and dataset.table["n"].dtype == np.float64
    assert dataset.table["gap"].tolist()[0] == 2.1 and math.isnan(dataset.table["gap"].tolist()[1])
    assert dataset.table["magnetic"].tolist() == ["True", "False"]
    assert dataset.skipped.to_dict("records") == [{"row": 3, "formula": "", "reason": "missing formula"}]
    assert dataset.cell_issues.to_dict("records") == [
        {"row": 2, "column": "gap", "value": math.inf, "reason": "not finite: set to NaN"}
    ]
    where = str(tmp_path / "d.parquet")
    assert dataset.warnings == [
        f"{where}: column 'sites' holds list<element: int64> values: ignored",
        f"{where}: column 'gap': 1 infinite value set to NaN (rows 2)",
        f"{where}: skipped 1 row (1 missing formula; rows 3)",
    ]


# --------------------------------------------------------------------------- formula column


@pytest.mark.parametrize("header", ["Formula", "COMPOSITION", "formula_pretty", " formula "])
def test_formula_column_synonyms_are_accepted_with_a_warning(header: str) -> None:
    dataset = load_user_dataset(f"{header},x\nFe2O3,1\n".encode(), filename="s.csv")
    assert dataset.table["formula"].tolist() == ["Fe2O3"]
    if header == " formula ":
        assert dataset.warnings == []  # header cells are stripped
    else:
        assert dataset.warnings == [
            f"upload 's.csv': no column named 'formula': using column {header!r} as the formula column"
        ]


def test_missing_formula_column_lists_the_columns_found() -> None:
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(b"name,gap\nrust,2.1\n", filename="m.csv")
    assert str(info.value) == (
        "upload 'm.csv' has no formula column 'formula' (also accepted, in any case: formula, composition, "
        "formula_pretty); columns found: 'name', 'gap'. Rename the column or choose it with formula_column "
        "(--formula-column)"
    )


def test_explicit_formula_column_and_a_competing_formula_column() -> None:
    data = b"formula,Chemistry,gap\nrusty,Fe2O3,1\nsalty,NaCl,2\n"
    dataset = load_user_dataset(data, filename="c.csv", formula_column="Chemistry")
    assert list(dataset.table.columns) == ["formula", "formula_2", "gap"]
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl"]
    assert dataset.table["formula_2"].tolist() == ["rusty", "salty"]
    assert dataset.warnings == [
        "upload 'c.csv': column 'formula' is not the formula column ('Chemistry' is): renamed 'formula_2'"
    ]
    with pytest.raises(
        UserDatasetError, match=r"has no formula column 'chem'; columns found: 'formula', 'Chemistry', 'gap'\."
    ):
        load_user_dataset(data, filename="c.csv", formula_column="chem")


def test_bad_formulas_are_skipped_with_the_parser_reason() -> None:
    data = b"formula,gap\nFe2O3,1\nXx2O,2\n,3\nCa(OH,4\n   ,5\nNaCl,6\n"
    dataset = load_user_dataset(data, filename="b.csv")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl"]
    assert dataset.table["gap"].tolist() == [1.0, 6.0]
    assert dataset.skipped.to_dict("records") == [
        {"row": 3, "formula": "Xx2O", "reason": "invalid formula: unknown element symbol 'Xx'"},
        {"row": 4, "formula": "", "reason": "missing formula"},
        {
            "row": 5,
            "formula": "Ca(OH",
            "reason": "invalid formula: unbalanced parentheses: '(' at position 2 is never closed",
        },
        {"row": 6, "formula": "   ", "reason": "missing formula"},
    ]
    assert dataset.warnings == [
        "upload 'b.csv': skipped 4 rows (2 invalid formula, 2 missing formula; rows 3, 4, 5, 6)"
    ]


def test_no_valid_formula_at_all_is_an_error() -> None:
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(b"formula,gap\nXx,1\nrust,2\n,3\n", filename="z.csv")
    assert str(info.value) == (
        "upload 'z.csv': no row has a valid formula in column 'formula' (2 invalid formula, 1 missing formula; "
        "e.g. row 2: invalid formula: unknown element symbol 'Xx'; "
        "row 3: invalid formula: unexpected character 'r' at position 0 (element symbols start with an uppercase letter); "
        "row 4: missing formula)"
    )


# --------------------------------------------------------------------------- values


def test_mostly_numeric_column_is_numeric_and_the_rest_is_reported_per_row() -> None:
    values = ["1.5"] * 9 + ["high"]
    rows = "\n".join(
        f"{f},{v},{c}"
        for f, v, c in zip(["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne"], values, ["a"] * 8 + ["x", "y"])
    )
    dataset = load_user_dataset(f"formula,gap,label\n{rows}\n".encode(), filename="n.csv")
    assert dataset.table["gap"].dtype == np.float64
    assert dataset.table["gap"].isna().tolist() == [False] * 9 + [True]
    assert dataset.cell_issues.to_dict("records") == [
        {"row": 11, "column": "gap", "value": "high", "reason": "not a number: set to NaN"}
    ]
    assert dataset.warnings == [
        "upload 'n.csv': column 'gap' is numeric (9 of 10 values are numbers); 1 other value set to NaN (rows 11)"
    ]
    assert len(dataset.table) == 10  # the row is kept


def test_column_under_the_numeric_threshold_is_categorical() -> None:
    values = ["1"] * 8 + ["a", "b"]
    rows = "\n".join(f"{f},{v}" for f, v in zip(["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne"], values))
    dataset = load_user_dataset(f"formula,code\n{rows}\n".encode(), filename="n.csv")
    assert isinstance(dataset.table["code"].dtype, pd.CategoricalDtype)
    assert dataset.table["code"].tolist() == values
    assert dataset.cell_issues.empty and dataset.warnings == []


def test_nan_inf_and_missing_values_in_numeric_columns_are_reported() -> None:
    data = b"formula,gap\nH,1\nHe,NaN\nLi,inf\nBe,\nB,-Infinity\nC,n/a\nN,2\n"
    dataset = load_user_dataset(data, filename="x.csv")
    gap = dataset.table["gap"].tolist()
    assert gap[0] == 1.0 and gap[6] == 2.0 and all(math.isnan(v) for v in gap[1:6])
    assert dataset.cell_issues.to_dict("records") == [
        {"row": 4, "column": "gap", "value": "inf", "reason": "not finite: set to NaN"},
        {"row": 6, "column": "gap", "value": "-Infinity", "reason": "not finite: set to NaN"},
    ]
    assert dataset.warnings == [
        "upload 'x.csv': column 'gap': 2 infinite values set to NaN (rows 4, 6)",
        "upload 'x.csv': column 'gap': 3 missing values (empty or NaN)",
    ]


def test_empty_column_is_dropped_and_many_distinct_texts_stay_strings() -> None:
    rows = "\n".join(f"H{i}He,,name{i}" for i in range(1, 1102))
    dataset = load_user_dataset(f"formula,empty,name\n{rows}\n".encode(), filename="e.csv")
    assert list(dataset.table.columns) == ["formula", "name"]
    assert pd.api.types.is_string_dtype(dataset.table["name"]) and not isinstance(
        dataset.table["name"].dtype, pd.CategoricalDtype
    )
    assert dataset.warnings == ["upload 'e.csv': column 'empty' has no values: dropped"]


def test_id_column_stays_text() -> None:
    data = b"id,formula,gap\n007,Fe2O3,1\n8,NaCl,2\n8,Si,3\n"
    dataset = load_user_dataset(data, filename="i.csv", id_column="id")
    assert list(dataset.table.columns) == ["id", "formula", "gap"]
    assert dataset.table["id"].tolist() == ["007", "8", "8"]
    assert dataset.property_columns == ["gap"]
    assert dataset.warnings == ["upload 'i.csv': id column 'id' has 1 repeated value"]
    with pytest.raises(
        UserDatasetError, match=r"upload 'i.csv' has no id column 'mat_id'; columns found: 'id', 'formula', 'gap'"
    ):
        load_user_dataset(data, filename="i.csv", id_column="mat_id")


# --------------------------------------------------------------------------- duplicates


def test_duplicate_compositions_keep_the_first() -> None:
    data = b"formula,gap\nFe2O3,1\nNaCl,2\n Fe2O3 ,3\nFe4O6,4\nO3Fe2,5\nCl1Na1,6\n"
    dataset = load_user_dataset(data, filename="d.csv")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl"]
    assert dataset.table["gap"].tolist() == [1.0, 2.0]
    assert dataset.skipped.to_dict("records") == [
        {"row": 4, "formula": " Fe2O3 ", "reason": "duplicate composition: same as row 2 (Fe2O3)"},
        {"row": 5, "formula": "Fe4O6", "reason": "duplicate composition: same as row 2 (Fe2O3)"},
        {"row": 6, "formula": "O3Fe2", "reason": "duplicate composition: same as row 2 (Fe2O3)"},
        {"row": 7, "formula": "Cl1Na1", "reason": "duplicate composition: same as row 3 (NaCl)"},
    ]


def test_duplicates_can_be_kept() -> None:
    data = b"formula,gap\nFe2O3,1\nFe4O6,2\n"
    dataset = load_user_dataset(data, filename="d.csv", duplicates="keep")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "Fe4O6"]
    assert dataset.skipped.empty
    assert dataset.warnings == [
        "upload 'd.csv': 1 row repeats the composition of an earlier row (rows 3): kept, as asked"
    ]


# --------------------------------------------------------------------------- structure of the file


def test_empty_whitespace_and_header_only_files(tmp_path: Path) -> None:
    for content in (b"", b"  \n\n "):
        path = write(tmp_path, "e.csv", content)
        with pytest.raises(UserDatasetError) as info:
            load_user_dataset(path)
        assert str(info.value) == f"{path} is empty"
    path = write(tmp_path, "h.csv", b"formula,gap\n")
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(path)
    assert str(info.value) == f"{path} has a header (columns: 'formula', 'gap') but no data rows"
    with pytest.raises(
        UserDatasetError, match=r"^upload 'h.parquet' has a header \(columns: 'formula', 'gap'\) but no data rows$"
    ):
        load_user_dataset(
            parquet_bytes(pd.DataFrame({"formula": pd.Series([], dtype=str), "gap": []})), filename="h.parquet"
        )


def test_malformed_lines_and_blank_lines_keep_the_line_numbers_right() -> None:
    data = b"formula,gap\nFe2O3,1\n\nNaCl,2,extra\nSi,3\nGe\nXx,5\n"
    dataset = load_user_dataset(data, filename="l.csv")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "Si", "Ge"]
    assert dataset.table["gap"].isna().tolist() == [False, False, True]
    assert dataset.skipped.to_dict("records") == [
        {"row": 4, "formula": None, "reason": "malformed line: 3 fields, the header has 2"},
        {"row": 7, "formula": "Xx", "reason": "invalid formula: unknown element symbol 'Xx'"},
    ]


def test_line_numbers_stay_right_around_many_malformed_lines() -> None:
    # every good row repeats Fe2O3, so every one but the first is reported with its line
    rng = np.random.default_rng(5)
    lines, malformed, good = ["formula,gap"], [], []
    for line in range(2, 3000):
        if rng.random() < 0.4:
            lines.append("a,b,c")
            malformed.append(line)
        else:
            lines.append("Fe2O3,1")
            good.append(line)
    dataset = load_user_dataset("\n".join(lines).encode(), filename="m.csv")
    assert dataset.skipped["row"].tolist() == sorted(malformed + good[1:])
    duplicates = dataset.skipped[dataset.skipped["reason"].str.startswith("duplicate")]
    assert duplicates["row"].tolist() == good[1:]
    assert (duplicates["reason"] == f"duplicate composition: same as row {good[0]} (Fe2O3)").all()


def test_too_many_malformed_lines_or_columns_or_rows_are_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(UserDatasetError, match=r"^upload 'm.csv' has more than 10,000 malformed lines .* the first at line 3"):
        load_user_dataset(b"formula,gap\nFe2O3,1\n" + b"a,b,c\n" * 200_000, filename="m.csv")
    with pytest.raises(UserDatasetError, match=r"^upload 'w.csv' has more than 1,000 columns in its header, the limit$"):
        load_user_dataset(("formula," + ",".join(f"c{i}" for i in range(5000)) + "\nFe2O3" + ",1" * 5000).encode(), filename="w.csv")
    with pytest.raises(UserDatasetError, match=r"^upload 'r.csv' has more than 10 data rows, the limit for this use$"):
        load_user_dataset(b"formula\n" + b"Fe\n" * 11, filename="r.csv", max_rows=10)
    assert time.perf_counter() - started < 2


def test_windows_1252_utf32_and_bomless_utf16_are_read_with_a_warning() -> None:
    windows = load_user_dataset(b"formula,name\nFe2O3,\x93rust\x94\n", filename="w.csv")
    assert windows.table["name"].tolist() == ["\u201crust\u201d"]
    assert "read as Windows-1252" in windows.warnings[0]
    for encoding, note in (("utf-32", "is UTF-32 text"), ("utf-16-le", "UTF-16-LE text without a byte-order mark")):
        dataset = load_user_dataset("formula,name\nFe2O3,Hämatit\n".encode(encoding), filename="e.csv")
        assert dataset.table["name"].tolist() == ["Hämatit"]
        assert note in dataset.warnings[0]


def test_duplicate_and_empty_column_names_are_renamed() -> None:
    data = b"formula,gap,gap,,gap_2\nFe2O3,1,2,3,4\n"
    dataset = load_user_dataset(data, filename="c.csv")
    assert list(dataset.table.columns) == ["formula", "gap", "gap_3", "column_4", "gap_2"]
    assert dataset.table.iloc[0, 1:].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert dataset.warnings == [
        "upload 'c.csv': columns without a name were named 'column_4'",
        "upload 'c.csv': repeated column names were renamed: 'gap' (column 3) -> 'gap_3'",
    ]


def test_semicolon_delimiter_with_decimal_commas() -> None:
    data = b"formula;gap;kind\nFe2O3;2,1;oxide\nNaCl;5;halide\n"
    dataset = load_user_dataset(data, filename="eu.csv")
    assert dataset.table["gap"].tolist() == [2.1, 5.0]
    assert dataset.warnings == [
        "upload 'eu.csv': read with the semicolon (';') as delimiter",
        "upload 'eu.csv': column 'gap' uses decimal commas: read as numbers",
    ]


# --------------------------------------------------------------------------- encodings


def test_utf8_bom_is_removed_silently() -> None:
    dataset = load_user_dataset("\ufeffformula,name\nFe2O3,Hämatit\n".encode("utf-8"), filename="bom.csv")
    assert list(dataset.table.columns) == ["formula", "name"]
    assert dataset.table["name"].tolist() == ["Hämatit"] and dataset.warnings == []


def test_latin1_is_read_with_a_warning() -> None:
    dataset = load_user_dataset("formula,name\nFe2O3,Hämatit\n".encode("latin-1"), filename="l1.csv")
    assert dataset.table["name"].tolist() == ["Hämatit"]
    assert dataset.warnings == [
        "upload 'l1.csv' is not valid UTF-8 (byte 0xe4 at position 20): read as Latin-1; check that accented characters look right"
    ]


def test_utf16_with_bom_is_read_with_a_warning() -> None:
    dataset = load_user_dataset("formula,name\nFe2O3,Hämatit\n".encode("utf-16"), filename="u16.csv")
    assert dataset.table["name"].tolist() == ["Hämatit"]
    assert dataset.warnings == ["upload 'u16.csv' is UTF-16 text: decoded as UTF-16"]


# --------------------------------------------------------------------------- wrong kinds of files


def test_binary_garbage_named_csv(tmp_path: Path) -> None:
    garbage = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path = write(tmp_path, "g.csv", garbage)
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(path)
    assert str(info.value) == (
        f"{path} is not a text CSV file: it holds binary data (NUL bytes in the first 5000 bytes); "
        "expected a CSV or Parquet file"
    )
    no_nul = bytes(b % 255 + 1 for b in garbage)
    with pytest.raises(
        UserDatasetError, match=r"is not a text CSV file: it looks like binary data \(\d+ control characters\)"
    ):
        load_user_dataset(no_nul, filename="g.csv")


def test_parquet_and_zip_that_are_not(tmp_path: Path) -> None:
    path = write(tmp_path, "t.parquet", GOOD_CSV)
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(path)
    assert str(info.value) == (
        f"{path} is named .parquet but is not a Parquet file (it starts with b'formula,', a Parquet file starts with b'PAR1')"
    )
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(GOOD_CSV, filename="t.zip")
    assert str(info.value) == "upload 't.zip' is named .zip but is not a zip archive (it starts with b'formula,')"
    with pytest.raises(UserDatasetError, match=r"^upload 'broken.parquet' is not a readable Parquet file \("):
        load_user_dataset(b"PAR1" + b"\x00" * 50, filename="broken.parquet")
    with pytest.raises(UserDatasetError, match=r"^upload 'broken.zip' is a damaged zip archive \("):
        load_user_dataset(b"PK\x03\x04" + b"\x01" * 50, filename="broken.zip")


def test_parquet_content_named_csv_is_read_as_parquet() -> None:
    dataset = load_user_dataset(parquet_bytes(pd.DataFrame({"formula": ["NaCl"], "gap": [5.0]})), filename="p.csv")
    assert dataset.table["gap"].tolist() == [5.0]
    assert dataset.warnings == ["upload 'p.csv' is named .csv but is a Parquet file: read as Parquet"]


def test_zip_with_one_table_is_read_and_other_zips_are_refused() -> None:
    dataset = load_user_dataset(zipped({"inner/data.csv": GOOD_CSV, "__MACOSX/._data.csv": b"x"}), filename="a.zip")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl", "Si"]
    assert dataset.warnings == ["upload 'a.zip' is a zip archive: read inner/data.csv from it"]
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(zipped({"a.csv": GOOD_CSV, "b.csv": GOOD_CSV}), filename="two.zip")
    assert (
        str(info.value)
        == "upload 'two.zip' is a zip archive; it must hold exactly one .csv or .parquet file, it holds: a.csv, b.csv"
    )
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), filename="book.xlsx")
    assert str(info.value) == "upload 'book.xlsx' is an Excel workbook: save it as CSV (or Parquet) and load that file"


def test_gzip_csv_is_read() -> None:
    dataset = load_user_dataset(gzip.compress(GOOD_CSV), filename="d.csv.gz")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl", "Si"]


# --------------------------------------------------------------------------- size and paths


def test_size_limit_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "big.csv", GOOD_CSV)

    def no_read(self):
        raise AssertionError("the file must not be read")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    with pytest.raises(UserDatasetError) as info:
        load_user_dataset(path, max_bytes=10)
    assert str(info.value) == f"{path} is {len(GOOD_CSV)} bytes, larger than the limit of 10 bytes"
    with pytest.raises(UserDatasetError, match=r"^upload 'u.csv' is 1\.0 MB, larger than the limit of 0\.5 MB$"):
        load_user_dataset(b"x" * 1_000_000, filename="u.csv", max_bytes=500_000)
    assert DEFAULT_MAX_BYTES == 200 * 1024 * 1024


def test_size_limit_applies_to_unpacked_content() -> None:
    big = b"formula,gap\n" + b"Fe2O3,1\n" * 20_000
    with pytest.raises(UserDatasetError, match=r"^upload 'z.zip': data.csv unpacks to 160\.0 kB|unpacks to"):
        load_user_dataset(zipped({"data.csv": big}), filename="z.zip", max_bytes=50_000)
    with pytest.raises(UserDatasetError, match=r"^upload 'z.csv.gz' unpacks to more than the limit of 50000 bytes$"):
        load_user_dataset(gzip.compress(big), filename="z.csv.gz", max_bytes=50_000)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserDatasetError, match=r"nope\.csv does not exist$"):
        load_user_dataset(tmp_path / "nope.csv")
    with pytest.raises(UserDatasetError, match=r"is not a file$"):
        load_user_dataset(tmp_path)


def test_two_hundred_thousand_rows_take_seconds_and_duplicates_are_found_by_composition() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    metals = np.array(["Fe", "Co", "Ni", "Cu"])[rng.integers(0, 4, n)]
    a, b = rng.integers(1, 50, n), rng.integers(1, 50, n)
    text = "formula,gap\n" + "\n".join(f"{m}{x}O{y},{g:.3f}" for m, x, y, g in zip(metals, a, b, rng.random(n)))
    g = np.gcd(a, b)
    distinct = len(set(zip(metals, a // g, b // g)))
    started = time.perf_counter()
    dataset = load_user_dataset(text.encode(), filename="big.csv")
    seconds = time.perf_counter() - started
    assert len(dataset.table) == distinct
    assert len(dataset.skipped) == n - distinct
    assert (dataset.skipped["reason"].str.startswith("duplicate composition: same as row ")).all()
    assert seconds < 15, f"{n} rows took {seconds:.1f} s"


def test_helpers_shared_with_the_dask_engine_are_public():
    from fingerprints.formula import parse_formulas

    assert user_dataset.sniff_delimiter("a;b;c\n1;2;3") == ";" and user_dataset.sniff_delimiter("formula") == ","
    notes: list[str] = []
    assert user_dataset.unique_column_names(["a", "", "a"], "x.csv", notes) == ["a", "column_2", "a_2"]
    assert user_dataset.find_formula_column(["Composition", "gap"], "formula", "x.csv", notes) == "Composition"
    keys = user_dataset.composition_keys(parse_formulas(["Fe2O3", "Fe4O6", "FeO"]).fractions)
    assert keys[0] == keys[1] != keys[2]
