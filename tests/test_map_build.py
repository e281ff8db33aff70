"""build-map end to end on a small dataset, and the map artifact's integrity checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import app
from data.map_artifact import MapArtifactError, load_map, read_metadata
from data.map_build import MapSpec, build_map

from tests.conftest import ANIONS, CATIONS


@pytest.fixture(scope="module")
def counts_dir(small_counts_dir):
    return small_counts_dir


@pytest.fixture(scope="module")
def dataset_csv(small_dataset_csv):
    return small_dataset_csv


@pytest.fixture(scope="module")
def built_map(small_map):
    return small_map


def test_map_directory_contents(built_map):
    names = sorted(p.name for p in built_map.iterdir())
    assert names == ["elements.parquet", "embedding.json", "metadata.json", "points.parquet", "projector.pkl", "skipped.csv"]
    artifact = load_map(built_map)
    n_good = len(CATIONS) * len(ANIONS) * 3
    assert len(artifact.points) == n_good
    assert list(artifact.points.columns[:4]) == ["id", "formula", "x", "y"]
    assert artifact.property_columns == ["band_gap", "kind"]
    assert np.isfinite(artifact.points[["x", "y"]].to_numpy()).all()
    elements = artifact.elements
    assert len(elements) == 98
    assert elements.loc[elements.symbol == "Rn", "has_data"].item() == False  # noqa: E712
    assert (elements.loc[elements.has_data, ["grid_col", "grid_row"]].duplicated().sum()) == 0


def test_skipped_rows_are_listed_with_reasons(built_map):
    skipped = pd.read_csv(built_map / "skipped.csv")
    reasons = dict(zip(skipped["formula"], skipped["reason"]))
    assert set(reasons) == {"Xx2O", "Rn"}
    assert "Xx" in reasons["Xx2O"]
    assert "only elements without similarity data: Rn" in reasons["Rn"]


def test_metadata_records_provenance_and_quality(built_map, dataset_csv):
    meta = read_metadata(built_map)
    assert meta["dataset"]["source"] == str(dataset_csv) and len(meta["dataset"]["sha256"]) == 64
    assert meta["similarity"]["spec"].startswith("icsd:")
    assert meta["variant"] == "corrected" and meta["method"] == "pca"
    assert meta["projection"]["params"]["random_state"] == 124
    assert meta["rows"] == len(CATIONS) * len(ANIONS) * 3 and meta["skipped_rows"] == 2
    compounds = meta["quality"]["compounds"]
    assert 0 < compounds["trustworthiness"] <= 1 and 0 < compounds["knn_preservation"] <= 1
    assert 0 <= meta["quality"]["elements"]["group"] <= 1
    assert meta["elements_without_data"] == ["Rn"]
    assert meta["versions"]["numpy"] == np.__version__
    assert set(meta["files"]) == {"points.parquet", "elements.parquet", "embedding.json", "projector.pkl", "skipped.csv"}


def test_same_inputs_give_the_same_map(built_map, dataset_csv, counts_dir, tmp_path):
    spec = MapSpec(dataset=str(dataset_csv), similarity=f"icsd:{counts_dir}", method="pca", element_method="pca")
    again = build_map(spec, tmp_path / "again", progress=False)
    pd.testing.assert_frame_equal(load_map(again).points, load_map(built_map).points)


def test_projector_places_new_fingerprints(built_map):
    artifact = load_map(built_map)
    fingerprints = artifact.embedding.transform(artifact.points["formula"].head(3).tolist())
    placed = artifact.projector.transform(fingerprints)
    np.testing.assert_allclose(placed, artifact.points[["x", "y"]].head(3).to_numpy(), atol=1e-4)


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_corrupted_or_half_built_maps_are_refused(built_map, tmp_path):
    broken = _copy(built_map, tmp_path / "broken")
    data = bytearray((broken / "points.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "points.parquet").write_bytes(bytes(data))
    with pytest.raises(MapArtifactError, match="points.parquet does not match its recorded sha256"):
        load_map(broken)

    truncated = _copy(built_map, tmp_path / "truncated")
    (truncated / "elements.parquet").write_bytes((truncated / "elements.parquet").read_bytes()[:100])
    with pytest.raises(MapArtifactError, match="elements.parquet has 100 bytes"):
        load_map(truncated)

    half = _copy(built_map, tmp_path / "half")
    (half / "metadata.json").unlink()
    with pytest.raises(MapArtifactError, match="incomplete: no metadata.json"):
        load_map(half)

    foreign = _copy(built_map, tmp_path / "foreign")
    (foreign / "metadata.json").write_text(json.dumps({"format": "something"}))
    with pytest.raises(MapArtifactError, match="not written by build-map"):
        load_map(foreign)

    with pytest.raises(MapArtifactError, match="does not exist"):
        load_map(tmp_path / "nowhere")

    a_file = tmp_path / "points.parquet"
    a_file.write_bytes(b"not a map")
    with pytest.raises(MapArtifactError, match=f"^map directory {a_file} is not a directory$"):
        load_map(a_file)


def test_failed_rebuild_keeps_the_old_map(built_map, dataset_csv, counts_dir, tmp_path, monkeypatch):
    target = _copy(built_map, tmp_path / "kept")
    before = (target / "metadata.json").read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr("data.map_build.compound_map", explode)
    spec = MapSpec(dataset=str(dataset_csv), similarity=f"icsd:{counts_dir}", method="pca", element_method="pca")
    with pytest.raises(RuntimeError, match="disk full"):
        build_map(spec, target, progress=False)
    assert (target / "metadata.json").read_bytes() == before
    assert load_map(target).points.shape[0] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # no temporary folders left


def test_build_map_command(dataset_csv, counts_dir, tmp_path, capsys):
    out = tmp_path / "cli-map"
    code = app.main(
        ["build-map", "--dataset", str(dataset_csv), "--similarity", f"icsd:{counts_dir}", "--method", "pca",
         "--element-method", "pca", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "384 compounds (2 skipped" in err and "trustworthiness" in err
    assert load_map(out).metadata["method"] == "pca"


def test_build_map_rejects_bad_parameters(dataset_csv, counts_dir, tmp_path, capsys):
    args = ["build-map", "--dataset", str(dataset_csv), "--similarity", f"icsd:{counts_dir}", "--out", str(tmp_path / "m"), "--quiet"]
    assert app.main([*args, "--method", "pca", "--param", "n_neighbors=5"]) == 2
    assert "pca does not take parameter(s) n_neighbors" in capsys.readouterr().err
    assert app.main([*args, "--param", "oops"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert app.main(["build-map", "--dataset", "nowhere.csv", "--out", str(tmp_path / "m"), "--quiet"]) == 2
    assert "neither a built-in name" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
