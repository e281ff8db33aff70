"""The "Compare embeddings" view without a browser: figures, table, linked selection, address, page, requests."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashboard.callbacks import compare, page, validate
from dashboard.callbacks.context import AppContext
from dashboard.components import ids
from dashboard.figures.compare import (
    BEST_MARK,
    EMBEDDING_COLORS,
    UNSELECTED_OPACITY,
    embedding_map_figure,
    mae_figure,
)
from dashboard.state import DEFAULT, ViewState, parse_query, to_query
from data.compare_results import OPTIONAL_FILES, REQUIRED_FILES, default_results_dir, load_compare_results

COMMITTED = default_results_dir()


@pytest.fixture(scope="module")
def results():
    return load_compare_results(COMMITTED)


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return pd.read_csv(COMMITTED / "prediction_summary.csv")


@pytest.fixture
def context(tmp_path):
    return AppContext(maps_root=tmp_path / "maps", start_map=None, compare_dir=COMMITTED)


def _copy(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        shutil.copy2(COMMITTED / name, folder / name)
    return folder


def _rendered(component) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder)


# ------------------------------------------------------------------------------ the MAE figure


def test_mae_figure_has_a_bar_per_embedding_and_target_with_the_csv_numbers(results, summary):
    fig = mae_figure(results.prediction)
    bars = [trace for trace in fig.data if trace.type == "bar" and not trace.meta]
    assert len(bars) == 11 * 4
    assert [b.name for b in bars[:11]] == results.embeddings
    for index, trace in enumerate(bars):
        target = results.targets[index // 11]
        rows = summary[(summary["target"] == target) & (summary["embedding"] == trace.name)].set_index("model").loc[["knn", "hgb"]]
        assert list(trace.x) == ["k-NN", "HGB"]
        np.testing.assert_allclose(trace.y, rows["mae_mean"].to_numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(trace.error_y.array, rows["mae_std"].to_numpy(), rtol=0, atol=0)
        assert trace.error_y.visible and not trace.showlegend
        assert trace.marker.color == EMBEDDING_COLORS[trace.name]
    # pettifor-icsd-corrected, band gap: k-NN 0.5950961528607068 ± 0.002961683776100622 and HGB, both the best.
    corrected = next(b for b in bars[:11] if b.name == "pettifor-icsd-corrected")
    assert corrected.y[0] == pytest.approx(0.5950961528607068) and corrected.error_y.array[0] == pytest.approx(0.002961683776100622)
    assert list(corrected.text) == [BEST_MARK, BEST_MARK] and list(corrected.marker.line.width) == [2.5, 2.5]
    mined = next(b for b in bars[:11] if b.name == "pettifor-mined")
    assert mined.y[0] == pytest.approx(0.600096589918307) and list(mined.text) == ["", ""] and list(mined.marker.line.width) == [0.0, 0.0]
    # The legend: one plain entry per embedding, in the table's order.
    legend = [trace for trace in fig.data if trace.showlegend]
    assert [t.name for t in legend] == results.embeddings and all(t.meta == {"legend_only": True} and t.marker.line.width is None for t in legend)


def test_mae_figure_marks_exactly_the_lowest_mae_per_target_and_model(results, summary):
    fig = mae_figure(results.prediction)
    expected = {}
    for (target, model), group in summary.groupby(["target", "model"]):
        expected[f"{target}|{model}"] = sorted(group.loc[group["mae_mean"] == group["mae_mean"].min(), "embedding"])
    assert {k: sorted(v) for k, v in fig.layout.meta["best"].items()} == expected
    assert expected["magnetization|hgb"] == ["mod_petti-one-hot", "one-hot"]  # an exact tie: both marked
    labels = {"k-NN": "knn", "HGB": "hgb"}
    marked = sorted(
        (results.targets[index // 11], labels[trace.x[i]], trace.name)
        for index, trace in enumerate(fig.data)
        if not trace.meta
        for i, text in enumerate(trace.text)
        if text == BEST_MARK
    )
    assert marked == sorted((*key.split("|"), name) for key, names in expected.items() for name in names)
    assert len(marked) == 9  # one per target and model, two for the tie


def test_mae_figure_for_one_model_and_in_the_dark_theme(results):
    fig = mae_figure(results.prediction, models=["hgb"], theme="dark")
    assert all(list(t.x) == ["HGB"] for t in fig.data) and fig.layout.meta["models"] == ["hgb"]
    assert len(fig.data) == 11 * 4 + 11
    assert fig.layout.template.layout.paper_bgcolor == "#15171A"
    assert "Magnetisation<br>(μB per cell)" in [a.text for a in fig.layout.annotations]
    with pytest.raises(ValueError, match="not in the results"):
        mae_figure(results.prediction, models=["svm"])
    with pytest.raises(ValueError, match="mae_std"):
        mae_figure(results.prediction.drop(columns=["mae_std"]))


def test_every_embedding_of_the_study_has_its_own_colour():
    import data.compare as study
    from data.compare_results import default_results_dir

    assert EMBEDDING_COLORS is study.EMBEDDING_COLORS  # one palette for the static figures and the app
    embeddings = json.loads((default_results_dir() / "run.json").read_text())["spec"]["embeddings"]
    colours = [EMBEDDING_COLORS[name] for name in embeddings]
    assert len(set(colours)) == len(colours)


# ------------------------------------------------------------------------------ the maps


def test_map_figure_draws_every_compound_and_highlights_a_selection(results):
    points = results.map_points("pettifor-mined")
    fig = embedding_map_figure(points, embedding="pettifor-mined", color_by="band_gap", selected_rows=[7, 3, 3])
    base = fig.data[0]
    assert base.type == "scattergl" and len(base.x) == 10_000 and fig.layout.dragmode == "select"
    assert list(base.selectedpoints) == [3, 7] and base.unselected.marker.opacity == UNSELECTED_OPACITY
    assert fig.layout.meta["embedding"] == "pettifor-mined" and fig.layout.meta["n_selected"] == 2
    assert embedding_map_figure(points, embedding="x", color_by=None, selected_rows=[]).data[0].selectedpoints is None
    with pytest.raises(ValueError, match="0..9999"):
        embedding_map_figure(points, embedding="x", color_by=None, selected_rows=[10_000])


def test_maps_are_coloured_like_the_main_map(results):
    points = results.map_points("magpie")
    capped = embedding_map_figure(points, embedding="magpie", color_by="e_above_hull")
    assert capped.data[0].marker.cmax == pytest.approx(0.5)  # the paper's cap, as on the main map
    clipped = compare.map_figure_for(results, "magpie", color="magnetization", clip=compare.clip_for(results, "magnetization", None, 10), theme="light", selection=None)
    assert clipped.data[0].marker.cmax == 10 and float(np.nanmax(clipped.data[0].marker.color)) <= 10
    assert compare.clip_for(results, "band_gap", None, None) is None
    with pytest.raises(validate.InputError, match="min < max"):
        compare.clip_for(results, "band_gap", 3, 1)
    with pytest.raises(validate.InputError):
        compare.map_figure_for(results, "../etc", color="band_gap", clip=None, theme="light", selection=None)


def test_changing_one_side_rebuilds_only_that_map(results):
    values = {"left": "pettifor-mined", "right": "magpie", "color": "band_gap", "theme": "light", "selection": [1, 2]}
    left, right, _ = compare.maps_update(results, values, ids.COMPARE_RIGHT)
    assert left is compare.no_update and right.layout.meta["embedding"] == "magpie" and list(right.data[0].selectedpoints) == [1, 2]
    left, right, _ = compare.maps_update(results, values, None)
    assert left.layout.meta["embedding"] == "pettifor-mined" and right.layout.meta["embedding"] == "magpie"


# ------------------------------------------------------------------------------ linked selection


def _apply(figure: dict, patch) -> dict:
    """Apply a Dash Patch's assignments to a figure dict, as the browser does."""
    for operation in patch.to_plotly_json()["operations"]:
        assert operation["operation"] == "Assign"
        node = figure
        *path, last = operation["location"]
        for key in path:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        node[last] = operation["params"]["value"]
    return figure


def test_a_selection_on_the_left_highlights_the_same_rows_on_the_right(results):
    rows = [9_999, 5, 120, 5]
    selection, left_patch, right_patch, summary = compare.linked_selection(
        results, ids.COMPARE_EVENT_LEFT, {"left": {"rows": rows, "time": 1}}, left="pettifor-mined", right="magpie", color="band_gap"
    )
    assert selection == [5, 120, 9_999]
    figures = {}
    for side, embedding, patch in (("left", "pettifor-mined", left_patch), ("right", "magpie", right_patch)):
        figure = embedding_map_figure(results.map_points(embedding), embedding=embedding, color_by="band_gap").to_plotly_json()
        figures[side] = _apply(figure, patch)
    assert figures["left"]["data"][0]["selectedpoints"] == figures["right"]["data"][0]["selectedpoints"] == [5, 120, 9_999]
    assert figures["right"]["data"][0]["unselected"]["marker"]["opacity"] == UNSELECTED_OPACITY
    assert figures["right"]["layout"]["selections"] == []  # the old box on the other map goes
    assert "selections" not in figures["left"]["layout"]  # the box the user drew stays
    assert figures["right"]["layout"]["meta"]["n_selected"] == 3
    # The same compounds: same formulas on both maps.
    left_formulas = results.map_points("pettifor-mined")["formula"].iloc[selection].tolist()
    assert left_formulas == results.map_points("magpie")["formula"].iloc[selection].tolist()
    band_gap = pd.read_parquet(COMMITTED / "maps.parquet")["band_gap"].to_numpy()
    assert summary.startswith("3 of 10,000 compounds selected on the left map (pettifor-mined), highlighted on both maps.")
    assert f"mean {np.nanmean(band_gap[selection]):.3g} eV in the selection, {np.nanmean(band_gap):.3g} eV over all" in summary


def test_a_selection_on_the_right_and_clear(results):
    selection, left_patch, right_patch, summary = compare.linked_selection(
        results, ids.COMPARE_EVENT_RIGHT, {"right": {"rows": [42]}}, left="pettifor-mined", right="magpie", color=None
    )
    assert selection == [42] and "on the right map (magpie)" in summary
    left_ops = {tuple(o["location"]): o["params"]["value"] for o in left_patch.to_plotly_json()["operations"]}
    assert left_ops[("data", 0, "selectedpoints")] == [42] and left_ops[("layout", "selections")] == []
    cleared, left_patch, right_patch, summary = compare.linked_selection(results, ids.COMPARE_CLEAR, {}, left=None, right=None, color=None)
    assert cleared == [] and summary.startswith("No compounds selected")
    for patch in (left_patch, right_patch):
        ops = {tuple(o["location"]): o["params"]["value"] for o in patch.to_plotly_json()["operations"]}
        assert ops[("data", 0, "selectedpoints")] is None and ops[("layout", "selections")] == []


@pytest.mark.parametrize("event", [None, [1, 2], {"rows": "1,2"}, {"rows": [10_000]}, {"rows": [-1]}, {"rows": ["a"]}, {"rows": [True]}])
def test_forged_selection_events_are_refused(results, event):
    with pytest.raises(validate.InputError):
        compare.linked_selection(results, ids.COMPARE_EVENT_LEFT, {"left": event}, left="magpie", right="magpie", color=None)


# ------------------------------------------------------------------------------ the table and the texts


def test_table_rows_hold_the_numbers_and_the_best_marks(results, summary):
    rows = compare.table_rows(results)
    json.dumps(rows, allow_nan=False)  # NaN would not be valid JSON for the grid
    assert [r["embedding"] for r in rows] == results.embeddings
    by_name = {r["embedding"]: r for r in rows}
    for record in summary.itertuples():
        key = f"{record.target}__{record.model}"
        assert by_name[record.embedding][f"mae__{key}"] == pytest.approx(record.mae_mean)
        assert by_name[record.embedding][f"std__{key}"] == pytest.approx(record.mae_std)
    for target in results.targets:
        for model in results.models:
            best = [r["embedding"] for r in rows if r[f"best__{target}__{model}"]]
            part = summary[(summary["target"] == target) & (summary["model"] == model)]
            assert sorted(best) == sorted(part.loc[part["mae_mean"] == part["mae_mean"].min(), "embedding"])
    assert by_name["pettifor-mined"]["rank__knn"] == pytest.approx(2.25) and by_name["pettifor-icsd-corrected"]["rank__knn"] == pytest.approx(2.5)
    assert by_name["pettifor-icsd-corrected"]["spearman"] == pytest.approx(0.910, abs=5e-4) and by_name["pettifor-icsd-corrected"]["seriation_elements"] == 90
    assert by_name["magpie"]["spearman"] is None and by_name["magpie"]["family"] == "other"
    assert by_name["pettifor-mined"]["sepbest__e_form"] is True and by_name["pettifor-mined"]["sep__e_form"] == pytest.approx(0.7232964685533065)


def test_table_columns_are_sortable_groups_with_formatters(results):
    columns = compare.table_columns(results)
    assert columns[0]["field"] == "embedding" and columns[0]["pinned"] == "left"
    groups = columns[1:]
    assert [g["headerName"].split(":")[0] for g in groups] == ["k-NN", "HGB"]
    band_gap = groups[0]["children"][0]
    assert band_gap["field"] == "mae__band_gap__knn" and "std__band_gap__knn" in band_gap["valueFormatter"]["function"]
    assert "toFixed(4)" in band_gap["valueFormatter"]["function"]
    assert "toFixed(3)" in groups[0]["children"][3]["valueFormatter"]["function"]  # magnetisation ~4 μB: 3 decimals
    assert band_gap["cellClassRules"] == {"compare-best": "params.data['best__band_gap__knn'] === true"}
    maps_columns = compare.maps_table_columns(results)
    assert [c["field"] for c in maps_columns[1]["children"]] == ["sep__band_gap", "sep__e_form", "sep__e_above_hull", "sep__magnetization"]
    assert maps_columns[2]["children"][0]["field"] == "spearman"


def test_the_explanation_cites_the_run(results):
    text = "\n".join(compare.explanation(results))
    assert "30,000 compounds of `mp`" in text and "94,390" in text and "5 folds (seed 0)" in text
    assert "**No leak.**" in text and "training compounds only" in text and "≤ 0.05 eV/atom" in text
    assert "10,000 compounds are mapped to 2D (UMAP)" in text and "0.910 (90 elements)" in text
    source = compare.source_line(results)
    assert "bench/results/compare" in source and "run.json" in source and "95,651 rows" in source and "seed 0" in source
    headline = compare.headline_lines(results)
    assert len(headline) == 8 and "**pettifor-icsd-corrected** 0.5951 against oliynyk 0.6001 (-0.8 %; better in 5 of 5 folds)" in headline[0]


# ------------------------------------------------------------------------------ address and view state


def test_the_compare_fields_round_trip_through_the_address():
    state = ViewState(
        map="small", theme="dark", view="compare", compare_left="pettifor-icsd-published-2024", compare_right="mod_petti-one-hot",
        compare_color="e_above_hull", compare_cmin=0.0, compare_cmax=0.25, compare_model="knn", elements=("Fe", "O"),
    )  # fmt: skip
    query = to_query(state)
    assert "view=compare" in query and "left=pettifor-icsd-published-2024" in query and "ccmax=0.25" in query and "model=knn" in query
    assert parse_query(query) == state and parse_query(query).notices == ()
    assert to_query(replace(DEFAULT, map="small")) == "?map=small"  # the explorer's links are unchanged


@pytest.mark.parametrize(
    ("query", "field", "notice"),
    [
        ("view=graphs", "view", "view='graphs'"),
        ("left=../../etc", "compare_left", "left="),
        ("right=a b", "compare_right", "right="),
        ("model=<script>", "compare_model", "model="),
        ("ccmin=x", "compare_cmin", "ccmin="),
        ("ccmax=inf", "compare_cmax", "ccmax="),
        ("ccolor=%00", "compare_color", "ccolor="),
    ],
)
def test_bad_compare_values_fall_back_with_a_notice(query, field, notice):
    state = parse_query("?" + query)
    assert getattr(state, field) == getattr(DEFAULT, field)
    assert any(notice in n for n in state.notices), state.notices


def test_the_colour_range_must_be_ordered():
    state = parse_query("?view=compare&ccmin=2&ccmax=1")
    assert state.compare_cmin is None and state.compare_cmax is None and any("ccmin" in n for n in state.notices)


def test_reconcile_checks_the_fields_against_the_results(results):
    state = compare.reconcile_compare(parse_query("?view=compare&left=nope&right=oliynyk&ccolor=wat&ccmax=3&model=svm"), results)
    assert state.compare_left == "pettifor-mined" and state.compare_right == "oliynyk"
    assert state.compare_color == "band_gap" and state.compare_cmax is None and state.compare_model is None
    notices = " ".join(state.notices)
    assert "'nope'" in notices and "'wat'" in notices and "'svm'" in notices
    default = compare.reconcile_compare(parse_query("?view=compare&model=all"), results)
    assert (default.compare_left, default.compare_right, default.compare_color, default.compare_model) == ("pettifor-mined", "magpie", "band_gap", None)
    assert default.notices == ()
    assert compare.default_maps(["magpie", "oliynyk"]) == ("magpie", "oliynyk")
    assert compare.default_maps(["pettifor-icsd-corrected"]) == ("pettifor-icsd-corrected", "pettifor-icsd-corrected")


def test_the_view_writes_its_address_and_keeps_the_explorers_fields():
    base = replace(DEFAULT, map="small", elements=("Fe",), theme="light", view="compare").to_dict()
    values = {"left": "magpie", "right": "../etc", "color": "e_form", "cmin": None, "cmax": 2.5, "model": "all", "theme": "dark"}
    query, explorer_href = compare.compare_query(base, values)
    state = parse_query(query)
    assert state.view == "compare" and state.compare_left == "magpie" and state.compare_right is None  # garbage dropped
    assert state.compare_cmax == 2.5 and state.compare_model is None and state.theme == "dark"
    assert state.map == "small" and state.elements == ("Fe",)
    back = parse_query(explorer_href)
    assert back.view == "explorer" and back.compare_left == "magpie" and back.theme == "dark" and back.elements == ("Fe",)
    assert compare.compare_query("garbage", {"theme": "light"})[0] == "?view=compare"


def test_the_explorers_link_follows_its_address_and_keeps_the_compare_fields():
    href = compare.compare_link("?map=small&el=O&theme=dark", "?map=small&el=Fe&view=compare&left=mat2vec&model=hgb")
    state = parse_query(href)
    assert state.view == "compare" and state.elements == ("O",) and state.theme == "dark"
    assert state.compare_left == "mat2vec" and state.compare_model == "hgb"
    assert parse_query(compare.compare_link("?map=small", "./")).compare_left is None
    with pytest.raises(validate.InputError):
        compare.compare_link(None, "?view=compare")


# ------------------------------------------------------------------------------ the page and the results folder


def test_the_page_renders_the_table_figure_controls_and_notices(context):
    rendered = _rendered(page.page_for(context, "?view=compare&left=nope&theme=dark"))
    for fragment in (ids.COMPARE_TABLE, ids.COMPARE_MAPS_TABLE, ids.COMPARE_MAE_GRAPH, ids.COMPARE_MAP_LEFT, ids.COMPARE_MAP_RIGHT, ids.NAV_EXPLORER):
        assert fragment in rendered
    assert "'nope'" in rendered and "page theme-dark" in rendered and "No leak" in rendered
    assert "pettifor-icsd-published-2024" in rendered and "mae__band_gap__knn" in rendered


def _ids_of(component) -> list:
    found = [component.id] if getattr(component, "id", None) is not None else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found += _ids_of(child)
    return found


def test_the_page_has_the_about_button_and_dialog_once(context):
    component = page.page_for(context, "?view=compare")
    found = _ids_of(component)
    for about_id in (ids.ABOUT_OPEN, ids.ABOUT, ids.ABOUT_CLOSE):
        assert found.count(about_id) == 1, about_id
    assert len(found) == len(set(found))  # no id twice on the page
    rendered = _rendered(component)
    assert "About ChemMap" in rendered and "Two maps" in rendered and "arXiv:2406.19761" in rendered
    assert "This map" not in rendered  # the explorer's map facts do not belong here


def test_an_unusable_results_folder_gives_a_page_naming_the_file_and_the_command(tmp_path):
    folder = _copy(tmp_path)
    pd.read_csv(folder / "prediction_summary.csv").drop(columns=["mae_mean"]).to_csv(folder / "prediction_summary.csv", index=False)
    broken = AppContext(maps_root=tmp_path, start_map=None, compare_dir=folder)
    compare.RESULTS.clear()
    rendered = _rendered(page.page_for(broken, "?view=compare"))
    assert "prediction_summary.csv: missing column(s) mae_mean" in rendered
    assert f"python app.py compare --dataset mp --icsd download --out {folder}" in rendered
    assert ids.COMPARE_MAP_LEFT not in rendered  # nothing a callback could half-find
    missing = AppContext(maps_root=tmp_path, start_map=None, compare_dir=tmp_path / "nowhere")
    assert "no such results folder" in _rendered(page.page_for(missing, "?view=compare"))


def test_without_maps_the_table_and_figure_stay(tmp_path):
    folder = _copy(tmp_path)
    (folder / "maps.parquet").unlink()
    context = AppContext(maps_root=tmp_path, start_map=None, compare_dir=folder)
    rendered = _rendered(page.page_for(context, "?view=compare&left=magpie"))
    assert ids.COMPARE_TABLE in rendered and "No maps to show: maps.parquet file missing" in rendered
    assert '"disabled": true' in rendered
    results = compare.results_for(context)
    left, _, message = compare.maps_update(results, {"theme": "light"}, None)
    assert "maps.parquet file missing" in json.dumps(message.to_plotly_json(), default=str)
    assert left.layout.annotations[0].text.startswith("No maps")


def test_the_results_folder_comes_from_the_context_the_setting_or_the_repository(tmp_path, monkeypatch):
    monkeypatch.delenv("CHEMMAP_COMPARE_DIR", raising=False)
    assert compare.compare_directory(AppContext(maps_root=None, start_map=None)) == COMMITTED
    monkeypatch.setenv("CHEMMAP_COMPARE_DIR", str(tmp_path / "env"))
    assert compare.compare_directory(AppContext(maps_root=None, start_map=None)) == tmp_path / "env"
    assert compare.compare_directory(AppContext(maps_root=None, start_map=None, compare_dir=tmp_path / "ctx")) == tmp_path / "ctx"


def test_results_are_cached_until_a_file_changes(tmp_path):
    folder = _copy(tmp_path)
    context = AppContext(maps_root=None, start_map=None, compare_dir=folder)
    first = compare.results_for(context)
    assert compare.results_for(context) is first
    table = pd.read_csv(folder / "headline.csv")
    table.iloc[:2].to_csv(folder / "headline.csv", index=False)
    again = compare.results_for(context)
    assert again is not first and len(again.headline) == 2


def test_export_rebuilds_the_figure_in_the_chosen_format(results, monkeypatch):
    seen = {}

    def fake_export(figure, **options):
        seen.update(options, figure=figure)
        return b"<svg></svg>"

    monkeypatch.setattr(compare, "export_figure", fake_export)
    data, name = compare.export_mae(results, fmt="svg", model="knn", theme="dark")
    assert data == b"<svg></svg>" and name == "chemmap-compare-mp-mae-knn.svg"
    assert seen["fmt"] == "svg" and seen["width"] == compare.EXPORT_WIDTH and seen["figure"].layout.meta["models"] == ["knn"]
    with pytest.raises(validate.InputError):
        compare.export_mae(results, fmt="gif", model=None, theme="light")
    with pytest.raises(validate.InputError):
        compare.export_mae(results, fmt="png", model="svm", theme="light")


# ------------------------------------------------------------------------------ the running app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app

    root = tmp_path_factory.mktemp("compare-app")
    app = create_app(map_dir=root / "none", maps_root=root)
    return app, app.server.test_client()


def _request(app, output_fragment: str, inputs: list[dict], state: list[dict]) -> dict:
    key = next(k for k in app.callback_map if output_fragment in k)
    callback = app.callback_map[key]
    outputs = [{"id": o.component_id, "property": o.component_property.split("@")[0]} for o in callback["output"]]
    return {"output": key, "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def test_the_app_answers_the_views_callbacks_and_refuses_forged_rows(client):
    app, http = client
    body = _request(
        app,
        f"{ids.COMPARE_SELECTION}.data",
        [
            {"id": ids.COMPARE_EVENT_LEFT, "property": "data", "value": {"rows": [1, 2, 10**7]}},
            {"id": ids.COMPARE_EVENT_RIGHT, "property": "data", "value": None},
            {"id": ids.COMPARE_CLEAR, "property": "n_clicks", "value": 0},
        ],
        [
            {"id": ids.COMPARE_LEFT, "property": "value", "value": "pettifor-mined"},
            {"id": ids.COMPARE_RIGHT, "property": "value", "value": "magpie"},
            {"id": ids.COMPARE_COLOR, "property": "value", "value": "band_gap"},
        ],
    )
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    payload = json.dumps(response.get_json())
    assert "row numbers must be between 0 and 9999" in payload and "Traceback" not in payload
    body["inputs"][0]["value"] = {"rows": [1, 2]}
    payload = json.dumps(http.post("/_dash-update-component", json=body).get_json())
    assert "2 of 10,000 compounds selected on the left map" in payload and '"selectedpoints"' in payload
