"""Every hostile argument list ends in one clear ``error:`` line and exit status 2 (1 where the
README says so: a formula file none of whose formulas could be fingerprinted), never a traceback.

The commands run in-process (``app.main``); no server is ever started (``serve`` is refused
before it binds: the test fails loudly if it tries) and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import app
from tests.hostile.corpus import CLI_CASES, resolve

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def placeholders(small_counts_dir, small_map, small_dataset_csv, tmp_path_factory) -> dict[str, str]:
    ok = tmp_path_factory.mktemp("cli-ok") / "formulas.txt"
    ok.write_text("Fe2O3\nNaCl\n")
    return {
        "{counts_dir}": str(small_counts_dir),
        "{counts}": str(Path(small_counts_dir) / "substitution.dat"),
        "{element_counts}": str(Path(small_counts_dir) / "substitution.dat.element_count"),
        "{map}": str(small_map),
        "{dataset}": str(small_dataset_csv),
        "{ok}": str(ok),
    }


def _fill(argument: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        argument = argument.replace(key, value)
    return argument


def _no_server(*args, **kwargs):
    raise AssertionError("a hostile command line must be refused before any server starts")


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda case: case.id)
def test_hostile_command_line_gets_one_clear_error_line(case, placeholders, tmp_path, capsys, monkeypatch):
    import dash
    import flask

    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "cache"))  # never the real cache
    monkeypatch.delenv("MP_API_KEY", raising=False)
    monkeypatch.setattr(dash.Dash, "run", _no_server)
    monkeypatch.setattr(flask.Flask, "run", _no_server)
    monkeypatch.setattr(os, "execve", _no_server)
    values = {**placeholders, "{tmp}": str(tmp_path)}
    for name, data in case.files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(resolve(data))
    if case.setup == "broken_map":
        broken = shutil.copytree(placeholders["{map}"], tmp_path / "broken")
        with (broken / "points.parquet").open("ab") as handle:
            handle.write(b"tampered")
    argv = [_fill(argument, values) for argument in case.argv]

    try:
        status = app.main(argv)
    except SystemExit as exit_:  # argparse refuses the arguments themselves
        status = exit_.code
    err = capsys.readouterr().err

    assert status == case.status, err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, err
    assert case.message in error_lines[0]
    assert len(error_lines[0]) < 1000, "the message is one readable line"
