"""The callbacks' logic as plain functions, and the app answering forged requests with messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.callbacks import build, details, export, highlight, page, search, selection, upload, validate
from dashboard.callbacks.context import AppContext
from dashboard.components import ids
from dashboard.state import parse_query
from tests.browser.maps import build_test_map


@pytest.fixture(scope="module")
def maps_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dash-callbacks") / "maps"
    build_test_map(root, "small")
    build_test_map(root, "binaries", ternaries=False)
    return root


@pytest.fixture(scope="module")
def context(maps_root) -> AppContext:
    return AppContext(maps_root=maps_root, start_map=maps_root / "small")


@pytest.fixture(scope="module")
def loaded(context):
    return context.load("small")


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("value", ["Fe", 3, {"a": 1}, ["Fe", 3], ["Xx"], ["Fe"] * 99])
def test_element_lists_are_checked(value):
    with pytest.raises(validate.InputError):
        validate.elements(value)


def test_element_lists_keep_order_and_drop_repeats():
    assert validate.elements(["O", "Fe", "O"]) == ["O", "Fe"]
    assert validate.elements(None) == []


@pytest.mark.parametrize("value", ["1", [1.5], [True], [-1], [10], list(range(25)), "rows"])
def test_row_lists_are_checked(value):
    with pytest.raises(validate.InputError):
        validate.rows(value, 10)


def test_row_lists_are_sorted_and_unique():
    assert validate.rows([3, 1, 3], 10).tolist() == [1, 3]


@pytest.mark.parametrize(("value", "ok"), [(None, None), (2, 2.0), ("2", "err"), (True, "err"), (float("nan"), "err"), (1e9, "err")])
def test_numbers_are_checked(value, ok):
    if ok == "err":
        with pytest.raises(validate.InputError):
            validate.number(value, name="size", low=1, high=20, allow_none=True)
    else:
        assert validate.number(value, name="size", low=1, high=20, allow_none=True) == ok


def test_guarded_turns_errors_into_messages():
    @validate.guarded(lambda message: ("error", message))
    def broken(kind):
        if kind == "input":
            raise validate.InputError("bad input")
        raise RuntimeError("secret internals")

    assert broken("input") == ("error", "bad input")
    kind, message = broken("crash")
    assert "secret" not in message and "server" in message


# ------------------------------------------------------------------------------ search


def test_search_finds_known_places_new_and_explains_invalid(loaded):
    known = search.run_search(loaded, loaded.points["formula"].iat[5])
    assert known["status"] == "known" and known["row"] == 5
    same_composition = search.run_search(loaded, "LiO")  # stored as Li1O1
    assert same_composition["status"] == "known" and loaded.points["formula"].iat[same_composition["row"]] == "Li1O1"
    placed = search.run_search(loaded, "LiFeO2")
    assert placed["status"] == "placed" and len(placed["neighbours"]) == search.NEIGHBOURS
    assert np.isfinite([placed["x"], placed["y"]]).all()
    invalid = search.run_search(loaded, "Xx2O")
    assert invalid["status"] == "invalid" and "Xx" in invalid["message"]
    no_data = search.run_search(loaded, "Rn")
    assert no_data["status"] == "invalid" and "without similarity data" in no_data["message"]
    assert search.run_search(loaded, "  ")["status"] == "empty"
    with pytest.raises(validate.InputError):
        search.run_search(loaded, {"formula": "Fe"})
    with pytest.raises(validate.InputError):
        search.run_search(loaded, "Fe" * 200)


def test_search_zoom_window_is_centred(loaded):
    x_range, y_range = search.zoom_window(loaded, 1.0, 2.0)
    assert np.mean(x_range) == pytest.approx(1.0) and np.mean(y_range) == pytest.approx(2.0)


# ------------------------------------------------------------------------------ highlight and selection


def test_highlight_rows_travel_as_int32(loaded):
    mask = loaded.highlight(["O"], "all")
    data = highlight.highlight_rows(mask)
    rows = np.frombuffer(base64.b64decode(data["rows"]), dtype="<i4")
    assert data["active"] and data["n"] == mask.sum() and np.array_equal(rows, np.flatnonzero(mask))
    assert highlight.highlight_rows(None) == {"active": False, "n": 0, "rows": None}
    assert highlight.highlight_summary(["Fe", "O"], "all", 12, 576) == "12 of 576 compounds (2.1%) contain all of Fe, O."


def test_lasso_rows_accumulate_and_fill_the_table(loaded):
    first = selection.lasso_rows({"rows": [5, 1, 5]}, loaded.n_points)
    union = selection.merge_rows(first, selection.lasso_rows({"rows": [2, 1]}, loaded.n_points))
    assert union.tolist() == [1, 2, 5]
    for forged in (None, [1, 2], {"rows": "1,2"}, {"rows": [loaded.n_points]}, {"rows": ["a"]}):
        with pytest.raises(validate.InputError):
            selection.lasso_rows(forged, loaded.n_points)
    columns = selection.table_columns(loaded)
    records = selection.table_rows(loaded.points, union, columns)
    assert [r["formula"] for r in records] == loaded.points["formula"].iloc[[1, 2, 5]].tolist()
    assert all(r["band_gap"] is None or isinstance(r["band_gap"], float) for r in records)
    json.dumps(records)  # NaN became null: valid JSON for the grid
    defs = selection.column_defs(loaded.points, columns)
    assert defs[0]["field"] == "id" and any(d["field"] == "band_gap" and d["filter"] == "agNumberColumnFilter" for d in defs)
    assert "3 of 576 compounds selected" in selection.selection_summary(3, 576)
    assert "first 2" in selection.selection_summary(5, 576, limit=2)


def test_table_rows_are_capped(loaded):
    rows = np.arange(loaded.n_points)
    assert len(selection.table_rows(loaded.points, rows, [], limit=100)) == 100


# ------------------------------------------------------------------------------ details


def test_details_list_properties_and_clickable_neighbours(loaded):
    children = details.details_children(loaded, {"row": 3})
    text = json.dumps([c.to_plotly_json() for c in children], default=str)
    assert loaded.points["formula"].iat[3] in text and "Nearest compounds" in text
    buttons = [c for c in children[-1].children]
    assert len(buttons) == details.NEIGHBOURS
    assert all(b.children.id["type"] == ids.NEIGHBOUR and b.children.id["row"] != 3 for b in buttons)
    placed = search.run_search(loaded, "LiFeO2")
    assert "not in this map" in json.dumps([c.to_plotly_json() for c in details.details_children(loaded, {"placed": placed})], default=str)
    with pytest.raises(validate.InputError):
        details.details_children(loaded, {"row": -3})
    with pytest.raises(validate.InputError):
        details.details_children(loaded, {"placed": {"status": "placed", "neighbours": [["x", 1]]}})


def test_map_clicks_are_checked(loaded):
    assert details.focus_from_click({"points": [{"curveNumber": 0, "pointIndex": 7}]}, loaded.n_points) == {"row": 7}
    for forged in ({"points": [{"curveNumber": 0, "pointIndex": 10**9}]}, {"points": "x"}, "click", {"points": [5]}):
        with pytest.raises(validate.InputError):
            details.focus_from_click(forged, loaded.n_points)
    upload_click = {"points": [{"curveNumber": ids.SLOT_UPLOAD, "pointIndex": 0}]}
    assert details.focus_from_click(upload_click, loaded.n_points, {"points": [{"formula": "LiFeO2"}]}) == "LiFeO2"


# ------------------------------------------------------------------------------ upload


def _data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def test_upload_is_validated_and_placed(loaded):
    data, name = upload.decode_upload(_data_url("formula,band_gap\nLiFeO2,1\nnope,2\nRn,3\nFe2O3,0\n"), "mine.csv")
    overlay, message = upload.place_upload(loaded, data, name)
    assert [p["formula"] for p in overlay["points"]] == ["LiFeO2", "Fe2O3"]
    text = json.dumps([m.to_plotly_json() for m in message], default=str)
    assert "2 compounds placed" in text and "2 rows skipped" in text and "nope" in text and "Rn" in text


@pytest.mark.parametrize("contents", [None, 5, "no comma", "data:text/csv,plain", "data:text/csv;base64,@@@"])
def test_bad_uploads_get_messages(contents):
    with pytest.raises(validate.InputError):
        upload.decode_upload(contents, "x.csv")


def test_an_unusable_file_says_why(loaded):
    with pytest.raises(validate.InputError, match="formula"):
        upload.place_upload(loaded, b"name,value\na,1\n", "x.csv")


# ------------------------------------------------------------------------------ figures and export


@pytest.mark.parametrize("coloring", ["category", "block", "group", "period", "count", "selection", "mean:band_gap"])
def test_every_table_colouring_builds(loaded, coloring):
    fig = build.table_figure(loaded, color=coloring, selection_rows=np.arange(10), elements=["Fe"])
    assert len(fig.data) == 1 and fig.layout.meta["coloring"] == coloring
    if coloring == "count":
        o = list(fig.data[0].customdata).index("O")
        assert f"Compounds: {int(loaded.element_counts['O']):,}" in fig.data[0].hovertext[o]


@pytest.mark.parametrize("coloring", ["category", "count", "selection", "mean:band_gap"])
@pytest.mark.parametrize("layout", ["grid", "learned", "standard"])
def test_the_kept_table_is_the_same_figure_with_the_selection_outlined(loaded, coloring, layout):
    import plotly.io as pio

    view = {"layout": layout, "color": coloring, "selection_rows": np.arange(10), "theme": "dark"}
    for elements in ([], ["Fe", "O"], ["Li"]):
        fresh = build.table_figure(loaded, elements=elements, **view)
        kept = build.table_figure_dict(loaded, elements=elements, **view)
        assert json.loads(pio.to_json(kept)) == json.loads(fresh.to_json())
    # Another lasso selection is another figure when the tiles are coloured by it.
    other = build.table_figure_dict(loaded, elements=[], **{**view, "selection_rows": np.arange(20)})
    same = build.table_figure_dict(loaded, elements=[], **view)
    assert (other["data"][0]["marker"]["color"] != same["data"][0]["marker"]["color"]) == (coloring == "selection")


def test_similarity_figures_are_kept_per_map_and_view(context, loaded):
    import plotly.io as pio

    app = create_app(map_dir=context.maps_root / "small", maps_root=context.maps_root)
    bars = app.callback_map[f"{ids.SIM_BAR}.figure"]["callback"].__wrapped__
    heatmap = app.callback_map[f"{ids.HEATMAP}.figure"]["callback"].__wrapped__
    first = bars("Fe", "dark", "small")
    assert json.loads(pio.to_json(first)) == json.loads(build.similarity_figure(loaded, "Fe", theme="dark").to_json())
    assert bars("Fe", "dark", "small") is first and bars("Co", "dark", "small") is not first
    kept = heatmap("learned", "light", "small")
    assert json.loads(pio.to_json(kept)) == json.loads(build.heatmap_figure(loaded, order="learned", theme="light").to_json())
    assert heatmap("learned", "light", "small") is kept


def test_a_tile_click_sends_only_the_outlines(loaded):
    view = {"layout": "standard", "color": "category", "selection_rows": [], "theme": "light"}
    patch = build.table_outline_patch(loaded, elements=["Fe"], **view).to_plotly_json()
    assert [op["location"] for op in patch["operations"]] == [
        ["data", 0, "marker", "line", "width"],
        ["data", 0, "marker", "line", "color"],
        ["layout", "transition", "duration"],
    ]
    assert patch["operations"][2]["params"]["value"] == 0  # no slide: a quick second click is not lost
    full = build.table_figure(loaded, elements=["Fe"], **view)
    assert patch["operations"][0]["params"]["value"] == list(full.data[0].marker.line.width)
    assert patch["operations"][1]["params"]["value"] == list(full.data[0].marker.line.color)
    fe = list(full.data[0].customdata).index("Fe")
    assert full.data[0].marker.line.width[fe] > 1 and sorted(set(full.data[0].marker.line.width))[0] == 1


def test_map_figure_has_the_overlay_slots(loaded):
    fig = build.map_figure(loaded, color="band_gap", search=search.run_search(loaded, "LiFeO2"), focus={"row": 2}, selection_rows=[1, 2])
    assert len(fig.data) == ids.N_SLOTS
    assert len(fig.data[ids.SLOT_SEARCH].x) == 1 and len(fig.data[ids.SLOT_FOCUS].x) == 1 and len(fig.data[ids.SLOT_UPLOAD].x) == 0
    assert list(fig.data[0].selectedpoints) == [1, 2]
    with pytest.raises(ValueError, match="min < max"):
        build.map_figure(loaded, color="band_gap", cmin=3, cmax=1)


def test_export_rebuilds_a_vector_map_of_the_visible_window(context, loaded, monkeypatch):
    x = loaded.points["x"]
    view = {"x": [float(x.quantile(0.2)), float(x.quantile(0.8))], "y": [float(loaded.points["y"].min()), float(loaded.points["y"].max())]}
    values = {"map": "small", "template": "dark", "format": "svg", "color": "band_gap", "size": 4, "opacity": 0.8, "mode": "any", "elements": ["O"], "view": view}
    fig = export.figure_to_export(context, "map", values)
    assert type(fig.data[0]).__name__ == "Scatter"  # SVG markers, not WebGL
    inside = ((x >= view["x"][0]) & (x <= view["x"][1])).sum()
    assert len(fig.data[0].x) == inside
    monkeypatch.setattr(export, "MAX_VECTOR_POINTS", 10)
    with pytest.raises(validate.InputError, match="zoom in"):
        export.figure_to_export(context, "map", values)
    with pytest.raises(validate.InputError):
        export.figure_to_export(context, "wat", values)
    with pytest.raises(validate.InputError):
        export.export_options({"format": "gif"})
    assert export.export_options({"format": "pdf", "width": 1000.4, "font": 20})["width"] == 1000


# ------------------------------------------------------------------------------ page and address


def test_page_for_garbage_links_renders_with_notices(context):
    rendered = json.dumps(page.page_for(context, "?map=../x&el=Fe,Qq&color=nope&theme=neon").to_plotly_json(), default=str)
    assert "Qq" in rendered and "neon" in rendered and "nope" in rendered
    assert "small" in rendered


def test_page_for_without_maps_explains_how_to_build(tmp_path):
    empty = AppContext(maps_root=tmp_path, start_map=tmp_path / "none")
    rendered = json.dumps(page.page_for(empty, "").to_plotly_json(), default=str)
    assert "No map has been built" in rendered and "build-map" in rendered


def test_query_for_and_map_switch(context, loaded):
    query = page.query_for(context, {"map": "small", "elements": ["Fe", "Bad"], "theme": "dark", "view": {"x": [0, 1], "y": [2, 3]}, "focus_compound": {"row": 4}, "search_result": {"status": "placed", "formula": "LiFeO2"}})
    state = parse_query(query)
    assert state.elements == ("Fe",) and state.theme == "dark" and state.x_range == (0.0, 1.0)
    assert state.compound == loaded.points["id"].iat[4] and state.search == "LiFeO2"
    switched = parse_query(page.switched_query(query, "binaries"))
    assert switched.map == "binaries" and switched.theme == "dark" and switched.elements == ("Fe",)
    assert switched.x_range is None and switched.compound is None


def test_a_map_switch_keeps_the_compare_views_fields():
    query = "?map=small&el=Fe&q=LiFeO2&left=mat2vec&right=skipatom&ccolor=e_above_hull&ccmin=0&ccmax=0.5&model=knn&theme=dark"
    switched = parse_query(page.switched_query(query, "binaries"))
    assert (switched.compare_left, switched.compare_right, switched.compare_color) == ("mat2vec", "skipatom", "e_above_hull")
    assert (switched.compare_cmin, switched.compare_cmax, switched.compare_model) == (0.0, 0.5, "knn")
    assert switched.map == "binaries" and switched.view == "explorer" and switched.theme == "dark" and switched.elements == ("Fe",)
    assert switched.search == "" and switched.notices == ()
    # The explorer's own address lacks them once it has rewritten it: the link to the compare view keeps them.
    href = "?map=small&view=compare&left=magpie&model=hgb"
    switched = parse_query(page.switched_query("?map=small&el=O", "binaries", compare_href=href))
    assert switched.compare_left == "magpie" and switched.compare_model == "hgb" and switched.elements == ("O",) and switched.view == "explorer"
    assert parse_query(page.switched_query(query, "binaries", compare_href="./")).compare_left == "mat2vec"


# ------------------------------------------------------------------------------ forged HTTP requests


def _callback_request(app, output_fragment: str, inputs: list[dict], state: list[dict] | None = None) -> dict:
    key = next(k for k in app.callback_map if output_fragment in k)
    callback = app.callback_map[key]
    outputs = [{"id": o.component_id, "property": o.component_property} for o in callback["output"]] if isinstance(callback["output"], list) else {"id": callback["output"].component_id, "property": callback["output"].component_property}
    return {"output": key, "outputs": outputs, "inputs": inputs, "state": state or [], "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


@pytest.fixture(scope="module")
def client(maps_root):
    app = create_app(map_dir=maps_root / "small", maps_root=maps_root)
    return app, app.server.test_client()


@pytest.mark.parametrize("elements", ["DROP TABLE", [1, 2], ["Xx"], ["Fe"] * 5000, {"$ne": 1}])
def test_forged_element_lists_get_a_message_not_a_traceback(client, elements):
    app, http = client
    body = _callback_request(
        app,
        "highlight-count.children",
        [{"id": ids.SELECTED_ELEMENTS, "property": "data", "value": elements}, {"id": ids.MODE, "property": "value", "value": "all"}],
        [{"id": ids.MAP_NAME, "property": "data", "value": "small"}],
    )
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    payload = json.dumps(response.get_json())
    assert "error" in payload and "Traceback" not in payload


@pytest.mark.parametrize("map_name", ["../../etc", None, 5, "nope"])
def test_forged_map_names_are_refused(client, map_name):
    app, http = client
    body = _callback_request(
        app,
        "highlight-count.children",
        [{"id": ids.SELECTED_ELEMENTS, "property": "data", "value": ["Fe"]}, {"id": ids.MODE, "property": "value", "value": "all"}],
        [{"id": ids.MAP_NAME, "property": "data", "value": map_name}],
    )
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert "map" in json.dumps(response.get_json())


def test_forged_search_and_selection_payloads(client):
    app, http = client
    body = _callback_request(
        app,
        "search-result.data",
        [{"id": ids.SEARCH_GO, "property": "n_clicks", "value": 1}, {"id": ids.SEARCH_INPUT, "property": "n_submit", "value": None}],
        [
            {"id": ids.SEARCH_INPUT, "property": "value", "value": ["Fe"]},
            {"id": ids.MAP_NAME, "property": "data", "value": "small"},
            {"id": ids.THEME, "property": "value", "value": "light"},
            {"id": ids.MAP_BUILT, "property": "data", "value": True},
        ],
    )
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 200 and "must be text" in json.dumps(response.get_json())
    body = _callback_request(
        app,
        "selection-rows.data",
        [{"id": ids.LASSO_EVENT, "property": "data", "value": {"rows": list(range(-5, 5))}}, {"id": ids.SELECTION_CLEAR, "property": "n_clicks", "value": 0}],
        [
            {"id": ids.SELECTION_ROWS, "property": "data", "value": []},
            {"id": ids.TABLE_COLOR, "property": "value", "value": "category"},
            {"id": ids.MAP_NAME, "property": "data", "value": "small"},
            {"id": ids.MAP_BUILT, "property": "data", "value": True},
        ],
    )
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 200 and "row numbers must be between" in json.dumps(response.get_json())


def test_the_app_serves_its_shell_and_assets(client):
    app, http = client
    assert http.get("/").status_code == 200
    layout = http.get("/_dash-layout").get_json()
    assert "url" in json.dumps(layout)
    assert http.get("/assets/chemmap.js").status_code == 200
    assert http.get("/assets/chemmap.css").status_code == 200
    assert not app.config.suppress_callback_exceptions


def test_create_app_without_any_map(tmp_path):
    app = create_app(map_dir=tmp_path / "missing", maps_root=tmp_path)
    assert app.server.test_client().get("/").status_code == 200


def test_points_table_is_not_modified_by_views(loaded):
    before = loaded.points.copy()
    build.map_figure(loaded, color="magnetic")
    selection.table_rows(loaded.points, np.arange(5), selection.table_columns(loaded))
    pd.testing.assert_frame_equal(before, loaded.points)


# ------------------------------------------------------------------------------ map restyling by Patch


def _map_values(**changes) -> dict:
    values = dict(map="small", color="band_gap", cmin=None, cmax=None, size=4, opacity=0.8, theme="light", selection=[], search=None, upload=None, focus=None, view=None)
    values.update(changes)
    return values


def test_recolouring_patches_only_the_markers(context, loaded):
    from plotly.io.json import to_json_plotly

    from dashboard.callbacks import materials_map

    update = materials_map.marker_update(context, _map_values(color="e_above_hull", cmax=0.3), {"color", "range"})
    assert update and all(key.startswith("marker.") for key in update)
    assert not {"x", "y", "customdata", "text", "hovertext", "selectedpoints"} & {key.split(".")[0] for key in update}
    full = materials_map.figure_for(context, _map_values(color="e_above_hull", cmax=0.3))
    marker = full.data[0].marker
    assert update["marker.color"]["dtype"] == "f4"
    sent = np.frombuffer(base64.b64decode(update["marker.color"]["bdata"]), dtype="<f4")
    np.testing.assert_allclose(sent, np.asarray(marker.color, dtype=np.float64), rtol=1e-6)
    assert update["marker.cmax"] == marker.cmax == 0.3 and update["marker.cmin"] == marker.cmin
    assert update["marker.colorbar"]["ticktext"] == list(marker.colorbar.ticktext)
    assert len(to_json_plotly(update)) < len(full.to_json()) / 3
    assert materials_map.marker_update(context, _map_values(size=7), {"size"}) == {"marker.size": 7.0}
    assert materials_map.marker_update(context, _map_values(opacity=0.5), {"opacity"}) == {"marker.opacity": 0.5}
    with pytest.raises(validate.InputError, match="no column"):
        materials_map.marker_update(context, _map_values(color="nope"), {"color"})


def _map_figure_request(app, triggered: str, value, *, built: bool) -> dict:
    controls = {ids.MAP_COLOR: "band_gap", ids.MAP_CMIN: None, ids.MAP_CMAX: None, ids.MAP_SIZE: 4, ids.MAP_OPACITY: 0.8, ids.THEME: "light"}
    controls[triggered] = value
    body = _callback_request(
        app,
        "map-graph.figure",
        [{"id": component, "property": "value", "value": v} for component, v in controls.items()],
        [
            {"id": ids.MAP_NAME, "property": "data", "value": "small"},
            {"id": ids.SELECTION_ROWS, "property": "data", "value": [1, 2]},
            {"id": ids.SEARCH_RESULT, "property": "data", "value": None},
            {"id": ids.UPLOAD_OVERLAY, "property": "data", "value": None},
            {"id": ids.FOCUS, "property": "data", "value": None},
            {"id": ids.MAP_VIEW, "property": "data", "value": None},
            {"id": ids.MAP_BUILT, "property": "data", "value": built},
        ],
    )
    body["changedPropIds"] = [f"{triggered}.value"]
    return body


def test_the_map_callback_sends_a_marker_patch_once_the_map_is_drawn(client):
    app, http = client
    key = next(k for k in app.callback_map if k.startswith("..map-graph.figure"))
    response = http.post("/_dash-update-component", json=_map_figure_request(app, ids.MAP_COLOR, "e_above_hull", built=True))
    figure = response.get_json()["response"]["map-graph"]["figure"]
    assert response.status_code == 200 and figure.get("__dash_patch_update")
    locations = [op["location"] for op in figure["operations"]]
    assert all(location[:3] == ["data", 0, "marker"] for location in locations)
    assert ["data", 0, "marker", "color"] in locations
    # Before the first drawing, and for a theme change, the whole figure is sent.
    for triggered, value, built in ((ids.MAP_COLOR, "e_above_hull", False), (ids.THEME, "dark", True)):
        response = http.post("/_dash-update-component", json=_map_figure_request(app, triggered, value, built=built))
        figure = response.get_json()["response"]["map-graph"]["figure"]
        assert "data" in figure and len(figure["data"]) == 4 and figure["data"][0]["selectedpoints"], key


# ------------------------------------------------------------------------------ what a newcomer reads


def test_table_headers_wrap_and_formula_ids_are_not_repeated(loaded):
    columns = selection.table_columns(loaded)
    defs = selection.column_defs(loaded.points, columns)
    assert all(d["wrapHeaderText"] and d["autoHeaderHeight"] for d in defs)
    headers = {d["field"]: d["headerName"] for d in defs}
    assert headers["band_gap"] == "Band gap (eV)" and headers["magnetic"] == "Magnetism"
    by_formula = loaded.points.assign(id=loaded.points["formula"])  # as in the built-in datasets
    assert [d["field"] for d in selection.column_defs(by_formula, columns)][0] == "formula"


def test_details_name_a_compound_once_and_round_noise_to_zero(loaded):
    points = loaded.points
    row = 3
    heading = details.details_children(loaded, {"row": row})[0]
    assert str(points["id"].iat[row]) in json.dumps(heading.to_plotly_json(), default=str)  # id differs: shown
    assert details._value_text(-3e-07, "magnetization") == "0 μB"
    assert details._value_text(1.4931, "band_gap") == "1.493 eV"
    assert details._value_text(float("nan"), "band_gap") == "no data"


def test_similarity_figures_explain_themselves(loaded):
    bars = build.similarity_figure(loaded, "Fe")
    assert "element category" in bars.layout.title.subtitle.text
    heat = build.heatmap_figure(loaded, order="learned")
    order = list(heat.data[0].x)
    assert order == list(loaded.order_learned) and list(heat.layout.xaxis.ticktext) == order
    # Every other element labelled on each side: all of them, at a legible spacing.
    shown_x = list(heat.layout.xaxis2.tickvals) + list(heat.layout.xaxis3.tickvals)
    shown_y = list(heat.layout.yaxis2.tickvals) + list(heat.layout.yaxis3.tickvals)
    assert sorted(shown_x) == sorted(order) == sorted(shown_y)
    assert heat.layout.xaxis2.side == "top" and heat.layout.xaxis3.side == "bottom"
    side = heat.layout.width - heat.layout.margin.l - heat.layout.margin.r
    assert 2 * side / len(order) >= heat.layout.xaxis2.tickfont.size  # label spacing >= font size
    from dashboard import theme as th

    assert heat.layout.plot_bgcolor == th.nan_color("light") and any("no substitution data" in a.text for a in heat.layout.annotations)


def test_a_lasso_patches_the_accumulated_selection_and_a_new_revision(client, loaded):
    app, http = client

    def lasso(rows, current):
        body = _callback_request(
            app,
            "selection-rows.data",
            [{"id": ids.LASSO_EVENT, "property": "data", "value": {"rows": rows}}, {"id": ids.SELECTION_CLEAR, "property": "n_clicks", "value": 0}],
            [
                {"id": ids.SELECTION_ROWS, "property": "data", "value": current},
                {"id": ids.TABLE_COLOR, "property": "value", "value": "category"},
                {"id": ids.MAP_NAME, "property": "data", "value": "small"},
                {"id": ids.MAP_BUILT, "property": "data", "value": True},
            ],
        )
        response = http.post("/_dash-update-component", json=body).get_json()["response"]
        operations = {tuple(op["location"]): op["params"].get("value") for op in response["map-graph"]["figure"]["operations"]}
        return response["selection-rows"]["data"], operations

    rows, operations = lasso([5, 1], [2, 5])
    assert rows == [1, 2, 5] and operations[("data", 0, "selectedpoints")] == [1, 2, 5]
    revision = operations[("layout", "selectionrevision")]
    assert len(operations) == 2  # nothing else travels: no positions, colours or styles
    assert lasso([5, 1], [2, 5])[1] == operations  # no server time in the answer: servers agree
    _, again = lasso([3], rows)
    assert again[("layout", "selectionrevision")] != revision
    _, empty = lasso([], [])  # an empty lasso with nothing selected leaves every point as it was
    assert empty[("data", 0, "selectedpoints")] is None
    # Unselected compounds turn one pale grey (set once with the figure, for either theme).
    for theme in ("light", "dark"):
        base = build.map_figure(loaded, color="band_gap", theme=theme, selection_rows=[1, 2]).data[0]
        assert base.unselected.marker.color == build.UNSELECTED_COLOR[theme] and list(base.selectedpoints) == [1, 2]


def test_a_wider_export_rebuilds_tables_and_heatmaps_with_square_tiles(context):
    base = {"map": "small", "template": "light", "layout": "standard", "table_color": "category", "elements": [], "selection": [], "order": "z"}
    on_page = export.figure_to_export(context, "table", base)
    wide = export.figure_to_export(context, "table", {**base, "width": 1600})
    assert wide.layout.width == 1600 and wide.layout.meta["tile_px"] > 2 * on_page.layout.meta["tile_px"]
    margin = wide.layout.margin
    x_span = wide.layout.xaxis.range[1] - wide.layout.xaxis.range[0]
    y_span = wide.layout.yaxis.range[0] - wide.layout.yaxis.range[1]
    assert (wide.layout.width - margin.l - margin.r) / x_span == pytest.approx((wide.layout.height - margin.t - margin.b) / y_span, rel=0.01)
    heat = export.figure_to_export(context, "heatmap", {**base, "width": 1200})
    assert heat.layout.width == 1200 and heat.layout.height > export.figure_to_export(context, "heatmap", base).layout.height
    with pytest.raises(validate.InputError, match="width"):
        export.figure_to_export(context, "table", {**base, "width": 50})
