"""build-map with the dask engine: same artifact as the in-process build, partitioned input,
skipped rows, atomicity, and a scheduler given by address.

Tests share one LocalCluster (2 single-threaded workers on 127.0.0.1) started by a fixture;
one test lets ``build_map_dask`` start and close its own. Similarity: random counts written
in the test (no download, no built-in dataset needed).
"""

from __future__ import annotations

import errno

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed")

import data.map_build_dask as dask_engine  # noqa: E402
from data.map_artifact import load_map, read_metadata  # noqa: E402
from data.map_build import MapSpec, build_map  # noqa: E402
from data.map_build_dask import _row_group_plan, build_map_dask  # noqa: E402
from data.user_dataset import UserDatasetError  # noqa: E402
from fingerprints.io import DiskFullError  # noqa: E402

N_ROWS = 20_000
CATIONS = np.array(["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga", "Ti", "Zr", "Y", "La"])
ANIONS = np.array(["O", "S", "Se", "F", "Cl", "Br", "N", "P", "Te", "I"])
#: Rows (0-based) given special formulas; Parquet rows are reported 1-based.
SPECIAL = {5: "Xx2O", 77: None, 100: "Rn", 150: "   ", 9000: "Fe2O3)"}


@pytest.fixture(scope="module")
def counts_dir(small_counts_dir):
    """The shared random counts of tests/conftest.py (every element but Rn has data)."""
    return small_counts_dir


def _synthetic_table(n: int, seed: int = 7) -> pd.DataFrame:
    """Ternaries A_i B_j X_k: ~10 % repeat an earlier composition; a few rows are broken."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.choice(CATIONS, n), rng.choice(CATIONS, n), rng.choice(ANIONS, n)
    i, j, k = rng.integers(1, 5, n), rng.integers(1, 4, n), rng.integers(1, 7, n)
    formulas = (a + i.astype(str) + b + j.astype(str) + c + k.astype(str)).astype(object)
    for row, formula in SPECIAL.items():
        if row < n:
            formulas[row] = formula
    return pd.DataFrame(
        {
            "id": [f"s{q:05d}" for q in range(n)],
            "formula": formulas,
            "band_gap": rng.random(n) * 4,
            "kind": rng.choice(["oxide", "sulfide", "halide"], n),
        }
    )


@pytest.fixture(scope="module")
def dataset_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset") / "compounds.parquet"
    pq.write_table(pa.Table.from_pandas(_synthetic_table(N_ROWS), preserve_index=False), path, row_group_size=3000)
    return path


@pytest.fixture(scope="module")
def scheduler_address():
    """A LocalCluster started here; builds reach it by its address, as a user's cluster."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _spec(dataset, counts_dir, **changes) -> MapSpec:
    base = dict(dataset=str(dataset), similarity=f"icsd:{counts_dir}", method="pca", element_method="pca", fit_sample=5000)
    return MapSpec(**{**base, **changes})


@pytest.fixture(scope="module")
def pca_maps(tmp_path_factory, dataset_parquet, counts_dir, scheduler_address):
    """The same PCA map built in process and with dask (3 partitions, fit on 5000 rows)."""
    root = tmp_path_factory.mktemp("maps")
    spec = _spec(dataset_parquet, counts_dir)
    local = build_map(spec, root / "local", progress=False)
    distributed = build_map_dask(spec, root / "dask", scheduler=scheduler_address, partition_rows=7000, progress=False)
    return local, distributed


def test_pca_map_is_the_in_process_map(pca_maps):
    local, distributed = (load_map(p) for p in pca_maps)
    # same fit sample, same PCA: identical coordinates, ids, properties and their types
    pd.testing.assert_frame_equal(distributed.points, local.points)
    pd.testing.assert_frame_equal(distributed.elements, local.elements)
    assert sorted(p.name for p in pca_maps[1].iterdir()) == sorted(p.name for p in pca_maps[0].iterdir())
    meta, local_meta = distributed.metadata, local.metadata
    assert meta["projection"]["fit_sample"] == local_meta["projection"]["fit_sample"] == {"size": 5000, "seed": 0}
    assert meta["quality"]["compounds"]["trustworthiness"] == local_meta["quality"]["compounds"]["trustworthiness"]
    assert meta["quality"]["compounds"]["knn_scope"] == "quality sample"
    assert meta["engine"]["name"] == "dask" and meta["engine"]["n_workers"] == 2
    assert meta["engine"]["partitions"] == 4  # row groups of 3000 gathered up to 7000 rows: 6000, 6000, 6000, 2000
    assert meta["engine"]["fit_sample"] == {"requested": 5000, "used": 5000, "seed": 0}
    assert meta["dataset"]["rows"] == N_ROWS and meta["dataset"]["sha256"] == local_meta["dataset"]["sha256"]


def test_every_input_row_is_on_the_map_or_skipped_with_a_reason(pca_maps):
    local_skipped = pd.read_csv(pca_maps[0] / "skipped.csv", keep_default_na=False)
    skipped = pd.read_csv(pca_maps[1] / "skipped.csv", keep_default_na=False)
    points = load_map(pca_maps[1]).points
    assert len(points) + len(skipped) == N_ROWS
    by_row = skipped.set_index("row")
    assert by_row.loc[6, "reason"] == "invalid formula: unknown element symbol 'Xx'"
    assert by_row.loc[78, "reason"] == "missing formula" and by_row.loc[151, "reason"] == "missing formula"
    assert by_row.loc[9001, "reason"].startswith("invalid formula:")
    assert by_row.loc[101, ["formula", "stage"]].tolist() == ["Rn", "fingerprint"]
    assert by_row.loc[101, "reason"] == "only elements without similarity data: Rn"
    duplicates = skipped[skipped["reason"].str.startswith("duplicate composition: same as row ")]
    assert len(duplicates) > 500
    # the load-stage rows are exactly those the in-process build (user_dataset) skips
    pd.testing.assert_frame_equal(
        skipped[skipped.stage == "load"].reset_index(drop=True), local_skipped[local_skipped.stage == "load"].reset_index(drop=True)
    )
    assert not set(points["id"]) & set(f"s{r - 1:05d}" for r in skipped["row"])


def test_failure_mid_write_leaves_no_map_and_keeps_the_old_one(dataset_parquet, counts_dir, scheduler_address, tmp_path, monkeypatch):
    out = tmp_path / "map"
    spec = _spec(dataset_parquet, counts_dir)
    written = []

    def fail_on_second(writer, points):
        if written:
            raise OSError("disk full (simulated)")
        written.append(points.num_rows)
        writer.write_table(points)

    monkeypatch.setattr(dask_engine, "_write_partition", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        build_map_dask(spec, out, scheduler=scheduler_address, partition_rows=7000, progress=False)
    assert written and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary directory left either

    out.mkdir()
    (out / "metadata.json").write_text("old map")
    with pytest.raises(OSError, match="disk full"):
        build_map_dask(spec, out, scheduler=scheduler_address, partition_rows=7000, progress=False)
    assert (out / "metadata.json").read_text() == "old map"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map"]


@pytest.mark.parametrize(
    "fault",
    [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
    ids=["ctrl-c", "disk-full"],
)
def test_interrupt_or_full_disk_mid_write_keeps_the_old_map(counts_dir, scheduler_address, tmp_path, monkeypatch, fault):
    source = tmp_path / "small.parquet"
    _synthetic_table(4000, seed=7).to_parquet(source, index=False)
    spec = _spec(source, counts_dir, fit_sample=1000)
    root = tmp_path / "maps"
    old = build_map(spec, root / "map", progress=False)
    before = {p.name: p.read_bytes() for p in old.iterdir()}

    def fail_on_second(writer, points):
        if fail_on_second.calls:
            raise fault
        fail_on_second.calls += 1
        writer.write_table(points)

    fail_on_second.calls = 0
    monkeypatch.setattr(dask_engine, "_write_partition", fail_on_second)
    with pytest.raises(type(fault)) as caught:
        build_map_dask(spec, old, scheduler=scheduler_address, partition_rows=1500, progress=False)
    if isinstance(fault, OSError):
        assert isinstance(caught.value, DiskFullError) and caught.value.path == old
        assert str(caught.value).startswith(f"no space left on device while writing {old}: it was not written")
    assert fail_on_second.calls == 1
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before and len(load_map(old).points) > 0
    assert sorted(p.name for p in root.iterdir()) == ["map"]  # no temporary directory left


def test_own_local_cluster_reads_csv_in_chunks(counts_dir, tmp_path):
    table = _synthetic_table(3000, seed=11)
    table.loc[10, "band_gap"] = np.nan
    lines = ["formula,band_gap,kind,id"]
    for row in table.itertuples(index=False):
        gap = "n/a" if np.isnan(row.band_gap) else f"{row.band_gap:.6f}"
        lines.append(f"{row.formula or ''},{gap},{row.kind},{row.id}")
    lines.insert(40, "NaCl,1,2,3,4")  # a malformed line: line 41 of the file
    lines[300] = lines[300].replace(lines[300].split(",")[1], "abc", 1)  # a non-number in a numeric column
    path = tmp_path / "compounds.csv"
    path.write_text("\n".join(lines) + "\n")

    out = build_map_dask(_spec(path, counts_dir, fit_sample=None), tmp_path / "map", n_workers=2, partition_rows=1000, progress=False)
    artifact = load_map(out)
    meta = artifact.metadata
    assert meta["engine"]["scheduler"].startswith("LocalCluster") and meta["engine"]["n_workers"] == 2
    assert meta["engine"]["partitions"] == 3
    skipped = pd.read_csv(out / "skipped.csv", keep_default_na=False).set_index("row")
    # file lines: header 1, data row r (0-based) on line r + 2, one more after line 41
    assert skipped.loc[41, "reason"] == "malformed line: 5 fields, the header has 4"
    assert skipped.loc[7, "reason"] == "invalid formula: unknown element symbol 'Xx'"  # row 5
    assert skipped.loc[103, "stage"] == "fingerprint"  # row 100 (Rn), after the malformed line
    assert len(artifact.points) + len(skipped) == 3001
    assert artifact.points["band_gap"].dtype == np.float64 and artifact.points["kind"].dtype == "category"
    assert any("band_gap" in w and "1 value" in w for w in meta["warnings"])
    assert artifact.points["id"].iloc[0] == "s00000"


def test_csv_map_equals_parquet_map(counts_dir, tmp_path, scheduler_address):
    table = _synthetic_table(4000, seed=5)
    csv, parquet = tmp_path / "d.csv", tmp_path / "d.parquet"
    table.to_csv(csv, index=False)
    table.to_parquet(parquet, index=False)
    maps = [
        build_map_dask(_spec(p, counts_dir, fit_sample=1000), tmp_path / p.suffix[1:], scheduler=scheduler_address, partition_rows=1500, progress=False)
        for p in (csv, parquet)
    ]
    a, b = (load_map(m).points for m in maps)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_umap_fitted_on_a_sample_places_the_rest(counts_dir, scheduler_address, tmp_path):
    # small on purpose: most of the time is numba compiling UMAP in the driver and each worker
    path = tmp_path / "small.parquet"
    _synthetic_table(6000).to_parquet(path, index=False)
    spec = _spec(path, counts_dir, method="umap", fit_sample=None, params={"n_epochs": 50})
    out = build_map_dask(spec, tmp_path / "umap", scheduler=scheduler_address, partition_rows=2000, fit_sample=1500, progress=False)
    artifact = load_map(out)
    assert artifact.metadata["engine"]["partitions"] == 3
    xy = artifact.points[["x", "y"]].to_numpy(dtype=np.float64)
    assert np.isfinite(xy).all() and len(xy) > 5000
    projector = artifact.projector
    assert projector.params_["fit_sample"] == {"size": 1500, "seed": 0}
    fitted = projector.embedding_
    # the fitted rows keep their fitted positions (float32 in the file)
    chosen = np.sort(np.random.default_rng(0).choice(len(xy), size=1500, replace=False))
    np.testing.assert_allclose(xy[chosen], fitted, rtol=0, atol=1e-5)
    # placed rows land within the fitted map's extent and near their fingerprint neighbours
    low, high = fitted.min(axis=0) - 1, fitted.max(axis=0) + 1
    assert ((xy >= low) & (xy <= high)).all()
    assert artifact.metadata["quality"]["compounds"]["trustworthiness"] > 0.8


def test_mined_self_is_refused_on_a_huge_file(dataset_parquet, monkeypatch, tmp_path):
    monkeypatch.setattr(dask_engine, "MINED_SELF_MAX_ROWS", 1000)
    with pytest.raises(ValueError, match=r"mined:self .* is refused.*icsd:DIR"):
        build_map_dask(MapSpec(dataset=str(dataset_parquet), similarity="mined:self"), tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_bad_inputs_fail_before_any_work(tmp_path, counts_dir):
    with pytest.raises(FileNotFoundError, match="neither a built-in name"):
        build_map_dask(_spec(tmp_path / "missing.parquet", counts_dir), tmp_path / "m", progress=False)
    no_formula = tmp_path / "no_formula.parquet"
    pd.DataFrame({"name": ["Fe2O3"], "gap": [1.0]}).to_parquet(no_formula)
    with pytest.raises(UserDatasetError, match="no formula column 'formula'.*'name', 'gap'"):
        build_map_dask(_spec(no_formula, counts_dir), tmp_path / "m", progress=False)
    with pytest.raises(ValueError, match="pca does not take parameter"):
        build_map_dask(_spec(no_formula, counts_dir, params={"n_neighbors": 5}), tmp_path / "m", progress=False)
    with pytest.raises(ValueError, match="unknown compound map method 'mds'"):
        build_map_dask(_spec(no_formula, counts_dir, method="mds"), tmp_path / "m", progress=False)
    with pytest.raises(ValueError, match="partition_rows"):
        build_map_dask(_spec(no_formula, counts_dir), tmp_path / "m", partition_rows=0, progress=False)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("dictionary", [False, True], ids=["plain pages", "dictionary pages"])
def test_decompression_bomb_parquet_is_refused_before_it_expands(tmp_path, counts_dir, monkeypatch, dictionary):
    """20,000 copies of a 1,000-character string: 20 MB of values in a file of a few kB. Plain
    pages are refused from the metadata, before any data is read; dictionary pages (tiny even
    uncompressed) once read dictionary-encoded and measured, before they are expanded."""
    bomb = tmp_path / "bomb.parquet"
    table = pa.table({"formula": ["Fe2O3"] * 20_000, "note": ["x" * 1000] * 20_000})
    pq.write_table(table, bomb, use_dictionary=dictionary, compression="zstd")
    assert bomb.stat().st_size < 50_000
    monkeypatch.setattr(dask_engine, "MAX_PARTITION_BYTES", 5_000_000)
    if not dictionary:
        def no_read(*args, **kwargs):
            raise AssertionError("data read before the metadata check")

        monkeypatch.setattr(pq.ParquetFile, "read_row_groups", no_read)
    pattern = rf"{bomb} \(row group 0\) expands to .*more than the limit of 5\.0 MB"
    with pytest.raises(UserDatasetError, match=pattern):
        build_map_dask(_spec(bomb, counts_dir), tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_row_groups_are_gathered_into_partitions():
    assert _row_group_plan([3000] * 7, 7000) == [([0, 1], 0, 6000), ([2, 3], 0, 6000), ([4, 5], 0, 6000), ([6], 0, 3000)]
    # a row group larger than a partition is read in slices
    assert _row_group_plan([2, 10, 0, 3], 4) == [([0], 0, 2), ([1], 0, 4), ([1], 4, 4), ([1], 8, 2), ([3], 0, 3)]


@pytest.mark.slow
def test_builtin_table_gives_the_in_process_map(counts_dir, scheduler_address, tmp_path):
    """A built-in table (sliced in the driver) with no more rows than fit_sample: the projection
    is fitted on every row, so the map is exactly build_map's."""
    from data.builtin import load_builtin

    try:
        load_builtin("mp", build_if_missing=False)
    except Exception as exc:  # noqa: BLE001 - any reason means it is not available here
        pytest.skip(f"the built-in mp dataset is not built on this machine ({exc})")
    spec = MapSpec(dataset="mp", similarity=f"icsd:{counts_dir}", method="pca", element_method="pca")
    local = build_map(spec, tmp_path / "local", progress=False)
    distributed = build_map_dask(spec, tmp_path / "dask", scheduler=scheduler_address, partition_rows=40_000, progress=False)
    pd.testing.assert_frame_equal(load_map(distributed).points, load_map(local).points)
    assert read_metadata(distributed)["engine"]["partitions"] == 3
