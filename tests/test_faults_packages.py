"""Missing optional packages (issue #8): one clear message naming the feature and the pip
command, never an ImportError traceback, and the rest of the program keeps working.

A package is made absent with ``sys.modules[name] = None`` (``import name`` then raises
ImportError, as when it is not installed) for: mp-api (Materials Project loader), dask and
distributed (``build-map --engine dask``), kaleido (static export), ijson (Alexandria loader).
"""

from __future__ import annotations

import socket
import sys

import plotly.graph_objects as go
import pytest

import app
from dashboard import export
from dashboard.callbacks import export as export_callbacks
from dashboard.callbacks import validate
from dashboard.callbacks.context import AppContext
from dashboard.export import ExportError
from data.alexandria import AlexandriaError, load_alexandria
from data.map_artifact import load_map
from data.map_build import MapSpec
from data.map_build_dask import DaskUnavailableError, build_map_dask
from data.materials_project import MaterialsProjectError, load_materials_project


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never the user's ~/.cache/chemmap."""
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "chemmap-cache"))


def _uninstall(monkeypatch, *names: str) -> None:
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "nothing was printed"
    assert not any("Traceback" in line for line in err)
    assert err[-1].startswith("error: ")
    return err[-1]


# --------------------------------------------------------------------------- mp-api


def test_materials_project_without_mp_api(tmp_path, monkeypatch, capsys):
    _uninstall(monkeypatch, "mp_api")
    monkeypatch.setenv("MP_API_KEY", "k" * 32)
    words = r"the Materials Project loader needs the optional package mp-api.*: pip install mp-api$"
    with pytest.raises(MaterialsProjectError, match=words):
        load_materials_project(chemsys="Li-O")
    out = tmp_path / "mp.parquet"
    assert app.main(["data", "load", "materials-project", "--chemsys", "Li-O", "--out", str(out)]) == 2
    assert "pip install mp-api" in _one_line_error(capsys) and not out.exists()


# --------------------------------------------------------------------------- dask, distributed


def test_dask_engine_without_dask_fails_before_any_work(small_dataset_csv, small_counts_dir, tmp_path, monkeypatch):
    _uninstall(monkeypatch, "distributed", "dask")
    spec = MapSpec(dataset=str(small_dataset_csv), similarity=f"icsd:{small_counts_dir}", method="pca", element_method="pca")
    with pytest.raises(DaskUnavailableError) as caught:
        build_map_dask(spec, tmp_path / "map", progress=False)
    message = str(caught.value)
    assert message.startswith("build-map --engine dask needs the optional packages dask and distributed")
    assert "pip install dask==2026.8.0 distributed==2026.8.0" in message and "--engine local" in message
    assert not (tmp_path / "map").exists()
    # the in-process engine does not need them
    args = ["build-map", "--dataset", str(small_dataset_csv), "--similarity", f"icsd:{small_counts_dir}",
            "--method", "pca", "--element-method", "pca", "--quiet"]  # fmt: skip
    assert app.main([*args, "--out", str(tmp_path / "local")]) == 0
    assert len(load_map(tmp_path / "local").points) == 384


def test_dask_engine_without_dask_on_the_command_line(small_dataset_csv, small_counts_dir, tmp_path, monkeypatch, capsys):
    _uninstall(monkeypatch, "distributed", "dask")
    args = ["build-map", "--engine", "dask", "--dataset", str(small_dataset_csv), "--similarity", f"icsd:{small_counts_dir}",
            "--method", "pca", "--element-method", "pca", "--quiet", "--out", str(tmp_path / "map")]  # fmt: skip
    assert app.main(args) == 2
    assert "pip install dask==2026.8.0 distributed==2026.8.0" in _one_line_error(capsys)
    assert not (tmp_path / "map").exists()


# --------------------------------------------------------------------------- kaleido


def test_static_export_without_kaleido(small_map, monkeypatch):
    _uninstall(monkeypatch, "kaleido")
    monkeypatch.setattr(export, "_BROWSER", export._Browser())  # not the browser other tests may have open
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    with pytest.raises(ExportError, match=r"^static export needs kaleido: pip install kaleido==1\.5\.0$"):
        export.export_figure(figure, fmt="png")
    # the dashboard shows that message in the export dialog, as for any bad input
    context = AppContext(maps_root=None, start_map=small_map)
    values = {"map": small_map.name, "format": "svg", "template": "light", "order": "z"}
    with pytest.raises(validate.InputError, match="pip install kaleido==1.5.0"):
        export_callbacks.export_file(context, "heatmap", values)
    # what does not need kaleido still works
    points = context.load(small_map.name).points
    assert export.export_table_csv(points).count(b"\n") == len(points) + 1


# --------------------------------------------------------------------------- ijson


def test_alexandria_without_ijson(tmp_path, monkeypatch, capsys):
    _uninstall(monkeypatch, "ijson")
    source = tmp_path / "alexandria_000.json.bz2"
    source.write_bytes(b"BZh9")  # never read: the package is missing
    words = r"loading Alexandria data \(reading .*alexandria_000.json.bz2\) needs the optional package ijson.*"
    with pytest.raises(AlexandriaError, match=words + r": pip install ijson==3\.6\.0$"):
        load_alexandria(source, progress=False)
    assert app.main(["data", "load", "alexandria", str(source)]) == 2
    assert "pip install ijson==3.6.0" in _one_line_error(capsys)
    # `data info` still lists the datasets
    assert app.main(["data", "info"]) == 0
    assert "mp" in capsys.readouterr().out


def test_alexandria_url_without_ijson_is_refused_before_downloading(tmp_path, monkeypatch):
    _uninstall(monkeypatch, "ijson")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there: a download attempt would fail differently
    with pytest.raises(AlexandriaError, match="pip install ijson==3.6.0"):
        load_alexandria(f"http://127.0.0.1:{port}/alexandria_000.json.bz2", cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "alexandria" / "downloads").exists()
