"""Fixtures of the hostile-input tests: the small map of ``tests/conftest.py`` served by a real app."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: Loggers of the app: every refused input must leave a WARNING line in one of them.
APP_LOGGERS = ("dashboard", "data", "fingerprints", "chemmap")


@pytest.fixture(scope="session")
def small_map_name(small_map) -> str:
    return Path(small_map).name


@pytest.fixture(scope="session")
def loaded_small(small_map, small_map_name):
    from dashboard.callbacks.context import AppContext

    return AppContext(maps_root=Path(small_map).parent, start_map=small_map).load(small_map_name)


def app_warnings(caplog) -> list[logging.LogRecord]:
    """WARNING (and worse) records of the app's own loggers."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.split(".")[0] in APP_LOGGERS]


def app_errors(caplog) -> list[logging.LogRecord]:
    """ERROR records: an exception nobody expected (a traceback in the log)."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def assert_no_internals(text: str) -> None:
    """Nothing of the server's insides reaches the client: no traceback, no source path."""
    assert "Traceback" not in text
    assert 'File "' not in text
    assert str(ROOT) not in text
    assert "site-packages" not in text


def as_text(value) -> str:
    return json.dumps(value, default=str)
