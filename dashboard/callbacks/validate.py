"""Checks for what callbacks receive from the browser, which anyone can forge.

Each check returns clean plain data or raises :class:`InputError` with a message fit for
the page. Callbacks turn these (and the other expected errors, see ``USER_ERRORS``) into a
message next to the control and a WARNING line in the server's log, never a traceback.

:func:`install_request_checks` refuses, before Dash reads it, a callback request whose shape
does not match a registered callback (unknown output, missing or extra inputs, ids that are
not the callback's, non-JSON bodies, absurd nesting): 400 with a one-line reason and a log
line, where Dash itself would fail with a 500.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable

import numpy as np

from data.map_artifact import MapArtifactError
from dashboard.maps import MapChoiceError
from fingerprints.elements import SYMBOL_TO_INDEX
from fingerprints.formula import MAX_FORMULA_LENGTH, FormulaError

log = logging.getLogger(__name__)

#: Largest list of rows accepted from the browser (a lasso over a million points).
MAX_ROWS = 5_000_000
MAX_TEXT = 200
#: Names and ids the server wrote into a store (an upload's file name plus a row number).
MAX_LABEL = 1000
#: Items one pattern-matching (ALL) input may carry: the page renders at most a few dozen
#: such buttons (neighbours, export targets), so a longer list can only be forged.
MAX_PATTERN_ITEMS = 1000
#: Points of an upload overlay sent back by the browser: the server never places more
#: (``upload.MAX_PLACED``); a longer list is forged and would be drawn as SVG markers.
MAX_OVERLAY_POINTS = 5_000
#: Neighbours listed for a placed formula (``search.NEIGHBOURS`` is 10).
MAX_NEIGHBOURS = 100
#: Characters of a refused value written to the log.
LOGGED_CHARACTERS = 300


class InputError(ValueError):
    """A value sent by the browser is unusable; the message says which and why."""


#: Errors whose message is shown to the user as is.
USER_ERRORS = (InputError, MapChoiceError, MapArtifactError, FormulaError)


def _shown(value: object, limit: int = 40) -> str:
    if isinstance(value, str) and len(value) > 10 * limit:  # repr of a 10 MB string is not cheap
        value = value[: 10 * limit]
    elif isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value):,} entries"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def shortened(text: object, limit: int = LOGGED_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters for a log line (with its full length when cut)."""
    text = text if isinstance(text, str) else _shown(text, limit)
    # Lone surrogates (forgeable in JSON) cannot be encoded by log handlers: escape them.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def elements(value: object, *, limit: int = 98) -> list[str]:
    """A list of distinct element symbols (order kept)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError(f"element selection must be a list of symbols, got {type(value).__name__}")
    if len(value) > limit:
        raise InputError(f"element selection has {len(value)} entries; at most {limit} elements can be selected")
    unknown = [v for v in value if not isinstance(v, str) or v not in SYMBOL_TO_INDEX]
    if unknown:
        raise InputError(f"unknown element symbol(s) {', '.join(_shown(u, 12) for u in unknown[:5])} (expected H..Cf)")
    return list(dict.fromkeys(value))


def element(value: object) -> str:
    if not isinstance(value, str) or value not in SYMBOL_TO_INDEX:
        raise InputError(f"{_shown(value)} is not an element symbol (expected H..Cf)")
    return value


def choice(value: object, allowed, *, name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(map(str, allowed))}, got {_shown(value)}")
    return value


def number(value: object, *, name: str, low: float, high: float, allow_none: bool = False) -> float | None:
    if value is None or value == "":
        if allow_none:
            return None
        raise InputError(f"{name} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number, got {_shown(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def text(value: object, *, name: str, max_length: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, got {type(value).__name__}")
    if len(value) > max_length:
        raise InputError(f"{name} is longer than {max_length} characters")
    if not _encodable(value):  # echoed back, it would make the answer unencodable (a 500)
        raise InputError(f"{name} is not valid text (it holds a lone surrogate)")
    return value.strip()


def _encodable(value: str) -> bool:
    """Can ``value`` be written as UTF-8? Lone surrogates (forgeable as JSON escapes) cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def without_surrogates(value: str) -> str:
    """``value`` with lone surrogates replaced by ``?``, for text shown back to the browser."""
    return value if _encodable(value) else value.encode("utf-8", "replace").decode("utf-8")


def rows(value: object, n_points: int, *, limit: int = MAX_ROWS) -> np.ndarray:
    """Distinct sorted row numbers within ``0..n_points-1``."""
    if value is None:
        return np.zeros(0, dtype=np.int64)
    if not isinstance(value, (list, tuple)):
        raise InputError(f"row list must be a list of integers, got {type(value).__name__}")
    if len(value) > min(limit, max(n_points, 1) * 2):
        raise InputError(f"row list has {len(value):,} entries, more than the map's {n_points:,} compounds")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise InputError("row list must contain integers only")
    if value and (min(value) < 0 or max(value) >= n_points):  # before numpy: 2**70 overflows int64
        raise InputError(f"row numbers must be between 0 and {n_points - 1}")
    return np.unique(np.asarray(value, dtype=np.int64))


def row(value: object, n_points: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n_points:
        raise InputError(f"compound row {_shown(value)} is not a row of this map (0..{n_points - 1})")
    return value


def axis_range(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(f"axis range must be two numbers, got {_shown(value)}")
    low, high = (number(v, name="axis range", low=-1e12, high=1e12) for v in value)
    return (low, high) if low < high else (high, low)


def focus(value: object, n_points: int) -> dict | None:
    """The focus store: None, ``{"row": r}`` or ``{"placed": <a placed search result>}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"the compound to show must be an object, got {type(value).__name__}")
    if "row" in value:
        return {"row": row(value["row"], n_points)}
    if "placed" in value:
        return {"placed": search_result(value["placed"], n_points)}
    raise InputError("the compound to show names neither a row of the map nor a placed formula")


def search_result(value: object, n_points: int) -> dict | None:
    """The search store (see ``search.run_search``): only its shape is checked."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"the search result must be an object, got {type(value).__name__}")
    status = value.get("status")
    if status not in ("empty", "invalid", "known", "placed"):
        raise InputError(f"the search result has an unknown status {_shown(status)}")
    clean = dict(value)
    if "formula" in value:
        clean["formula"] = text(value["formula"], name="searched formula", max_length=MAX_FORMULA_LENGTH)
    if status == "known":
        clean["row"] = row(value.get("row"), n_points)
    if status in ("known", "placed"):
        for key in ("x", "y"):
            clean[key] = number(value.get(key), name=f"search position {key}", low=-1e12, high=1e12)
    if status == "placed":
        pairs = value.get("neighbours") or []
        if not isinstance(pairs, list) or len(pairs) > MAX_NEIGHBOURS:
            raise InputError(f"the neighbours of a placed formula must be a list of at most {MAX_NEIGHBOURS} pairs")
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
            raise InputError("each neighbour of a placed formula must be a [row, distance] pair")
        clean["neighbours"] = [[row(r, n_points), number(d, name="distance", low=0, high=1e6)] for r, d in pairs]
    return clean


def overlay(value: object, *, limit: int = MAX_OVERLAY_POINTS) -> dict | None:
    """The upload overlay store: ``{"name": str, "points": [{"formula", "x", "y", "id"}, ...]}``."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("points"), list):
        raise InputError("the uploaded compounds must be an object with a list of points")
    points = value["points"]
    if len(points) > limit:
        raise InputError(f"the upload overlay has {len(points):,} points; at most {limit:,} are placed on a map")
    clean = []
    for point in points:
        if not isinstance(point, dict):
            raise InputError("each uploaded compound must be an object with formula, x and y")
        clean.append(
            {
                "formula": text(point.get("formula"), name="uploaded formula", max_length=MAX_FORMULA_LENGTH),
                # a point without a position is listed, not drawn (build.upload_points)
                "x": number(point.get("x"), name="uploaded compound x", low=-1e12, high=1e12, allow_none=True),
                "y": number(point.get("y"), name="uploaded compound y", low=-1e12, high=1e12, allow_none=True),
                "id": text(point.get("id"), name="uploaded compound id", max_length=MAX_LABEL),
            }
        )
    return {"name": text(value.get("name"), name="upload name", max_length=MAX_LABEL), "points": clean}


def guarded(on_error: Callable[[str], object]):
    """Decorator: expected errors become ``on_error(message)`` and a WARNING log line; others
    are logged with their traceback (for the server's log only) and shown as a generic line."""

    def decorate(function):
        def refused(err: Exception):
            log.warning("callback %s refused its input: %s", function.__name__, shortened(str(err)))
            return on_error(str(err))

        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except USER_ERRORS as err:
                return refused(err)
            except ValueError as err:  # library validation errors name the input and the problem
                return refused(err)
            except Exception:  # noqa: BLE001 - a message for the page, the traceback for the log only
                log.exception("callback %s failed", function.__name__)
                return on_error("Something went wrong on the server; the details are in its log.")

        wrapper.__name__ = function.__name__
        wrapper.__doc__ = function.__doc__
        wrapper.__wrapped__ = function
        return wrapper

    return decorate


# ------------------------------------------------------------------------------ request shape


def _pattern(spec_id: str) -> dict | None:
    """The pattern of a pattern-matching id as registered (a JSON object), else None."""
    if not spec_id.startswith("{"):
        return None
    return json.loads(spec_id)


def _pattern_id_problem(sent: object, pattern: dict) -> str | None:
    if not isinstance(sent, dict) or set(sent) != set(pattern):
        return f"id {_shown(sent)} does not match the pattern {_shown(pattern, 80)}"
    for key, wanted in pattern.items():
        value = sent[key]
        if isinstance(wanted, list):  # a wildcard: any scalar
            if not isinstance(value, (str, int, float, bool)):
                return f"id {_shown(sent)}: {key!r} must be a plain value"
        elif value != wanted:
            return f"id {_shown(sent)} does not match the pattern {_shown(pattern, 80)}"
    return None


def _entry_problem(entry: object, spec: dict, where: str, triggers: set[str]) -> str | None:
    """Is ``entry`` the value of the registered input/state ``spec``? Collects its prop ids."""
    from dash._utils import stringify_id

    pattern = _pattern(spec["id"])
    many = pattern is not None and any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values())
    items = entry if many else [entry]
    if many:
        if not isinstance(entry, list):
            return f"{where} {spec['id']}.{spec['property']} must be a list"
        if len(entry) > MAX_PATTERN_ITEMS:
            return f"{where} {spec['id']}.{spec['property']} has {len(entry):,} items (at most {MAX_PATTERN_ITEMS:,})"
    for item in items:
        if not isinstance(item, dict) or item.get("property") != spec["property"]:
            return f"{where} entry {_shown(item)} is not {spec['id']}.{spec['property']}"
        if pattern is None:
            if item.get("id") != spec["id"]:
                return f"{where} entry {_shown(item.get('id'))} is not {spec['id']}.{spec['property']}"
        else:
            problem = _pattern_id_problem(item.get("id"), pattern)
            if problem:
                return f"{where}: {problem}"
        triggers.add(f"{stringify_id(item['id'])}.{spec['property']}")
    return None


def _outputs_problem(sent: object, declared) -> str | None:
    declared = declared if isinstance(declared, (list, tuple)) else [declared]
    items = sent if isinstance(sent, list) else [sent]
    if len(items) != len(declared) or (len(declared) > 1 and not isinstance(sent, list)):
        return f"'outputs' must name the callback's {len(declared)} output(s)"
    for item, output in zip(items, declared):
        if not isinstance(item, dict) or item.get("id") != output.component_id:
            return f"'outputs' entry {_shown(item)} is not {output.component_id}.{output.component_property}"
        prop = item.get("property")
        if not isinstance(prop, str) or prop.split("@")[0] != output.component_property.split("@")[0]:
            return f"'outputs' entry {_shown(item)} is not {output.component_id}.{output.component_property}"
    return None


def callback_request_problem(body: object, callback_map: dict) -> str | None:
    """Why a ``/_dash-update-component`` body does not fit a registered callback (None: it fits).

    Only the shape is checked (which callback, which ids and properties, how many); the
    values are the callbacks' own business.
    """
    if not isinstance(body, dict):
        return f"the request body must be a JSON object, got {type(body).__name__}"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return f"unknown callback output {_shown(output)}"
    callback = callback_map[output]
    if not callback.get("no_output"):
        problem = _outputs_problem(body.get("outputs"), callback["output"])
        if problem:
            return problem
    triggers: set[str] = set()
    for key in ("inputs", "state"):
        declared = callback.get(key) or []
        sent = body.get(key, [] if not declared else None)  # the browser leaves out an empty state
        if not isinstance(sent, list) or len(sent) != len(declared):
            return f"'{key}' must be a list of the callback's {len(declared)} {key}, got {_shown(sent)}"
        seen: set[str] = set()
        for entry, spec in zip(sent, declared):
            problem = _entry_problem(entry, spec, key, seen)
            if problem:
                return problem
        if key == "inputs":
            triggers = seen
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) and c in triggers for c in changed):
        return f"'changedPropIds' must name inputs of the callback, got {_shown(changed)}"
    return None


def install_request_checks(app) -> None:
    """Check every callback request's shape before Dash reads it (see the module docstring)."""
    import flask
    from werkzeug.exceptions import BadRequest

    path = app.config.routes_pathname_prefix + "_dash-update-component"

    @app.server.before_request
    def _check_callback_request():
        request = flask.request
        if request.path != path or request.method != "POST":
            return None
        if not request.is_json:
            problem = f"the request body must be JSON, got content type {_shown(request.content_type)}"
        else:
            try:
                # get_json caches the parsed body: Dash reads it from there instead of parsing it again
                body = request.get_json() if request.get_data(cache=True) else None
            except (BadRequest, RecursionError):  # RecursionError: absurdly nested JSON
                problem = "the request body is not valid JSON (or is nested absurdly deep)"
            else:
                problem = callback_request_problem(body, app.callback_map)
        if problem is None:
            return None
        log.warning("refused a callback request from %s: %s", request.remote_addr, shortened(problem))
        return flask.jsonify(error=f"bad callback request: {problem}"), 400
