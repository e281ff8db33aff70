"""Checks for what callbacks receive from the browser, which anyone can forge.

Each check returns clean plain data or raises :class:`InputError` with a message fit for
the page. Callbacks turn these (and the other expected errors, see ``USER_ERRORS``) into a
message next to the control, never a traceback.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from data.map_artifact import MapArtifactError
from dashboard.maps import MapChoiceError
from fingerprints.elements import SYMBOL_TO_INDEX
from fingerprints.formula import FormulaError

log = logging.getLogger(__name__)

#: Largest list of rows accepted from the browser (a lasso over a million points).
MAX_ROWS = 5_000_000
MAX_TEXT = 200


class InputError(ValueError):
    """A value sent by the browser is unusable; the message says which and why."""


#: Errors whose message is shown to the user as is.
USER_ERRORS = (InputError, MapChoiceError, MapArtifactError, FormulaError)


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


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
    return value.strip()


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
    array = np.unique(np.asarray(value, dtype=np.int64))
    if array.size and (array[0] < 0 or array[-1] >= n_points):
        raise InputError(f"row numbers must be between 0 and {n_points - 1}")
    return array


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


def guarded(on_error: Callable[[str], object]):
    """Decorator: expected errors become ``on_error(message)``; others are logged, not shown."""

    def decorate(function):
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except USER_ERRORS as err:
                return on_error(str(err))
            except ValueError as err:  # library validation errors name the input and the problem
                return on_error(str(err))
            except Exception:  # noqa: BLE001 - a message for the page, the traceback for the log only
                log.exception("callback %s failed", function.__name__)
                return on_error("Something went wrong on the server; the details are in its log.")

        wrapper.__name__ = function.__name__
        wrapper.__doc__ = function.__doc__
        wrapper.__wrapped__ = function
        return wrapper

    return decorate
