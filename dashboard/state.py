"""The view state and its query string: a shared link reopens the same view.

``?map=mp&color=band_gap&el=Fe,O&mode=all&q=LiFePO4&x=1.5,8&y=-2,4&layout=grid&theme=dark``

The "Compare embeddings" view adds ``view=compare`` and its own fields:
``left=pettifor-mined&right=magpie&ccolor=band_gap&ccmin=0&ccmax=3&model=knn`` (the two maps'
embeddings, their shared colouring and colour range, and the model of the MAE figure). Both
views keep the other view's fields, so switching back and forth loses nothing.

:func:`parse_query` never fails: anything it cannot use (unknown keys, bad values, values
that are too long) falls back to the default and produces a notice for the page.
:func:`reconcile` then checks the map-dependent parts (colour column, compound id) against the
loaded map. :func:`to_query` writes only what differs from the defaults (and always the map).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

from fingerprints.elements import SYMBOL_TO_INDEX

LAYOUTS = ("grid", "learned", "standard")
MODES = ("all", "any", "only")
THEMES = ("light", "dark")
ORDERS = ("learned", "z")
VIEWS = ("explorer", "compare")
#: Built-in periodic-table colourings; ``count``, ``selection`` and ``mean:<column>`` too.
TABLE_COLORINGS = ("category", "block", "group", "period", "count", "selection")
MAX_QUERY_LENGTH = 4000
MAX_SEARCH_LENGTH = 200
MAX_ELEMENTS = 98
SIZE_RANGE = (1.0, 20.0)
#: Largest magnitude of a colour bound or an axis limit: the callbacks refuse larger ones
#: (``validate.axis_range``), so a link must not carry them into the page.
MAX_MAGNITUDE = 1e12
OPACITY_RANGE = (0.05, 1.0)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")
_COLUMN = re.compile(r"^[^\x00-\x1f]{1,120}$")


@dataclass(frozen=True)
class ViewState:
    """Everything a link restores. ``None`` means "the map's default"."""

    map: str | None = None
    color: str | None = None
    cmin: float | None = None
    cmax: float | None = None
    size: float = 4.0
    opacity: float = 0.8
    table_color: str = "category"
    layout: str = "grid"
    elements: tuple[str, ...] = ()
    mode: str = "all"
    search: str = ""
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    theme: str = "light"
    focus: str | None = None
    order: str = "learned"
    compound: str | None = None
    view: str = "explorer"
    compare_left: str | None = None
    compare_right: str | None = None
    compare_color: str | None = None
    compare_cmin: float | None = None
    compare_cmax: float | None = None
    compare_model: str | None = None
    notices: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["elements"] = list(self.elements)
        data["x_range"] = list(self.x_range) if self.x_range else None
        data["y_range"] = list(self.y_range) if self.y_range else None
        data.pop("notices")
        return data


DEFAULT = ViewState()
_KEYS = {
    "map": "map",
    "color": "color",
    "cmin": "cmin",
    "cmax": "cmax",
    "size": "size",
    "opacity": "opacity",
    "pt": "table_color",
    "layout": "layout",
    "el": "elements",
    "mode": "mode",
    "q": "search",
    "x": "x_range",
    "y": "y_range",
    "theme": "theme",
    "focus": "focus",
    "order": "order",
    "c": "compound",
    "view": "view",
    "left": "compare_left",
    "right": "compare_right",
    "ccolor": "compare_color",
    "ccmin": "compare_cmin",
    "ccmax": "compare_cmax",
    "model": "compare_model",
}
_FIELD_TO_KEY = {v: k for k, v in _KEYS.items()}


def _without_surrogates(text: str) -> str:
    """``text`` with lone surrogates replaced by ``?`` (they cannot be encoded in UTF-8)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _number(text: str, low: float | None = None, high: float | None = None) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if low is not None and not low <= value <= high:
        raise ValueError(f"outside {low:g}..{high:g}")
    return value


def _range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("expected two numbers separated by a comma")
    low, high = (_number(p, -MAX_MAGNITUDE, MAX_MAGNITUDE) for p in parts)
    if not low < high:
        raise ValueError("the first number must be smaller than the second")
    return (low, high)


def _elements(text: str) -> tuple[tuple[str, ...], list[str]]:
    symbols, unknown = [], []
    for part in text.split(","):
        symbol = part.strip()
        if not symbol:
            continue
        if symbol in SYMBOL_TO_INDEX:
            if symbol not in symbols:
                symbols.append(symbol)
        else:
            unknown.append(symbol)
    return tuple(symbols[:MAX_ELEMENTS]), unknown


def _choice(text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise ValueError(f"expected one of {', '.join(allowed)}")
    return text


def _parse_value(name: str, text: str, notices: list[str]):
    if name == "map":
        if not _NAME.match(text):
            raise ValueError("not a map name")
        return text
    if name in ("color", "compare_color"):
        if not _COLUMN.match(text):
            raise ValueError("not a column name")
        return text
    if name == "table_color":
        if text in TABLE_COLORINGS or (text.startswith("mean:") and _COLUMN.match(text[5:] or "\x00")):
            return text
        raise ValueError(f"expected one of {', '.join(TABLE_COLORINGS)} or mean:<column>")
    if name in ("cmin", "cmax", "compare_cmin", "compare_cmax"):
        return _number(text, -MAX_MAGNITUDE, MAX_MAGNITUDE)
    if name == "view":
        return _choice(text, VIEWS)
    if name in ("compare_left", "compare_right", "compare_model"):
        if not _NAME.match(text):
            raise ValueError("not a name")
        return text
    if name == "size":
        return _number(text, *SIZE_RANGE)
    if name == "opacity":
        return _number(text, *OPACITY_RANGE)
    if name == "layout":
        return _choice(text, LAYOUTS)
    if name == "mode":
        return _choice(text, MODES)
    if name == "theme":
        return _choice(text, THEMES)
    if name == "order":
        return _choice(text, ORDERS)
    if name == "elements":
        symbols, unknown = _elements(text)
        if unknown:
            notices.append(f"ignored unknown element symbol(s) {', '.join(_shown(u, 12) for u in unknown[:5])} in the link")
        return symbols
    if name in ("x_range", "y_range"):
        return _range(text)
    if name == "search":
        if len(text) > MAX_SEARCH_LENGTH:
            raise ValueError(f"longer than {MAX_SEARCH_LENGTH} characters")
        return text.strip()
    if name == "focus":
        if text not in SYMBOL_TO_INDEX:
            raise ValueError("not an element symbol")
        return text
    if name == "compound":
        if not 0 < len(text) <= 200:
            raise ValueError("empty or too long")
        return text
    raise KeyError(name)  # pragma: no cover - every key is handled above


def parse_query(search: object) -> ViewState:
    """The view state of a query string (``"?a=b&..."`` or ``"a=b&..."``); never raises.

    Whatever cannot be used falls back to the default; ``state.notices`` says what and why.
    """
    notices: list[str] = []
    if search is None or search == "":
        return DEFAULT
    if not isinstance(search, str):
        return replace(DEFAULT, notices=("the link's parameters could not be read; showing the default view",))
    text = search[1:] if search.startswith("?") else search
    if len(text) > MAX_QUERY_LENGTH:
        return replace(DEFAULT, notices=(f"the link's parameters are longer than {MAX_QUERY_LENGTH} characters; showing the default view",))
    if _without_surrogates(text) != text:  # JSON can carry lone surrogates; a URL cannot
        return replace(DEFAULT, notices=("the link's parameters could not be read; showing the default view",))
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except ValueError:
        return replace(DEFAULT, notices=("the link's parameters could not be read; showing the default view",))
    values: dict = {}
    for key, value in pairs:
        name = _KEYS.get(key)
        if name is None:
            notices.append(f"ignored unknown link parameter {_shown(key, 20)}")
            continue
        if value == "":
            continue
        try:
            values[name] = _parse_value(name, value, notices)
        except ValueError as err:
            notices.append(f"ignored {key}={_shown(value)} ({err})")
    if "cmin" in values and "cmax" in values and not values["cmin"] < values["cmax"]:
        notices.append("ignored cmin/cmax: cmin must be smaller than cmax")
        values.pop("cmin"), values.pop("cmax")
    if "compare_cmin" in values and "compare_cmax" in values and not values["compare_cmin"] < values["compare_cmax"]:
        notices.append("ignored ccmin/ccmax: ccmin must be smaller than ccmax")
        values.pop("compare_cmin"), values.pop("compare_cmax")
    return replace(DEFAULT, **values, notices=tuple(notices))


def reconcile(state: ViewState, *, color_columns, default_color: str | None, numeric_columns, compound_ids=None) -> ViewState:
    """Check the map-dependent fields against a loaded map; fall back with notices."""
    notices = list(state.notices)
    changes: dict = {}
    if state.color is None or state.color not in color_columns:
        if state.color is not None:
            notices.append(f"this map has no column {_shown(state.color)} to colour by; using {default_color}")
        changes["color"] = default_color
    color = changes.get("color", state.color)
    if (state.cmin is not None or state.cmax is not None) and color not in numeric_columns:
        changes.update(cmin=None, cmax=None)
    if state.table_color.startswith("mean:") and state.table_color[5:] not in numeric_columns:
        notices.append(f"this map has no numeric column {_shown(state.table_color[5:])} for the periodic table; using category")
        changes["table_color"] = "category"
    if state.compound is not None and compound_ids is not None and state.compound not in compound_ids:
        notices.append(f"compound {_shown(state.compound)} is not in this map")
        changes["compound"] = None
    return replace(state, **changes, notices=tuple(notices))


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple) and value and isinstance(value[0], float):
        return ",".join(f"{v:.6g}" for v in value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def to_query(state: ViewState) -> str:
    """``"?map=...&..."``: the map, then every field that differs from the default."""
    pairs = []
    for name, key in _FIELD_TO_KEY.items():
        value = getattr(state, name)
        if name != "map" and value == getattr(DEFAULT, name):
            continue
        if value is None or value == () or value == "":
            continue
        pairs.append((key, _format(value)))
    return "?" + urlencode(pairs, safe=",:") if pairs else ""


def from_dict(data: object) -> ViewState:
    """A ViewState from the dict the page keeps in a store (validated like a query string)."""
    if not isinstance(data, dict):
        return DEFAULT
    pairs, unencodable = [], []
    for name, key in _FIELD_TO_KEY.items():
        value = data.get(name)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        text = _without_surrogates(str(value))
        if text != str(value):
            unencodable.append(key)
        pairs.append((key, text))
    state = parse_query(urlencode(pairs, safe=",:"))
    if unencodable:
        notice = f"replaced characters that a link cannot hold in {', '.join(unencodable)}"
        state = replace(state, notices=state.notices + (notice,))
    return state
