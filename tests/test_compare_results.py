"""Reading the comparison study's results folder: the committed run, and every way a folder can be broken."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from data.compare_results import (
    OPTIONAL_FILES,
    REQUIRED_FILES,
    CompareResultsError,
    best_rows,
    default_results_dir,
    format_mae,
    is_pettifor,
    load_compare_results,
    results_signature,
)

COMMITTED = default_results_dir()


@pytest.fixture(scope="module")
def committed():
    return load_compare_results(COMMITTED)


@pytest.fixture
def folder(tmp_path):
    """A writable copy of the files the view reads."""
    target = tmp_path / "results"
    target.mkdir()
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        shutil.copy2(COMMITTED / name, target / name)
    return target


def test_the_committed_run_is_read_whole(committed):
    assert committed.problems == {}
    assert committed.dataset == "mp" and committed.n_folds == 5 and committed.seed == 0
    assert committed.counts["n_sample"] == 30_000 and committed.counts["n_rows"] == 95_651
    assert committed.embeddings[:3] == ["pettifor-icsd-corrected", "pettifor-icsd-published-2024", "pettifor-mined"]
    assert len(committed.embeddings) == 11 and "random_200_new" in committed.embeddings
    assert committed.targets == ["band_gap", "e_form", "e_above_hull", "magnetization"]
    assert committed.models == ["knn", "hgb"]
    assert len(committed.prediction) == 11 * 4 * 2
    assert committed.map_embeddings == committed.embeddings  # every embedding has a map
    assert committed.map_properties == ["band_gap", "e_form", "e_above_hull", "magnetization"]
    assert committed.n_map == 10_000
    assert set(committed.model_descriptions) == {"knn", "hgb"} and "k=10" in committed.model_descriptions["knn"]
    main = committed.main_seriation().set_index("source")
    assert main.loc["pettifor-icsd-corrected", "spearman"] == pytest.approx(0.9100465077993166)
    assert main.loc["pettifor-mined", "spearman"] == pytest.approx(0.8680503797348932)
    assert (main["min_substitutions"] == 10).all()


def test_map_points_keep_the_same_compounds_in_the_same_order(committed):
    left, right = committed.map_points("pettifor-mined"), committed.map_points("magpie")
    assert list(left.columns) == ["id", "formula", "x", "y", "band_gap", "e_form", "e_above_hull", "magnetization"]
    assert len(left) == 10_000 and (left["formula"] == right["formula"]).all() and (left["id"] == right["id"]).all()
    assert left["id"].iat[0] == "mp row 207" and left["formula"].iat[0] == "Ag13Bi14I56"
    maps = pd.read_parquet(COMMITTED / "maps.parquet")
    np.testing.assert_array_equal(right["x"].to_numpy(), maps["magpie.x"].to_numpy())
    with pytest.raises(KeyError, match="no map of 'nope'"):
        committed.map_points("nope")


def test_the_default_folder_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_results_dir() == COMMITTED and default_results_dir().is_absolute()
    assert (default_results_dir() / "run.json").is_file()


@pytest.mark.parametrize("name", REQUIRED_FILES)
def test_a_missing_required_file_is_named(folder, name):
    (folder / name).unlink()
    with pytest.raises(CompareResultsError) as caught:
        load_compare_results(folder)
    assert caught.value.path == folder / name and caught.value.problem == "file missing"
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "column"),
    [("prediction_summary.csv", "mae_std"), ("prediction_summary.csv", "embedding"), ("seriation.csv", "spearman")],
)
def test_a_missing_column_is_named(folder, name, column):
    table = pd.read_csv(folder / name).drop(columns=[column])
    table.to_csv(folder / name, index=False)
    with pytest.raises(CompareResultsError, match=f"{name}: missing column\\(s\\) {column}"):
        load_compare_results(folder)


def test_values_that_are_not_numbers_are_refused_with_their_row(folder):
    table = pd.read_csv(folder / "prediction_summary.csv")
    table["mae_mean"] = table["mae_mean"].astype(object)
    table.loc[3, "mae_mean"] = "oops"
    table.to_csv(folder / "prediction_summary.csv", index=False)
    with pytest.raises(CompareResultsError, match="column mae_mean holds a value that is not a number \\('oops', data row 4\\)"):
        load_compare_results(folder)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.assign(mae_mean=-t["mae_mean"]), "negative value"),
        (lambda t: t.assign(mae_mean=np.where(t.index == 0, np.nan, t["mae_mean"])), "missing or infinite value"),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "listed twice"),
        (lambda t: t.iloc[0:0], "no rows"),
        (lambda t: t.assign(embedding=np.where(t.index == 2, "", t["embedding"])), "empty value"),
    ],
)
def test_unusable_prediction_tables(folder, edit, message):
    edit(pd.read_csv(folder / "prediction_summary.csv")).to_csv(folder / "prediction_summary.csv", index=False)
    with pytest.raises(CompareResultsError, match=message):
        load_compare_results(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"counts": {}}), "no 'spec' object"),
        (json.dumps({"spec": {"dataset": "mp", "seed": 0}}), "spec.n_folds must be an integer >= 2"),
        (json.dumps({"spec": {"dataset": "mp", "n_folds": 5, "seed": "zero"}}), "spec.seed"),
        (json.dumps({"spec": {"dataset": "mp", "n_folds": 5, "seed": 0}, "counts": {"n_rows": -1}}), "counts.n_rows"),
        (json.dumps({"spec": {"dataset": "mp", "n_folds": 5, "seed": 0}, "notes": "text"}), "'notes' is not a list"),
    ],
)
def test_a_broken_run_json_says_what_is_wrong(folder, content, message):
    (folder / "run.json").write_text(content)
    with pytest.raises(CompareResultsError, match=message) as caught:
        load_compare_results(folder)
    assert caught.value.path.name == "run.json"


def test_undecodable_and_empty_csv_files(folder):
    (folder / "seriation.csv").write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    with pytest.raises(CompareResultsError, match="seriation.csv"):
        load_compare_results(folder)
    (folder / "seriation.csv").write_text("")
    with pytest.raises(CompareResultsError, match="seriation.csv: file is empty"):
        load_compare_results(folder)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(CompareResultsError, match="no such results folder"):
        load_compare_results(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CompareResultsError, match="not a folder"):
        load_compare_results(tmp_path / "file")


def test_missing_or_broken_maps_leave_the_rest_usable(folder):
    (folder / "maps.parquet").unlink()
    results = load_compare_results(folder)
    assert results.maps is None and results.map_embeddings == [] and results.map_properties == []
    assert results.problems == {"maps.parquet": "file missing"}
    assert len(results.prediction) == 88
    (folder / "maps.parquet").write_bytes(b"PAR1 this is not parquet")
    broken = load_compare_results(folder)
    assert broken.maps is None and "not a readable Parquet file" in broken.problems["maps.parquet"]
    pd.DataFrame({"formula": ["NaCl"], "band_gap": [5.0]}).to_parquet(folder / "maps.parquet")
    assert "no map coordinates" in load_compare_results(folder).problems["maps.parquet"]
    pd.DataFrame({"formula": ["NaCl"], "a.x": ["1"], "a.y": [2.0]}).to_parquet(folder / "maps.parquet")
    assert "column a.x is not numeric" in load_compare_results(folder).problems["maps.parquet"]


def test_broken_optional_tables_are_reported_not_raised(folder):
    pd.read_csv(folder / "separability_summary.csv").drop(columns=["skill_std"]).to_csv(folder / "separability_summary.csv", index=False)
    (folder / "headline.csv").unlink()
    results = load_compare_results(folder)
    assert results.separability is None and "skill_std" in results.problems["separability_summary.csv"]
    assert results.headline is None and results.problems["headline.csv"] == "file missing"


def test_a_run_without_maps_says_so(folder):
    run = json.loads((folder / "run.json").read_text())
    run["spec"]["map_rows"] = 0
    (folder / "run.json").write_text(json.dumps(run))
    for name in ("maps.parquet", "separability_summary.csv"):
        (folder / name).unlink()
    results = load_compare_results(folder)
    assert results.problems["maps.parquet"] == "this run skipped the maps (map_rows 0)"
    assert results.problems["separability_summary.csv"] == "this run skipped the maps (map_rows 0)"


def test_the_signature_changes_when_a_file_is_rewritten(folder):
    before = results_signature(folder)
    assert results_signature(folder) == before
    table = pd.read_csv(folder / "seriation.csv")
    table.to_csv(folder / "seriation.csv", index=False)
    os.utime(folder / "seriation.csv", ns=(1, 1))
    assert results_signature(folder) != before


def test_small_helpers():
    frame = pd.DataFrame({"t": ["a", "a", "a", "b", "b"], "v": [2.0, 1.0, 1.0, 3.0, np.nan]})
    assert best_rows(frame, by=("t",), value="v").tolist() == [False, True, True, True, False]
    assert best_rows(frame, by=("t",), value="v", lowest=False).tolist() == [True, False, False, True, False]
    assert format_mae(0.57198, 0.00598, digits=4) == "0.5720 ± 0.0060"
    assert format_mae(4.0433, float("nan"), digits=3) == "4.043 ± ?"
    assert is_pettifor("pettifor-mined") and not is_pettifor("magpie")
