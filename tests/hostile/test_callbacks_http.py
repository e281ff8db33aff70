"""Forged requests to the real callback endpoint of a real app (Flask test client).

The callbacks and their signatures come from ``GET /_dash-dependencies``, as a browser sees
them; every case of ``CALLBACK_CASES`` changes a few values of an otherwise valid request,
every case of ``PROTOCOL_CASES`` breaks the request's shape; every formula of
``FORMULA_CASES`` is typed into the search box and every file of ``UPLOAD_CASES`` dropped on
the upload box. Each answer is checked: the expected status (200 with a message on the page,
204 when nothing is updated, 400 for a request of the wrong shape, 413 for one over the size
limit), no traceback or source path in the body, a WARNING line in the server's log and no
ERROR (no unexpected exception). After the whole corpus the app still answers valid requests
with the right content.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time

import pytest

from dashboard.app import create_app
from dashboard.callbacks import upload, validate
from dashboard.settings import ServerSettings
from tests.hostile.conftest import app_errors, app_warnings, assert_no_internals
from tests.hostile.corpus import (
    CALLBACK_CASES, CONTENTS_CASES, FORMULA_CASES, PROTOCOL_CASES, UPLOAD_CASES, URL_CASES, oversized_contents, resolve,
)  # fmt: skip

pytestmark = [pytest.mark.timeout(120), pytest.mark.xdist_group("hostile-http")]

ENDPOINT = "/_dash-update-component"
SEARCH = "search-result.data"
UPLOAD = "upload-overlay.data"
#: No hostile request may hold a server worker longer than this (in-process the bound is 5 s).
SECONDS = 15.0
MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(small_map):
    app = create_app(map_dir=small_map, maps_root=small_map.parent)
    client = app.server.test_client()
    dependencies = [d for d in client.get("/_dash-dependencies").get_json() if not d.get("clientside_function")]
    return app, client, dependencies


def valid_values(map_name: str) -> dict:
    """A valid value for every input and state of the server callbacks."""
    return {
        "map-name.data": map_name,
        "theme-toggle.value": "light",
        "map-built.data": True,
        "selected-elements.data": ["Fe", "O"],
        "highlight-mode.value": "all",
        "ptable-layout.value": "grid",
        "ptable-color.value": "category",
        "selection-rows.data": [1, 2, 3],
        "lasso-event.data": {"rows": [4, 5]},
        "selection-clear.n_clicks": 0,
        "selection-csv.n_clicks": 1,
        "map-color.value": "band_gap",
        "map-cmin.value": None,
        "map-cmax.value": None,
        "map-size.value": 4,
        "map-opacity.value": 0.8,
        "map-view.data": None,
        "search-result.data": None,
        "upload-overlay.data": None,
        "focus-compound.data": None,
        "search-go.n_clicks": 1,
        "search-input.n_submit": None,
        "search-input.value": "LiFeO2",
        "map-graph.clickData": {"points": [{"curveNumber": 0, "pointIndex": 7}]},
        "sim-element.value": "Fe",
        "heatmap-order.value": "learned",
        "upload.contents": "data:text/csv;base64,Zm9ybXVsYSxnYXAKTGlGZU8yLDEK",  # formula,gap / LiFeO2,1
        "upload.filename": "mine.csv",
        "upload-clear.n_clicks": 0,
        "export-go.n_clicks": 1,
        "export-close.n_clicks": 0,
        "export-target.data": "table",
        "export-format.value": "png",
        "export-width.value": None,
        "export-height.value": None,
        "export-scale.value": None,
        "export-font.value": None,
        "export-template.value": "light",
        "url.search": f"?map={map_name}",
        "url-query.data": None,
        "map-select.value": map_name,
    }


def _outputs(output: str):
    def one(text: str) -> dict:
        component, _, prop = text.rpartition(".")
        return {"id": json.loads(component) if component.startswith("{") else component, "property": prop.split("@")[0]}

    if output.startswith(".."):
        return [one(part) for part in output[2:-2].split("...")]
    return one(output)


def find(dependencies: list[dict], fragment: str) -> dict:
    matches = [d for d in dependencies if d["output"].lstrip(".").startswith(fragment)]
    assert len(matches) == 1, f"{fragment!r} names {len(matches)} callbacks"
    return matches[0]


def request_body(dependency: dict, values: dict, changed=None) -> dict:
    """The body a browser sends for ``dependency`` with these values (pattern inputs: item lists)."""

    def entries(specs: list[dict]) -> list:
        out = []
        for spec in specs:
            key = f"{spec['id']}.{spec['property']}"
            if spec["id"].startswith("{"):
                out.append(values.get(key, []))
            else:
                out.append({"id": spec["id"], "property": spec["property"], "value": values.get(key)})
        return out

    inputs = entries(dependency["inputs"])
    first = dependency["inputs"][0]
    if changed is None:
        changed = [] if first["id"].startswith("{") else [f"{first['id']}.{first['property']}"]
    body = {"output": dependency["output"], "outputs": _outputs(dependency["output"]), "inputs": inputs, "changedPropIds": list(changed)}
    if dependency["state"]:
        body["state"] = entries(dependency["state"])
    return body


def post(client, body=None, *, raw: bytes | None = None, content_type: str = "application/json"):
    if raw is not None:
        return client.post(ENDPOINT, data=raw, content_type=content_type)
    return client.post(ENDPOINT, data=json.dumps(body), content_type=content_type)


def shown(response) -> str:
    """The body as the page would show it (JSON escapes such as \\u003c undone)."""
    text = response.get_data(as_text=True)
    return json.dumps(response.get_json(), ensure_ascii=False) if response.is_json else text


def check_answer(case, response, caplog) -> None:
    text = response.get_data(as_text=True)
    assert_no_internals(text)
    assert not app_errors(caplog), [r.getMessage() for r in app_errors(caplog)]
    assert app_warnings(caplog), "every refused input leaves a WARNING line in the server's log"
    if case.expect == "ignored":  # nothing updated: Dash answers 204, or 200 with no output
        assert response.status_code in (200, 204), text[:300]
        if response.status_code == 200:
            assert response.get_json()["response"] == {}, text[:300]
    else:
        assert response.status_code == 200, text[:300]
        assert case.message in shown(response), text[:500]


@pytest.mark.parametrize("case", CALLBACK_CASES, ids=lambda case: case.id)
def test_a_forged_callback_payload_gets_a_message_not_a_traceback(case, served, small_map_name, caplog):
    _, client, dependencies = served
    values = {**valid_values(small_map_name), **case.values}
    caplog.set_level(logging.INFO)
    response = post(client, request_body(find(dependencies, case.callback), values, case.changed))
    check_answer(case, response, caplog)


@pytest.mark.parametrize("case", PROTOCOL_CASES, ids=lambda case: case.id)
def test_a_request_of_the_wrong_shape_is_refused_with_400(case, served, small_map_name, caplog):
    _, client, dependencies = served
    values = {**valid_values(small_map_name), '{"target":["ALL"],"type":"export-open"}.n_clicks': []}
    if case.mutate is None:
        response = post(client, raw=case.raw, content_type=case.content_type)
    else:
        body = request_body(find(dependencies, case.callback), values)
        response = post(client, case.mutate(copy.deepcopy(body)), content_type=case.content_type)
    text = response.get_data(as_text=True)
    assert response.status_code == case.status, text[:300]
    assert "bad callback request" in text
    assert_no_internals(text)
    assert app_warnings(caplog) and not app_errors(caplog)


@pytest.mark.parametrize("case", [c for c in URL_CASES if c.notice], ids=lambda case: case.id)
def test_a_garbage_link_renders_the_page_with_its_notices(case, served, small_map_name, caplog):
    _, client, dependencies = served
    body = request_body(find(dependencies, "page.children"), {"url.search": case.query})
    response = post(client, body)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_no_internals(text)
    assert "notices" in text and "map-graph" in text, "the default view, with its notices"
    assert app_warnings(caplog) and not app_errors(caplog)


def texts(value) -> str:
    """Every string in an answer (component children, store values), one per line."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(texts(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(texts(v) for v in value)
    return ""


def logged(caplog, logger: str, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= level]


# ------------------------------------------------------------------------------ search box


#: The formulas a browser can send (JSON has no bytes).
SEARCHABLE = [case for case in FORMULA_CASES if not isinstance(case.formula, bytes)]


def search_request(dependencies: list[dict], map_name: str, formula: object) -> dict:
    """The search box submitted (Enter) with ``formula`` in it."""
    values = {**valid_values(map_name), "search-input.value": formula, "search-input.n_submit": 1}
    return request_body(find(dependencies, SEARCH), values, ["search-input.n_submit"])


def refused_before_parsing(formula: object) -> str | None:
    """The message of the search box's own check (``validate.text``) for ``formula``; None when
    the formula reaches the parser (or the box is empty)."""
    if formula is None:
        return None
    if not isinstance(formula, str):
        return f"formula must be text, got {type(formula).__name__}"
    if len(formula) > validate.MAX_TEXT:
        return f"formula is longer than {validate.MAX_TEXT} characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in formula):
        return "formula is not valid text (it holds a lone surrogate)"
    return None


def test_the_formula_cases_cover_every_outcome_of_the_search_box():
    empty = [c.id for c in SEARCHABLE if c.formula is None or (isinstance(c.formula, str) and not c.formula.strip())]
    refused = [c.id for c in SEARCHABLE if refused_before_parsing(c.formula)]
    assert empty == ["empty", "space", "tabs-newlines", "nbsp-only", "none"]
    assert {"ten-mb-letters", "ten-mb-valid-looking", "257-carbons", "lone-surrogate", "nan", "huge-list"} <= set(refused)
    assert len(SEARCHABLE) - len(empty) - len(refused) >= 60, "most cases reach the parser"


@pytest.mark.parametrize("case", SEARCHABLE, ids=lambda case: case.id)
def test_every_hostile_formula_in_the_search_box_gets_a_message_and_a_log_line(case, served, small_map_name, caplog):
    _, client, dependencies = served
    caplog.set_level(logging.INFO)
    started = time.perf_counter()
    response = post(client, search_request(dependencies, small_map_name, case.formula))
    assert time.perf_counter() - started < SECONDS
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:300]
    assert_no_internals(text)
    assert not app_errors(caplog), [r.getMessage() for r in app_errors(caplog)]
    answer = response.get_json()["response"]
    shown = answer["search-message"]["children"]
    refusal = refused_before_parsing(case.formula)
    if refusal is None and (case.formula is None or not case.formula.strip()):
        # An empty box: the search (and its star on the map) is cleared; nothing was refused.
        assert answer["search-result"]["data"] == {"status": "empty"} and shown == ""
        return
    assert app_warnings(caplog), "every refused formula leaves a WARNING line in the server's log"
    assert "focus-compound" not in answer and "map-view" not in answer, "nothing is focused or zoomed to"
    if refusal is not None:  # the box's own check: the last search result stays
        assert "search-result" not in answer
        assert shown["props"] == {"children": refusal, "className": "error"}
        assert any(refusal in m for m in logged(caplog, "dashboard.callbacks.validate"))
        return
    result = answer["search-result"]["data"]
    assert result["status"] == "invalid" and result["formula"] == case.formula.strip()
    assert case.reason in result["message"] and result["message"].startswith("invalid formula ")
    assert shown["type"] == "Span" and shown["props"] == {"children": ["Not a valid formula: ", result["message"]], "className": "error"}
    [line] = logged(caplog, "dashboard.callbacks.search")
    assert line.startswith("search: ") and "is not a valid formula" in line and len(line) < 600


def test_the_log_line_of_a_refused_search_names_the_formula_shortened(served, small_map_name, caplog):
    _, client, dependencies = served
    formula = "Xx" * 100  # 200 characters: the longest the box takes
    response = post(client, search_request(dependencies, small_map_name, formula))
    assert response.get_json()["response"]["search-result"]["data"]["status"] == "invalid"
    [line] = logged(caplog, "dashboard.callbacks.search")
    assert line.startswith(f"search: {repr(formula)[:80]}… ({len(repr(formula))} characters) is not a valid formula: ")
    assert "unknown element symbol 'Xx'" in line


def test_a_formula_the_map_cannot_place_is_explained_and_logged(served, small_map_name, caplog):
    _, client, dependencies = served
    response = post(client, search_request(dependencies, small_map_name, "Rn"))  # parses, but no similarity data
    assert response.status_code == 200
    answer = response.get_json()["response"]
    result = answer["search-result"]["data"]
    assert result["status"] == "invalid" and "without similarity data" in result["message"]
    assert answer["search-message"]["children"]["props"]["children"] == ["Not a valid formula: ", result["message"]]
    [line] = logged(caplog, "dashboard.callbacks.search")
    assert line.startswith("search: 'Rn' could not be placed on this map: ") and "without similarity data" in line
    assert not app_errors(caplog)


# ------------------------------------------------------------------------------ upload box


def data_url(data: bytes) -> str:
    """What ``dcc.Upload`` sends for a dropped file."""
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def upload_request(dependencies: list[dict], map_name: str, contents: object, filename: object) -> dict:
    values = {**valid_values(map_name), "upload.contents": contents, "upload.filename": filename}
    return request_body(find(dependencies, UPLOAD), values, ["upload.contents"])


@pytest.mark.parametrize("case", UPLOAD_CASES, ids=lambda case: case.id)
def test_every_hostile_upload_gets_a_message_and_a_log_line(case, served, small_map_name, caplog):
    _, client, dependencies = served
    caplog.set_level(logging.INFO)
    body = upload_request(dependencies, small_map_name, data_url(resolve(case.data)), case.filename)
    started = time.perf_counter()
    response = post(client, body)
    assert time.perf_counter() - started < SECONDS
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:300]  # the largest case (32 MB as base64) is under the 64 MB request limit
    assert_no_internals(text)
    assert not app_errors(caplog), [r.getMessage() for r in app_errors(caplog)]
    answer = response.get_json()["response"]
    message = answer["upload-message"]["children"]
    if case.outcome == "refused":
        assert "upload-overlay" not in answer and "map-graph" not in answer, "nothing is placed"
        assert message["props"]["className"] == "error" and case.message in message["props"]["children"]
        assert any(case.message in m for m in logged(caplog, "dashboard.callbacks.validate"))
        return
    overlay = answer["upload-overlay"]["data"]
    assert overlay["name"] == case.filename and len(overlay["points"]) <= upload.MAX_PLACED
    assert case.message in texts(message)
    assert any(m.startswith(f"upload {case.filename}: ") for m in logged(caplog, "dashboard.callbacks.upload", logging.INFO))
    if case.outcome == "reported":
        assert logged(caplog, "dashboard.callbacks.upload"), "a file with problems leaves a WARNING line"


def test_an_upload_over_the_request_limit_gets_413_and_one_over_the_upload_limit_a_message(small_map, small_map_name, caplog):
    app = create_app(map_dir=small_map, maps_root=small_map.parent, settings=ServerSettings(max_request_mb=3, max_upload_mb=1))
    client = app.server.test_client()
    dependencies = [d for d in client.get("/_dash-dependencies").get_json() if not d.get("clientside_function")]
    caplog.set_level(logging.INFO)
    body = upload_request(dependencies, small_map_name, data_url(resolve("@ten_mb_formula")), "x.csv")
    size = len(json.dumps(body))
    response = post(client, body)
    text = response.get_data(as_text=True)
    assert response.status_code == 413, text[:300]
    assert response.get_json() == {"error": f"request too large: {size / MB:.1f} MB; this server accepts at most 3 MB per request"}
    assert_no_internals(text)
    assert any("refused POST /_dash-update-component" in m for m in logged(caplog, "dashboard.app"))
    caplog.clear()
    middle = b"formula,gap\n" + b"Fe2O3,1\n" * 200_000  # 1.6 MB: under the request limit, over the upload limit
    response = post(client, upload_request(dependencies, small_map_name, data_url(middle), "mid.csv"))
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert "upload-overlay" not in answer
    assert answer["upload-message"]["children"]["props"]["children"] == "upload 'mid.csv' is larger than 1 MB"
    assert app_warnings(caplog) and not app_errors(caplog)
    _valid_requests_answer(client, dependencies, small_map_name)


# ------------------------------------------------------------------------------ NaN and Infinity


def test_the_nan_cases_send_bare_json_tokens(served, small_map_name):
    _, _, dependencies = served
    for case_id, token in (("map-cmin-nan", "NaN"), ("map-cmax-infinity", "Infinity"), ("map-opacity-minus-infinity", "-Infinity")):
        case = next(c for c in CALLBACK_CASES if c.id == case_id)
        raw = json.dumps(request_body(find(dependencies, case.callback), {**valid_values(small_map_name), **case.values}, case.changed))
        assert f'"value": {token}}}' in raw
        assert json.loads(raw) is not None  # Python's (and Flask's) parser reads the tokens back


# ------------------------------------------------------------------------------ after it all


def _valid_requests_answer(client, dependencies, map_name) -> None:
    values = valid_values(map_name)
    response = post(client, request_body(find(dependencies, "highlight-count.children"), values))
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert "compounds" in answer["highlight-count"]["children"] and "contain all of Fe, O" in answer["highlight-count"]["children"]
    response = post(client, request_body(find(dependencies, "search-result.data"), values))
    assert response.status_code == 200
    assert response.get_json()["response"]["search-result"]["data"]["status"] in ("known", "placed")
    response = post(client, upload_request(dependencies, map_name, values["upload.contents"], "mine.csv"))
    assert response.status_code == 200
    overlay = response.get_json()["response"]["upload-overlay"]["data"]
    assert overlay["name"] == "mine.csv" and [p["formula"] for p in overlay["points"]] == ["LiFeO2"]
    assert client.get("/").status_code == 200


@pytest.mark.timeout(600)
def test_the_app_keeps_answering_after_the_whole_corpus(small_map, small_map_name, caplog):
    app = create_app(map_dir=small_map, maps_root=small_map.parent)
    client = app.server.test_client()
    dependencies = [d for d in client.get("/_dash-dependencies").get_json() if not d.get("clientside_function")]
    _valid_requests_answer(client, dependencies, small_map_name)
    statuses = []
    for case in CALLBACK_CASES:
        values = {**valid_values(small_map_name), **case.values}
        statuses.append(post(client, request_body(find(dependencies, case.callback), values, case.changed)).status_code)
    values = {**valid_values(small_map_name), '{"target":["ALL"],"type":"export-open"}.n_clicks': []}
    for case in PROTOCOL_CASES:
        if case.mutate is None:
            statuses.append(post(client, raw=case.raw, content_type=case.content_type).status_code)
        else:
            body = request_body(find(dependencies, case.callback), values)
            statuses.append(post(client, case.mutate(copy.deepcopy(body)), content_type=case.content_type).status_code)
    assert 500 not in statuses
    # the search box and the upload box, with everything the corpus has for them
    answers = [post(client, search_request(dependencies, small_map_name, case.formula)).status_code for case in SEARCHABLE]
    for case in UPLOAD_CASES:
        answers.append(post(client, upload_request(dependencies, small_map_name, data_url(resolve(case.data)), case.filename)).status_code)
    for case in CONTENTS_CASES:
        contents = oversized_contents() if case.contents == "@oversized_contents" else case.contents
        answers.append(post(client, upload_request(dependencies, small_map_name, contents, case.filename)).status_code)
    assert set(answers) == {200}
    assert not app_errors(caplog)
    _valid_requests_answer(client, dependencies, small_map_name)
