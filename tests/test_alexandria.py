"""Alexandria loader, tested on small files written here in the published format."""

from __future__ import annotations

import bz2
import functools
import gzip
import http.server
import json
import math
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import alexandria
from data.alexandria import (
    COLUMNS,
    AlexandriaError,
    alexandria_info,
    load_alexandria,
    load_cached_alexandria,
    parse_alexandria_file,
    summarize_manifest,
)
from data.download import OfflineError, sha256_of
from tests.conftest import ROOT
from tests.local_http import bypass_proxies, serving

RELEASE_PATH = "data/pbe/2024.12.15/convex_hull.json.bz2"


# --------------------------------------------------------------------------- file builders


def _site(element: str, index: int) -> dict:
    abc = [0.5 * (index % 2), 0.25 * (index % 3), 0.125 * (index % 5)]
    return {
        "species": [{"element": element, "occu": 1}],
        "abc": abc,
        "xyz": [round(4.01 * x, 6) for x in abc],
        "label": element,
        "properties": {"magmom": 0.0, "forces": [0.0012, -0.0003, 0.0001]},
    }


def alexandria_entry(
    index: int, formula: object = "BaTiO3", *, sites: int = 5, drop: tuple[str, ...] = (), **data: object
) -> dict:
    """A ComputedStructureEntry dict as Alexandria publishes it (structure blob included)."""
    mat_id = f"agm{index:09d}"
    values = {
        "mat_id": mat_id,
        "prototype_id": "ABC3_cP5_221_a_b_c",
        "location": f"database/3d/{mat_id}",
        "formula": formula,
        "elements": ["Ba", "O", "Ti"],
        "spg": 221,
        "nsites": sites,
        "stress": [[-1.2, 0.0, 0.0], [0.0, -1.2, 0.0], [0.0, 0.0, -1.2]],
        "energy_total": -40.5 - index / 100,
        "total_mag": 0.001 * index,
        "band_gap_ind": 1.5 + index / 10,
        "band_gap_dir": 1.75 + index / 10,
        "dos_ef": 0.0,
        "energy_corrected": -41.0,
        "e_above_hull": 0.01 * index,
        "e_form": -3.25 + index / 100,
        "e_phase_separation": -0.2,
        "decomposition": "BaTiO3",
    }
    values.update(data)
    for key in drop:
        values.pop(key)
    return {
        "@module": "pymatgen.entries.computed_entries",
        "@class": "ComputedStructureEntry",
        "energy": -45.1,
        "composition": {"Ba": 1.0, "Ti": 1.0, "O": 3.0},
        "entry_id": mat_id,
        "correction": 0.0,
        "energy_adjustments": [],
        "parameters": {},
        "data": values,
        "structure": {
            "@module": "pymatgen.core.structure",
            "@class": "Structure",
            "charge": 0,
            "lattice": {
                "matrix": [[4.01, 0.0, 0.0], [0.0, 4.01, 0.0], [0.0, 0.0, 4.01]],
                "pbc": [True, True, True],
                "a": 4.01,
                "b": 4.01,
                "c": 4.01,
                "alpha": 90.0,
                "beta": 90.0,
                "gamma": 90.0,
                "volume": 64.48,
            },
            "properties": {},
            "sites": [_site(("Ba", "Ti", "O", "O", "O")[k % 5], k) for k in range(sites)],
        },
    }


def alexandria_text(entries: list) -> str:
    """The JSON text of a file; Python's json writes bare NaN/Infinity like the real files may."""
    return json.dumps({"@module": "pymatgen.entries.computed_entries", "entries": entries})


def write_alexandria(path: Path, entries: list, *, compression: str = "bz2") -> Path:
    data = alexandria_text(entries).encode()
    if compression == "bz2":
        data = bz2.compress(data)
    elif compression == "gzip":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def good_entries(n: int = 4) -> list[dict]:
    formulas = ["BaTiO3", "SrTiO3", "Fe2O3", "NaCl", "Si", "GaAs", "LiFePO4", "MgO"]
    return [alexandria_entry(i, formulas[i % len(formulas)]) for i in range(n)]


# --------------------------------------------------------------------------- parsing


def test_parse_keeps_the_ten_properties_with_their_values_and_types(tmp_path: Path) -> None:
    path = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(3))
    table, skipped = parse_alexandria_file(path, progress=False)
    assert list(table.columns) == list(COLUMNS)
    assert table["mat_id"].tolist() == ["agm000000000", "agm000000001", "agm000000002"]
    assert table["formula"].tolist() == ["BaTiO3", "SrTiO3", "Fe2O3"]
    assert table["prototype_id"].tolist() == ["ABC3_cP5_221_a_b_c"] * 3
    assert table["spg"].tolist() == [221, 221, 221]
    assert table["nsites"].tolist() == [5, 5, 5]
    np.testing.assert_array_equal(table["e_above_hull"], [0.0, 0.01, 0.02])
    np.testing.assert_array_equal(table["e_form"], [-3.25, -3.24, -3.23])
    np.testing.assert_array_equal(table["band_gap_ind"], [1.5, 1.6, 1.7])
    np.testing.assert_array_equal(table["band_gap_dir"], [1.75, 1.85, 1.95])
    np.testing.assert_array_equal(table["total_mag"], [0.0, 0.001, 0.002])
    assert str(table["spg"].dtype) == "Int64" and str(table["nsites"].dtype) == "Int64"
    assert all(
        table[c].dtype == np.float64 for c in ("e_above_hull", "e_form", "band_gap_ind", "band_gap_dir", "total_mag")
    )
    assert pd.api.types.is_string_dtype(table["mat_id"]) and pd.api.types.is_string_dtype(table["formula"])
    assert skipped.empty and list(skipped.columns) == ["entry", "mat_id", "formula", "reason"]
    assert table.attrs["alexandria"] == {
        "entries": 3, "compression": "bz2", "missing_values": {}, "invalid_values": {}, "non_finite_numbers": 0,
    }  # fmt: skip


def test_missing_keys_and_wrong_types_become_nan_and_are_counted(tmp_path: Path) -> None:
    entries = [
        alexandria_entry(0, "BaTiO3", drop=("e_above_hull", "spg", "prototype_id")),
        alexandria_entry(1, "SrTiO3", band_gap_ind=None, e_form="n/a", total_mag=True, spg=221.0),
        alexandria_entry(2, "MgO", spg=231, nsites=2.5, mat_id=7),
    ]
    table, skipped = parse_alexandria_file(write_alexandria(tmp_path / "a.json.bz2", entries), progress=False)
    assert skipped.empty
    assert table["e_above_hull"].isna().tolist() == [True, False, False]
    assert table["band_gap_ind"].isna().tolist() == [False, True, False]
    assert table["e_form"].isna().tolist() == [False, True, False]
    assert table["total_mag"].isna().tolist() == [False, True, False]  # a bool is not a moment
    assert table["spg"].tolist()[1] == 221 and table["spg"].isna().tolist() == [True, False, True]
    assert table["nsites"].isna().tolist() == [False, False, True]
    assert table["mat_id"].isna().tolist() == [False, False, True]
    stats = table.attrs["alexandria"]
    assert stats["missing_values"] == {"prototype_id": 1, "spg": 1, "e_above_hull": 1, "band_gap_ind": 1}
    assert stats["invalid_values"] == {"mat_id": 1, "spg": 1, "e_form": 1, "total_mag": 1, "nsites": 1}


def test_bad_rows_are_skipped_with_reasons_never_silently(tmp_path: Path) -> None:
    entries = good_entries(3) + [
        alexandria_entry(3, "Xx2O3"),
        alexandria_entry(4, None),
        alexandria_entry(5, 42),
        alexandria_entry(6, drop=("formula",)),
        {"@class": "ComputedStructureEntry", "entry_id": "agm000000007", "structure": {}},
        [1, 2],
        alexandria_entry(1, "SrTiO3"),  # the same mat_id again
        alexandria_entry(9, "Ca(OH"),
    ]
    table, skipped = parse_alexandria_file(write_alexandria(tmp_path / "a.json.bz2", entries), progress=False)
    assert table["mat_id"].tolist() == ["agm000000000", "agm000000001", "agm000000002"]
    assert skipped["entry"].tolist() == [3, 4, 5, 6, 7, 8, 9, 10]
    assert skipped["mat_id"].tolist() == [
        "agm000000003", "agm000000004", "agm000000005", "agm000000006", "agm000000007", None,
        "agm000000001", "agm000000009",
    ]  # fmt: skip
    assert skipped["reason"].tolist() == [
        "invalid formula: unknown element symbol 'Xx'",
        "missing formula",
        "invalid formula: not a string: got int 42",
        "missing formula",
        "malformed entry: no 'data' object",
        "not an entry: a JSON list, expected an object",
        "duplicate mat_id: first seen at entry 1",
        "invalid formula: unbalanced parentheses: '(' at position 2 is never closed",
    ]
    assert table.attrs["alexandria"]["entries"] == 11


def test_small_chunks_give_the_same_table(tmp_path: Path) -> None:
    entries = good_entries(7) + [alexandria_entry(7, "Qq"), alexandria_entry(2, "Fe2O3")]
    path = write_alexandria(tmp_path / "a.json.bz2", entries)
    big, big_skipped = parse_alexandria_file(path, progress=False)
    small, small_skipped = parse_alexandria_file(path, progress=False, chunk_rows=2)
    pd.testing.assert_frame_equal(big, small)
    pd.testing.assert_frame_equal(big_skipped, small_skipped)
    assert len(small) == 7 and small_skipped["entry"].tolist() == [7, 8]


def test_bare_nan_and_infinity_are_read_as_missing_but_the_formula_nan_is_kept(tmp_path: Path) -> None:
    entries = [
        alexandria_entry(0, "NaN", band_gap_ind=math.nan, e_form=math.inf, total_mag=-math.inf),
        alexandria_entry(1, "BaTiO3", e_above_hull=math.nan),
    ]
    text = alexandria_text(entries)
    assert "NaN," in text and "-Infinity" in text
    table, skipped = parse_alexandria_file(write_alexandria(tmp_path / "a.json.bz2", entries), progress=False)
    assert skipped.empty
    assert table["formula"].tolist() == ["NaN", "BaTiO3"]  # sodium nitride, a string, untouched
    assert table["band_gap_ind"].isna().tolist() == [True, False]
    assert table["e_form"].isna().tolist() == [True, False]
    assert table["total_mag"].isna().tolist() == [True, False]
    assert table["e_above_hull"].isna().tolist() == [False, True]
    stats = table.attrs["alexandria"]
    assert stats["non_finite_numbers"] == 4
    assert stats["missing_values"] == {"e_above_hull": 1, "band_gap_ind": 1, "e_form": 1, "total_mag": 1}


def test_nan_split_across_read_blocks_is_still_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alexandria, "_READ_BLOCK", 7)  # every token crosses a block boundary somewhere
    entries = [alexandria_entry(i, "NaCl", e_form=math.nan, band_gap_dir=-math.inf) for i in range(3)]
    table, _ = parse_alexandria_file(
        write_alexandria(tmp_path / "a.json", entries, compression="plain"), progress=False
    )
    assert table["e_form"].isna().all() and table["band_gap_dir"].isna().all()
    assert table.attrs["alexandria"]["non_finite_numbers"] == 6


@pytest.mark.parametrize("compression", ["bz2", "gzip", "plain"])
def test_gzip_and_plain_json_and_a_bare_list_are_accepted(tmp_path: Path, compression: str) -> None:
    path = write_alexandria(tmp_path / "a.json", good_entries(2), compression=compression)
    table, _ = parse_alexandria_file(path, progress=False)
    assert table["formula"].tolist() == ["BaTiO3", "SrTiO3"]
    assert table.attrs["alexandria"]["compression"] == compression
    bare = tmp_path / "list.json.bz2"
    bare.write_bytes(bz2.compress(("\n  " + json.dumps(good_entries(2))).encode()))
    assert parse_alexandria_file(bare, progress=False)[0]["formula"].tolist() == ["BaTiO3", "SrTiO3"]


# --------------------------------------------------------------------------- broken files


def test_truncated_bz2_names_the_file_and_says_truncated(tmp_path: Path) -> None:
    path = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AlexandriaError, match=r"convex_hull\.json\.bz2 is truncated: the bz2 stream ends early"):
        parse_alexandria_file(path, progress=False)


def test_corrupt_bz2_names_the_file(tmp_path: Path) -> None:
    path = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(50))
    data = bytearray(path.read_bytes())
    data[100:140] = b"\x00" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(AlexandriaError) as info:
        parse_alexandria_file(path, progress=False)
    message = str(info.value)
    assert str(path) in message
    assert "cannot be decompressed (bz2)" in message and "delete it and download it again" in message


def test_truncated_json_inside_a_valid_bz2_stream(tmp_path: Path) -> None:
    text = alexandria_text(good_entries(3))
    path = tmp_path / "a.json.bz2"
    path.write_bytes(bz2.compress(text[: len(text) - 500].encode()))
    with pytest.raises(
        AlexandriaError,
        match=r"a\.json\.bz2 is not valid JSON after 2 entries \(.*\); the file is truncated or corrupt",
    ):
        parse_alexandria_file(path, progress=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (bz2.compress(b""), "holds no data (bz2 content is empty)"),
        (bz2.compress(b"hello world"), "is not JSON: the bz2-compressed content starts with b'h', expected '{'"),
        (b"PK\x03\x04garbage", "is not JSON: the file starts with b'P', expected '{'"),
        (
            bz2.compress(b'{"entries": []}'),
            "has no entries (expected an 'entries' list of ComputedStructureEntry objects)",
        ),
        (bz2.compress(b'{"something": [1, 2]}'), "has no entries (expected an 'entries' list"),
        (bz2.compress(b"[]"), "has no entries (expected a list of ComputedStructureEntry objects)"),
    ],
)
def test_unusable_files_get_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.json.bz2"
    path.write_bytes(content)
    with pytest.raises(AlexandriaError) as info:
        parse_alexandria_file(path, progress=False)
    assert str(info.value).startswith(f"Alexandria file {path} ")
    assert message in str(info.value)


def test_file_with_only_bad_entries_is_an_error_listing_the_reasons(tmp_path: Path) -> None:
    entries = [alexandria_entry(0, "Xx"), alexandria_entry(1, None), {"entry_id": "x"}]
    path = write_alexandria(tmp_path / "a.json.bz2", entries)
    with pytest.raises(AlexandriaError) as info:
        parse_alexandria_file(path, progress=False)
    assert str(info.value) == (
        f"Alexandria file {path}: none of its 3 entries is usable; skipped: "
        "1 invalid formula, 1 missing formula, 1 malformed entry"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AlexandriaError, match=r"Alexandria file .*nope\.json\.bz2 does not exist"):
        parse_alexandria_file(tmp_path / "nope.json.bz2", progress=False)
    with pytest.raises(AlexandriaError, match=r"does not exist"):
        load_alexandria(tmp_path / "nope.json.bz2", cache_dir=tmp_path / "cache", progress=False)


# --------------------------------------------------------------------------- memory


_MEMORY_PROBE = """
import json, sys
from data.alexandria import parse_alexandria_file

def status_mb(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024

figures = {}
for name in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets the peak RSS (VmHWM) to the current RSS
    before = status_mb("VmRSS")
    table, skipped = parse_alexandria_file(name, progress=False)
    figures[name] = {"rows": len(table), "skipped": len(skipped), "rss_before_mb": before, "peak_growth_mb": status_mb("VmHWM") - before}
print(json.dumps(figures))
"""


def _write_big_json(path: Path, megabytes: int) -> int:
    blob = json.dumps(alexandria_entry(0, "BaTiO3", sites=24))  # ~5 kB, most of it the structure
    n = megabytes * 1_000_000 // len(blob)
    with open(path, "w") as handle:
        handle.write('{"entries": [')
        handle.write(", ".join(blob.replace("agm000000000", f"agm{i:09d}") for i in range(n)))
        handle.write("]}")
    return n


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset the peak RSS")
def test_memory_stays_bounded_while_streaming_a_large_file(tmp_path: Path) -> None:
    """Parsing a 60 MB file raises the peak RSS by about as much as a 12 MB file does.

    Measured in a fresh interpreter, the peak RSS (VmHWM) reset before each file; the first
    file warms up imports and buffers. ``json.load`` of the 60 MB file alone would need
    several hundred MB. bench/bench_alexandria_stream.py measures a 200k-entry bz2 file.
    """
    small, big = tmp_path / "small.json", tmp_path / "big.json"
    n_small, n_big = _write_big_json(small, 12), _write_big_json(big, 60)
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(small), str(big)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures[str(small)]["rows"] == n_small and figures[str(big)]["rows"] == n_big
    growth = figures[str(big)]["peak_growth_mb"]
    assert growth < 40, f"peak RSS grew by {growth:.1f} MB while parsing a 60 MB file: {figures}"


# --------------------------------------------------------------------------- load + cache


def test_load_local_file_writes_a_verified_table_then_uses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = good_entries(4) + [alexandria_entry(4, "Xx2O")]
    source = write_alexandria(tmp_path / "convex_hull.json.bz2", entries)
    cache_root = tmp_path / "cache"
    table = load_alexandria(source, cache_dir=cache_root, progress=False)
    assert table["formula"].tolist() == ["BaTiO3", "SrTiO3", "Fe2O3", "NaCl"]
    digest = sha256_of(source)
    name = f"convex_hull-{digest[:16]}"
    directory = cache_root / "alexandria"
    assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == [
        f"{name}.manifest.json", f"{name}.parquet", f"{name}.skipped.csv", "current.json",
    ]  # fmt: skip
    manifest = table.attrs["manifest"]
    assert manifest == json.loads((directory / f"{name}.manifest.json").read_text())
    assert manifest["parquet"]["rows"] == 4 and manifest["parquet"]["columns"] == list(COLUMNS)
    meta = manifest["metadata"]
    assert meta["source"] == str(source.resolve()) and meta["source_sha256"] == digest
    assert meta["entries"] == 5 and meta["skipped"] == 1 and meta["release"] is None
    assert meta["skipped_by_reason"] == {"invalid formula": 1}
    assert meta["skipped_examples"] == [
        {
            "entry": 4,
            "mat_id": "agm000000004",
            "formula": "Xx2O",
            "reason": "invalid formula: unknown element symbol 'Xx'",
        }
    ]
    assert pd.read_csv(meta["skipped_file"])["reason"].tolist() == ["invalid formula: unknown element symbol 'Xx'"]
    pd.testing.assert_frame_equal(pd.read_parquet(directory / f"{name}.parquet"), table)
    assert summarize_manifest(manifest) == [
        f"alexandria: 4 rows from 5 entries of {source.resolve()}",
        f"table: {directory / f'{name}.parquet'} (built {manifest['built']})",
        f"skipped 1 entry (1 invalid formula); all of them in {meta['skipped_file']}",
        "  entry 4 (agm000000004): invalid formula: unknown element symbol 'Xx'",
    ]

    def no_parse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(alexandria, "parse_alexandria_file", no_parse)
    again = load_alexandria(str(source), cache_dir=cache_root, progress=False)
    pd.testing.assert_frame_equal(again, table)
    with pytest.raises(AssertionError, match="cache should have been used"):
        load_alexandria(source, cache_dir=cache_root, progress=False, refresh=True)


def test_damaged_cached_table_is_rebuilt(tmp_path: Path) -> None:
    source = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(3))
    cache_root = tmp_path / "cache"
    load_alexandria(source, cache_dir=cache_root, progress=False)
    parquet = next((cache_root / "alexandria").glob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:-10])
    table = load_alexandria(source, cache_dir=cache_root, progress=False)
    assert len(table) == 3 and pd.read_parquet(parquet).equals(table)


def test_current_table_and_info(tmp_path: Path) -> None:
    cache_root = tmp_path / "cache"
    with pytest.raises(
        AlexandriaError,
        match=r"no Alexandria table has been loaded yet .*: run `python app.py data load alexandria URL\|PATH`",
    ):
        load_cached_alexandria(cache_dir=cache_root)
    info = alexandria_info(cache_dir=cache_root)
    assert info.to_dict("records") == [
        {
            "dataset": "alexandria", "status": "missing", "rows": None, "source": "", "built": "",
            "path": str(cache_root / "alexandria"), "detail": "not loaded: python app.py data load alexandria URL|PATH",
        }
    ]  # fmt: skip
    first = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(2))
    second = write_alexandria(tmp_path / "alexandria_000.json.bz2", good_entries(5))
    load_alexandria(first, cache_dir=cache_root, progress=False)
    loaded = load_alexandria(second, cache_dir=cache_root, progress=False)
    table, source = load_cached_alexandria(cache_dir=cache_root)
    pd.testing.assert_frame_equal(table, loaded)
    assert source == f"Alexandria {second.resolve()} (sha256 {sha256_of(second)[:12]})"
    info = alexandria_info(cache_dir=cache_root).sort_values("rows").reset_index(drop=True)
    assert info["dataset"].tolist() == ["alexandria (not current)", "alexandria"]
    assert info["status"].tolist() == ["ok", "ok"] and info["rows"].tolist() == [2, 5]
    assert info["source"].tolist() == [str(first.resolve()), str(second.resolve())]
    assert list(info.columns) == ["dataset", "status", "rows", "source", "built", "path", "detail"]
    parquet = Path(info["path"].iloc[1])
    parquet.write_bytes(b"garbage")
    assert alexandria_info(cache_dir=cache_root).set_index("path").loc[str(parquet), "status"] == "corrupt"
    with pytest.raises(
        AlexandriaError, match=r"the cached Alexandria table cannot be used \(cached table .* is corrupt"
    ):
        load_cached_alexandria(cache_dir=cache_root)


def test_changed_source_is_parsed_again(tmp_path: Path) -> None:
    source = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(2))
    cache = tmp_path / "cache"
    assert len(load_alexandria(source, cache_dir=cache, progress=False)) == 2
    write_alexandria(source, good_entries(3))
    assert len(load_alexandria(source, cache_dir=cache, progress=False)) == 3


def test_broken_source_leaves_no_table_in_the_cache(tmp_path: Path) -> None:
    source = write_alexandria(tmp_path / "convex_hull.json.bz2", good_entries(30))
    source.write_bytes(source.read_bytes()[:-40])
    cache = tmp_path / "cache"
    with pytest.raises(AlexandriaError, match="is truncated"):
        load_alexandria(source, cache_dir=cache, progress=False)
    leftovers = [
        p.name for p in (cache / "alexandria").iterdir() if not p.name.startswith(".")
    ]  # the lock file may stay
    assert leftovers == []


def test_sha256_and_size_of_a_local_file_are_checked(tmp_path: Path) -> None:
    source = write_alexandria(tmp_path / "a.json.bz2", good_entries(2))
    with pytest.raises(AlexandriaError, match=r"a\.json\.bz2 has sha256 [0-9a-f]{64}, expected 0{64}"):
        load_alexandria(source, cache_dir=tmp_path / "c", sha256="0" * 64, progress=False)
    with pytest.raises(AlexandriaError, match=rf"a\.json\.bz2 has {source.stat().st_size} bytes, expected 3"):
        load_alexandria(source, cache_dir=tmp_path / "c", size=3, progress=False)
    assert (
        len(load_alexandria(source.as_uri(), cache_dir=tmp_path / "c", sha256=sha256_of(source), progress=False)) == 2
    )


@pytest.fixture
def http_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www."""
    bypass_proxies(monkeypatch)
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    with serving(server):
        yield root, f"http://127.0.0.1:{server.server_address[1]}"


def test_load_from_a_url_downloads_into_the_cache_and_records_the_release(tmp_path: Path, http_root) -> None:
    root, base = http_root
    target = root / RELEASE_PATH
    target.parent.mkdir(parents=True)
    write_alexandria(target, good_entries(3))
    cache = tmp_path / "cache"
    url = f"{base}/{RELEASE_PATH}"
    table = load_alexandria(url, cache_dir=cache, sha256=sha256_of(target), progress=False)
    assert table["formula"].tolist() == ["BaTiO3", "SrTiO3", "Fe2O3"]
    downloaded = cache / "alexandria" / "downloads" / "127.0.0.1" / RELEASE_PATH
    assert downloaded.read_bytes() == target.read_bytes()
    meta = table.attrs["manifest"]["metadata"]
    assert meta["source"] == url and meta["release"] == "2024.12.15"
    assert meta["source_file"] == str(downloaded) and meta["skipped"] == 0
    assert (
        load_cached_alexandria(cache_dir=cache)[1]
        == f"Alexandria release 2024.12.15 {url} (sha256 {sha256_of(target)[:12]})"
    )


def test_offline_download_says_how_to_load_the_file_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alexandria, "fetch", functools.partial(alexandria.fetch, retries=0, timeout=2))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{RELEASE_PATH}"
    with pytest.raises(OfflineError) as info:
        load_alexandria(url, cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert "could not reach 127.0.0.1" in message
    assert f"download {url} by hand" in message
    assert "`python app.py data load alexandria PATH`" in message
