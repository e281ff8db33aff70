"""Damaged files on disk (issue #8): a corrupted dataset cache or map is detected, never served.

- the built-in dataset in ``$CHEMMAP_CACHE_DIR`` (flipped byte, truncated) fails its manifest
  check and is rebuilt from the cached wheel;
- a map file (points, elements, embedding, projector, metadata) truncated or with a flipped
  byte makes ``load_map`` raise ``MapArtifactError`` naming that file;
- the built-in default map is rebuilt by ``app.ensure_default_map``; a user's map is reported
  (``serve --map``), never rebuilt behind their back;
- the dashboard lists and serves the other maps, and reports the damaged one.

tests/test_builtin.py and tests/test_map_build.py hold the per-module damage tests; these go
through the default cache directory, the command line and the dashboard.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import app
from dashboard.callbacks import page
from dashboard.callbacks.context import AppContext
from dashboard.maps import MAPS, scan_maps
from data import builtin, cache, map_build
from data.map_artifact import MapArtifactError, load_map
from data.map_build import MapSpec
from tests.test_builtin import CRABNET_WHEEL_NAME, EXPECTED_MP, make_wheel


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never the user's ~/.cache/chemmap."""
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "chemmap-cache"))


def _flip(path: Path, *, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {"flipped byte": _flip, "truncated": _truncate}


# --------------------------------------------------------------------------- the dataset cache


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_builtin_dataset_in_the_default_cache_is_rebuilt(tmp_path, damage, caplog):
    wheel, sha = make_wheel(tmp_path / "download" / CRABNET_WHEEL_NAME)
    builtin.build_builtin("mp", wheel=wheel, wheel_sha256=sha, progress=False)
    parquet = tmp_path / "chemmap-cache" / "datasets" / "mp.parquet"
    assert parquet.is_file()
    DAMAGE[damage](parquet)

    status = cache.verify_table(parquet.parent, "mp")
    assert status.status == "corrupt" and str(parquet) in status.reason
    with pytest.raises(builtin.BuiltinCacheError, match="is corrupt"):
        builtin.load_builtin("mp", build_if_missing=False, wheel_sha256=sha)
    frame = builtin.load_builtin("mp", wheel_sha256=sha, progress=False)  # rebuilt from the cached wheel
    pd.testing.assert_frame_equal(frame, EXPECTED_MP)
    assert "rebuilding it" in caplog.text
    assert cache.verify_table(parquet.parent, "mp").ok


# --------------------------------------------------------------------------- map files

MAP_FILES = ["points.parquet", "elements.parquet", "embedding.json", "projector.pkl", "metadata.json"]


def _copy(map_dir: Path, target: Path) -> Path:
    return Path(shutil.copytree(map_dir, target))


# The projector may be large: load_map checks its size; its sha256 when it is first used (next test).
LOAD_TIME_DAMAGE = [(name, damage) for name in MAP_FILES for damage in DAMAGE if (name, damage) != ("projector.pkl", "flipped byte")]


@pytest.mark.parametrize(("name", "damage"), LOAD_TIME_DAMAGE)
def test_damaged_map_file_is_refused_naming_the_file(small_map, tmp_path, name, damage):
    broken = _copy(small_map, tmp_path / "broken")
    DAMAGE[damage](broken / name)
    with pytest.raises(MapArtifactError) as caught:
        load_map(broken)
    message = str(caught.value)
    assert name in message and str(broken) in message


def test_flipped_byte_in_the_projector_is_caught_when_it_is_first_used(small_map, tmp_path):
    broken = _copy(small_map, tmp_path / "broken")
    _flip(broken / "projector.pkl", at=0.9)  # same size: only the sha256 tells
    artifact = load_map(broken)
    with pytest.raises(MapArtifactError, match="projector.pkl does not match its recorded sha256"):
        artifact.projector


# --------------------------------------------------------------------------- the default map


@pytest.fixture
def small_default_spec(monkeypatch, small_dataset_csv, small_counts_dir):
    """Make the default map a small PCA map, so ensure_default_map builds it in about a second."""

    def spec(**changes):
        base = dict(dataset=str(small_dataset_csv), similarity=f"icsd:{small_counts_dir}", method="pca", element_method="pca")
        return MapSpec(**{**base, **changes})

    monkeypatch.setattr(map_build, "MapSpec", spec)
    return spec


@pytest.mark.parametrize("name", ["points.parquet", "metadata.json"])
def test_damaged_default_map_is_rebuilt_at_start(small_default_spec, tmp_path, name, capsys, monkeypatch):
    target = map_build.default_map_dir()
    assert target.is_relative_to(tmp_path)
    assert app.ensure_default_map() == target  # first start: built
    assert "building the default map" in capsys.readouterr().err
    _truncate(target / name)

    assert app.ensure_default_map() == target
    err = capsys.readouterr().err
    assert "the default map needs rebuilding" in err and name in err
    assert len(load_map(target).points) == 384
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temporary folders

    def no_build(*args, **kwargs):
        pytest.fail("an intact default map must not be rebuilt")

    monkeypatch.setattr(map_build, "build_map", no_build)
    assert app.ensure_default_map() == target


def test_half_built_default_map_is_rebuilt(small_default_spec, capsys):
    target = map_build.default_map_dir()
    target.mkdir(parents=True)
    (target / "points.parquet").write_bytes(b"PAR1")  # a crash of an old version, say
    assert app.ensure_default_map() == target
    assert "no metadata.json" in capsys.readouterr().err
    assert len(load_map(target).points) == 384


def test_damaged_user_map_is_reported_not_rebuilt(small_map, tmp_path, capsys, monkeypatch):
    broken = _copy(small_map, tmp_path / "mine")
    _flip(broken / "points.parquet")
    before = {p.name: p.read_bytes() for p in broken.iterdir()}
    monkeypatch.setattr(map_build, "build_map", lambda *a, **k: pytest.fail("a user's map is never rebuilt"))
    code = app.main(["serve", "--map", str(broken), "--port", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == f"error: map {broken}: points.parquet does not match its recorded sha256 (corrupted)"
    assert {p.name: p.read_bytes() for p in broken.iterdir()} == before


# --------------------------------------------------------------------------- the dashboard


@pytest.fixture
def maps_root(small_map, tmp_path) -> Path:
    """good (intact), damaged (points flipped), half (no metadata.json), and a build's temporary folder."""
    root = tmp_path / "maps"
    root.mkdir()
    _copy(small_map, root / "good")
    _flip(_copy(small_map, root / "damaged") / "points.parquet")
    (_copy(small_map, root / "half") / "metadata.json").unlink()
    _copy(small_map, root / ".good.building-x1y2")
    MAPS.clear()
    return root


def test_dashboard_lists_readable_maps_and_skips_half_built_ones(maps_root):
    names = [entry.name for entry in scan_maps(maps_root)]
    # "damaged" has intact metadata, so it is listed; loading it is what fails (below)
    assert names == ["damaged", "good"]


def test_dashboard_reports_a_damaged_map_and_serves_the_others(maps_root):
    context = AppContext(maps_root=maps_root, start_map=maps_root / "good")
    with pytest.raises(MapArtifactError, match="points.parquet does not match its recorded sha256"):
        context.load("damaged")
    rendered = json.dumps(page.page_for(context, "?map=damaged").to_plotly_json(), default=str)
    assert "could not be loaded" in rendered and "points.parquet" in rendered
    assert "good" in rendered  # the menu still offers the intact map

    assert context.load("good").n_points == 384


def test_dashboard_page_of_a_damaged_map_says_so_without_server_paths(small_map, tmp_path):
    root = tmp_path / "maps"
    root.mkdir()
    _truncate(_copy(small_map, root / "broken") / "elements.parquet")
    MAPS.clear()
    context = AppContext(maps_root=root, start_map=None)
    rendered = json.dumps(page.page_for(context, "?map=broken").to_plotly_json(), default=str)
    assert "The map 'broken' is damaged" in rendered
    assert "map broken: elements.parquet" in rendered  # the problem, with the map named by its name
    assert "python app.py build-map ... --out broken" in rendered
    assert "No map to show yet" not in rendered and "Build the default map" not in rendered
    assert str(tmp_path) not in rendered and str(tmp_path.resolve()) not in rendered

    # gone since it was listed: not damaged, the usual "no map" page, still without the folder
    entry = context.entries()[0]
    shutil.rmtree(root / "broken")
    gone = json.dumps(page.unloadable_map_page(entry, MapArtifactError(f"map directory {entry.path} does not exist"), [entry]).to_plotly_json(), default=str)
    assert "No map to show yet" in gone and "map directory broken does not exist" in gone and str(tmp_path) not in gone


def test_dashboard_picks_up_a_map_repaired_in_place(maps_root, small_map):
    context = AppContext(maps_root=maps_root, start_map=None)
    with pytest.raises(MapArtifactError):
        context.load("damaged")
    # rebuilt (here: copied back) under the same name: loaded without restarting the app
    shutil.rmtree(maps_root / "damaged")
    _copy(small_map, maps_root / "damaged")
    assert context.load("damaged").n_points == 384
