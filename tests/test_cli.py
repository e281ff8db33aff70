"""The command line: elements, fingerprint, serve, and their error messages."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

import app
from data.substitution_counts import write_substitution_counts
from fingerprints.elements import SYMBOLS
from fingerprints.embedding import element_vectors
from tests.conftest import ROOT, toy_counts


@pytest.fixture
def toy_files(tmp_path):
    return write_substitution_counts(toy_counts(), tmp_path / "counts")


def _counts_args(paths):
    return ["--counts", str(paths[0]), "--element-counts", str(paths[1])]


def test_elements_writes_labelled_full_precision_table(toy_files, tmp_path):
    out = tmp_path / "elements.csv"
    assert app.main(["elements", *_counts_args(toy_files), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table.columns[0] == "element" and list(table.columns[1:]) == list(SYMBOLS)
    assert table["element"].tolist() == list(SYMBOLS)
    expected = element_vectors(toy_counts()).to_numpy()
    np.testing.assert_array_equal(table.iloc[:, 1:].to_numpy(), expected)  # bit-for-bit


def test_elements_reports_elements_without_data(toy_files, tmp_path, capsys):
    app.main(["elements", *_counts_args(toy_files), "--variant", "published-2024", "--out", str(tmp_path / "e.csv")])
    err = capsys.readouterr().err
    assert "published-2024" in err and "elements without data (zero vectors): Be, B," in err


@pytest.mark.shared_data
def test_elements_on_real_counts(icsd_paths, tmp_path):
    out = tmp_path / "e.csv"
    assert app.main(["elements", "--counts", str(icsd_paths[0]), "--element-counts", str(icsd_paths[1]), "--out", str(out)]) == 0
    table = pd.read_csv(out, index_col=0)
    assert table.shape == (98, 98)
    vectors = table.to_numpy()
    cos = vectors @ vectors.T
    assert cos[SYMBOLS.index("Fe"), SYMBOLS.index("Co")] == pytest.approx(0.826, abs=5e-4)


def test_fingerprint_text_file_keeps_order_and_reports_errors(toy_files, tmp_path, capsys):
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("H2He\nXx3\n\nLi\nHe(Li\n")
    out = tmp_path / "fp.csv"
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(out), *_counts_args(toy_files)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["formula"].tolist() == ["H2He", "Xx3", "", "Li", "He(Li"]
    assert list(table.columns[:2]) == ["formula", "error"] and list(table.columns[2:]) == list(SYMBOLS)
    errors = table["error"].tolist()
    assert errors[0] == "" and errors[3] == ""
    assert "Xx" in errors[1] and errors[2] and "parenthes" in errors[4]
    norms = np.linalg.norm(table[list(SYMBOLS)].to_numpy(dtype=float), axis=1)
    np.testing.assert_allclose(norms, [1, 0, 0, 1, 0], atol=1e-14)
    err = capsys.readouterr().err
    assert "2 fingerprinted, 3 failed" in err and "row 2:" in err


def test_fingerprint_csv_input_parquet_output_raw(toy_files, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2], "formula": ["H2He", "Li"]}).to_csv(source, index=False)
    out = tmp_path / "fp.parquet"
    assert app.main(["fingerprint", "--formulas", str(source), "--out", str(out), "--raw", *_counts_args(toy_files)]) == 0
    table = pd.read_parquet(out)
    assert table.shape == (2, 100)
    raw = table.loc[0, ["H", "He", "Li"]].to_numpy(dtype=float)
    assert np.linalg.norm(raw) < 1.0  # unnormalised: shorter than the unit sphere


def test_fingerprint_with_element_table(toy_files, tmp_path):
    table = tmp_path / "elements.csv"
    app.main(["elements", *_counts_args(toy_files), "--out", str(table)])
    formulas = tmp_path / "f.txt"
    formulas.write_text("H2He\n")
    via_table, via_counts = tmp_path / "a.csv", tmp_path / "b.csv"
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(via_table), "--elements", str(table)]) == 0
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(via_counts), *_counts_args(toy_files)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(via_table), pd.read_csv(via_counts))


def test_fingerprint_exit_code_when_nothing_processed(toy_files, tmp_path, capsys):
    formulas = tmp_path / "bad.txt"
    formulas.write_text("Xx\nQq2\n")
    out = tmp_path / "fp.csv"
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(out), *_counts_args(toy_files)]) == 1
    assert "no formula could be fingerprinted" in capsys.readouterr().err
    assert len(pd.read_csv(out)) == 2  # the per-row reasons are still written


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: (d / "in.csv").write_text("name,amount\nFe,1\n"), "has no 'formula' column (columns: name, amount)"),
        (lambda d: (d / "in.csv").write_bytes(b"\x00\x01garbage"), "is binary, expected text"),
        (lambda d: (d / "in.parquet").write_bytes(b"PAR1 not really"), "could not be read as PARQUET"),
        (lambda d: (d / "in.txt").write_bytes(b"Fe2O3\n\x00\x00\x00"), "is binary"),
        (lambda d: (d / "in.txt").write_bytes(b"Fe2O3\n\xff\xfe bad"), "not UTF-8"),
        (lambda d: None, "does not exist"),
    ],
)
def test_fingerprint_bad_input_files(toy_files, tmp_path, capsys, setup, message):
    setup(tmp_path)
    source = next((p for p in tmp_path.iterdir() if p.name.startswith("in.")), tmp_path / "in.txt")
    code = app.main(["fingerprint", "--formulas", str(source), "--out", str(tmp_path / "o.csv"), *_counts_args(toy_files)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_option_conflicts_and_bad_files(toy_files, tmp_path, capsys):
    formulas = tmp_path / "f.txt"
    formulas.write_text("H\n")
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(tmp_path / "o.csv"), "--counts", str(toy_files[0])]) == 2
    assert "must be given together" in capsys.readouterr().err
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(tmp_path / "o.txt"), *_counts_args(toy_files)]) == 2
    assert "use a .csv or .parquet" in capsys.readouterr().err
    broken = tmp_path / "broken.csv"
    broken.write_text("element,H\nH,1\n")
    assert app.main(["fingerprint", "--formulas", str(formulas), "--out", str(tmp_path / "o.csv"), "--elements", str(broken)]) == 2
    assert "missing rows" in capsys.readouterr().err


def test_help_everywhere():
    for command in ([], ["serve"], ["elements"], ["fingerprint"], ["data"], ["mine"], ["build-map"], ["compare"]):
        result = subprocess.run([sys.executable, "app.py", *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "usage: python app.py" in result.stdout


def test_server_defaults_are_safe(monkeypatch):
    from dashboard.settings import ServerSettings

    for name in ("CHEMMAP_HOST", "CHEMMAP_PORT", "CHEMMAP_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    settings = ServerSettings()
    assert (settings.host, settings.port, settings.debug) == ("127.0.0.1", 8050, False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_on_loopback(small_map):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "app.py", "serve", "--port", str(port), "--map", str(small_map)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {server.stdout.read() if server.poll() is not None else 'timeout'}")
                time.sleep(0.3)
        assert "<title>ChemMap</title>" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_a_broken_map(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    assert app.main(["serve", "--map", str(tmp_path / "m")]) == 2
    assert "incomplete: no metadata.json" in capsys.readouterr().err


def test_default_map_is_built_once_then_reused(tmp_path, monkeypatch, small_dataset_csv, small_counts_dir):
    import data.map_build as map_build

    target = tmp_path / "maps" / "default"
    builds = []
    real_build = map_build.build_map

    def small_build(spec, out, *, progress=True):
        builds.append(out)
        fast = map_build.MapSpec(dataset=str(small_dataset_csv), similarity=f"icsd:{small_counts_dir}", method="pca", element_method="pca")
        return real_build(fast, out, progress=False)

    monkeypatch.setattr(map_build, "default_map_dir", lambda: target)
    monkeypatch.setattr(map_build, "build_map", small_build)
    assert app.ensure_default_map() == target and len(builds) == 1
    assert app.ensure_default_map() == target and len(builds) == 1  # reused, not rebuilt
    (target / "points.parquet").write_bytes(b"garbage")
    assert app.ensure_default_map() == target and len(builds) == 2  # corrupted: rebuilt


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_build_map_refuses_an_unwritable_output_before_any_work(tmp_path, monkeypatch, capsys, engine):
    import data.map_build as map_build
    import data.sources as sources

    if engine == "dask":
        pytest.importorskip("distributed")
        import data.map_build_dask as map_build_dask

        monkeypatch.setattr(map_build_dask, "_open_source", lambda *a, **k: pytest.fail("read the dataset first"))
    monkeypatch.setattr(map_build, "load_dataset", lambda *a, **k: pytest.fail("read the dataset first"))
    monkeypatch.setattr(sources, "load_dataset", lambda *a, **k: pytest.fail("read the dataset first"))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    cases = {
        "/proc/m": "folder /proc does not accept new files or folders",  # a virtual file system: not even root writes there
        "/proc/new/m": "folder /proc/new cannot be created: /proc does not accept",
        str(a_file / "m"): f"{a_file} is a file, not a folder",
    }
    for out, message in cases.items():
        started = time.perf_counter()
        code = app.main(["build-map", "--dataset", "mp", "--method", "pca", "--engine", engine, "--out", out, "--quiet"])
        seconds = time.perf_counter() - started
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1 and err.startswith(f"error: cannot write the map {out}: "), err
        assert message in err
        assert seconds < 5  # the build itself takes ~9 s; the monkeypatches above prove no work was done
    assert list(tmp_path.iterdir()) == [a_file]  # the check leaves nothing behind
