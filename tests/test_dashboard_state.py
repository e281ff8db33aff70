"""The view state in the address bar: parsing never fails, garbage falls back with notices."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.state import DEFAULT, ViewState, from_dict, parse_query, reconcile, to_query


def test_empty_query_is_the_default_view():
    assert parse_query("") == DEFAULT
    assert parse_query(None) == DEFAULT
    assert parse_query("?") == DEFAULT


def test_a_full_query_round_trips():
    state = ViewState(
        map="mp-umap",
        color="e_above_hull",
        cmin=0.0,
        cmax=0.5,
        size=6.0,
        opacity=0.5,
        table_color="mean:band_gap",
        layout="standard",
        elements=("Fe", "O"),
        mode="only",
        search="LiFePO4",
        x_range=(1.5, 8.25),
        y_range=(-2.0, 4.0),
        theme="dark",
        focus="Co",
        order="z",
        compound="mp-19017",
    )
    query = to_query(state)
    assert query.startswith("?map=mp-umap&")
    assert "el=Fe,O" in query and "x=1.5,8.25" in query and "pt=mean:band_gap" in query
    assert parse_query(query) == state
    assert parse_query(query).notices == ()


def test_defaults_are_left_out_of_the_query():
    assert to_query(replace(DEFAULT, map="small")) == "?map=small"
    assert to_query(DEFAULT) == ""


@pytest.mark.parametrize(
    ("query", "field", "notice"),
    [
        ("theme=neon", "theme", "theme='neon'"),
        ("layout=spiral", "layout", "layout="),
        ("mode=most", "mode", "mode="),
        ("size=1e9", "size", "size="),
        ("opacity=-1", "opacity", "opacity="),
        ("x=1,b", "x_range", "x="),
        ("x=5,1", "x_range", "smaller"),
        ("y=nan,1", "y_range", "y="),
        ("cmin=inf", "cmin", "cmin="),
        ("map=../../etc/passwd", "map", "map="),
        ("focus=Qq", "focus", "focus="),
        ("pt=mean:", "table_color", "pt="),
        ("wat=1", None, "unknown link parameter"),
    ],
)
def test_bad_values_fall_back_to_defaults_with_a_notice(query, field, notice):
    state = parse_query("?" + query)
    if field:
        assert getattr(state, field) == getattr(DEFAULT, field)
    assert any(notice in n for n in state.notices), state.notices


def test_unknown_elements_are_dropped_and_named():
    state = parse_query("?el=Fe,Xx,O,Fe,,Qq")
    assert state.elements == ("Fe", "O")
    assert any("Xx" in n and "Qq" in n for n in state.notices)


def test_cmin_must_be_below_cmax():
    state = parse_query("?cmin=1&cmax=0.5")
    assert state.cmin is None and state.cmax is None
    assert any("cmin" in n for n in state.notices)


def test_an_overlong_query_is_ignored_whole():
    state = parse_query("?el=" + "Fe," * 3000)
    assert state == DEFAULT
    assert "longer than" in state.notices[0]


def test_reconcile_checks_the_map_columns():
    state = parse_query("?color=nope&pt=mean:nope&cmin=0&cmax=1")
    fixed = reconcile(state, color_columns=["band_gap", "magnetic"], default_color="band_gap", numeric_columns=["band_gap"])
    assert fixed.color == "band_gap" and fixed.table_color == "category"
    assert fixed.cmin == 0.0 and fixed.cmax == 1.0
    categorical = reconcile(replace(state, color="magnetic"), color_columns=["band_gap", "magnetic"], default_color="band_gap", numeric_columns=["band_gap"])
    assert categorical.cmin is None and categorical.cmax is None  # a range means nothing for categories
    assert any("nope" in n for n in fixed.notices)


def test_from_dict_validates_like_a_link():
    state = from_dict({"map": "small", "elements": ["Fe", "Zz"], "theme": "dark", "x_range": [0, 1], "y_range": [2, 3], "size": 99})
    assert state.elements == ("Fe",) and state.theme == "dark" and state.x_range == (0.0, 1.0) and state.size == DEFAULT.size
    assert from_dict("garbage") == DEFAULT


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_query_never_raises(text):
    state = parse_query(text)
    assert isinstance(state, ViewState)
    parse_query(to_query(state))  # whatever was kept writes back to a valid query
