"""Garbage links: ``parse_query`` never raises, keeps the default for what it cannot use and
says why in a notice, and what it writes back is a valid link. (The page rendered for each
of these links, through the real endpoint, is tested in ``test_callbacks_http.py``.)"""

from __future__ import annotations

import time

import pytest

from dashboard.state import DEFAULT, ViewState, from_dict, parse_query, to_query
from tests.hostile.corpus import URL_CASES

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("case", URL_CASES, ids=lambda case: case.id)
def test_a_garbage_link_gives_the_default_view_and_a_notice(case):
    started = time.perf_counter()
    state = parse_query(case.query)
    assert time.perf_counter() - started < 0.5
    assert isinstance(state, ViewState)
    if case.field is not None:
        assert getattr(state, case.field) == getattr(DEFAULT, case.field)
    assert case.notice in " | ".join(state.notices)
    if not case.notice:
        assert not state.notices
    assert all(len(notice) < 300 for notice in state.notices), "notices quote the input shortened"
    query = to_query(state)  # what was kept writes back to a link that reads the same
    assert parse_query(query) == state and not parse_query(query).notices


@pytest.mark.parametrize(
    "data",
    [
        {"search": "\ud800"},
        {"elements": ["Fe", "\udfff"], "theme": "dark"},
        {"x_range": ["nan", 1], "y_range": [0, 1]},
        {"cmin": 1e300, "cmax": 1e301},
        {"map": {"nested": [1, 2]}},
        {"size": [1, 2, 3]},
    ],
    ids=["surrogate-search", "surrogate-element", "nan-range", "huge-colour-range", "nested-map", "list-size"],
)
def test_the_stores_never_write_a_broken_link(data):
    state = from_dict(data)
    assert state.notices
    query = to_query(state)
    query.encode("utf-8")  # a link holds only encodable text
    assert parse_query(query) == state
