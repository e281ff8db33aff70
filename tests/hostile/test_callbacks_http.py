"""Forged requests to the real callback endpoint of a real app (Flask test client).

The callbacks and their signatures come from ``GET /_dash-dependencies``, as a browser sees
them; every case of ``CALLBACK_CASES`` changes a few values of an otherwise valid request,
every case of ``PROTOCOL_CASES`` breaks the request's shape. Each answer is checked: the
expected status (200 with a message on the page, 204 when nothing is updated, 400 for a
request of the wrong shape), no traceback or source path in the body, a WARNING line in the
server's log and no ERROR (no unexpected exception). After the whole corpus the app still
answers a valid request with the right content.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest

from dashboard.app import create_app
from tests.hostile.conftest import app_errors, app_warnings, assert_no_internals
from tests.hostile.corpus import CALLBACK_CASES, PROTOCOL_CASES, URL_CASES

pytestmark = [pytest.mark.timeout(120), pytest.mark.xdist_group("hostile-http")]

ENDPOINT = "/_dash-update-component"


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


def _valid_requests_answer(client, dependencies, map_name) -> None:
    values = valid_values(map_name)
    response = post(client, request_body(find(dependencies, "highlight-count.children"), values))
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert "compounds" in answer["highlight-count"]["children"] and "contain all of Fe, O" in answer["highlight-count"]["children"]
    response = post(client, request_body(find(dependencies, "search-result.data"), values))
    assert response.status_code == 200
    assert response.get_json()["response"]["search-result"]["data"]["status"] in ("known", "placed")
    assert client.get("/").status_code == 200


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
    assert not app_errors(caplog)
    _valid_requests_answer(client, dependencies, small_map_name)
