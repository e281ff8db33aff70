"""Upload a CSV/Parquet of formulas: validated, placed on the current map, drawn as an overlay.

The placed points live in a browser store (no server-side session state); the message lists
what was kept and every skipped row with its reason.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re

import numpy as np
from dash import Input, Output, Patch, State, ctx, html, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.maps import LoadedMap
from dashboard.settings import upload_limit_bytes
from data.user_dataset import UserDatasetError, load_user_dataset

log = logging.getLogger(__name__)

#: Largest upload accepted by default (the browser checks it too); the app uses its settings'
#: ``max_upload_mb`` (``CHEMMAP_MAX_UPLOAD_MB``), 20 MB unless configured.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Data rows an upload may hold. Only ``MAX_PLACED`` are drawn; reading and validating a
#: longer table would hold a server worker for seconds per request. A bigger dataset gets
#: its own map with ``python app.py build-map --dataset FILE``.
MAX_UPLOAD_ROWS = 100_000
#: Rows placed on the map; beyond that the rest is reported, not drawn.
MAX_PLACED = 5_000
#: Characters of a file name kept for messages.
MAX_FILENAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Skipped rows listed on the page.
LISTED_SKIPPED = 50


def decode_upload(contents: object, filename: object, *, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[bytes, str]:
    """The bytes of a ``dcc.Upload`` data URL (``data:...;base64,...``) and a clean file name;
    over ``max_bytes`` is refused before decoding."""
    if not isinstance(contents, str) or "," not in contents:
        raise validate.InputError("the upload is not a file (expected a data URL)")
    if filename is not None and not isinstance(filename, str):
        raise validate.InputError(f"the upload's file name must be text, got {type(filename).__name__}")
    # the name is shown back (and a lone surrogate, forgeable in JSON, cannot be sent back)
    name = validate.without_surrogates(_CONTROL.sub("?", filename[:MAX_FILENAME])) if filename else "upload"
    header, _, payload = contents.partition(",")
    if ";base64" not in header:
        raise validate.InputError(f"upload {name!r}: expected base64 content")
    if len(payload) > max_bytes * 4 // 3 + 8:
        raise validate.InputError(f"upload {name!r} is larger than {max_bytes / 2**20:g} MB")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise validate.InputError(f"upload {name!r} is not valid base64") from None
    return data, name


def place_upload(
    loaded: LoadedMap, data: bytes, filename: str, *, max_placed: int = MAX_PLACED, max_bytes: int = MAX_UPLOAD_BYTES
) -> tuple[dict, list]:
    """Validate ``data`` and place its formulas on ``loaded``.

    Returns
    -------
    overlay : dict
        ``{"name": filename, "points": [{"formula", "x", "y", "id"}, ...]}``.
    message : list of Dash components
        Summary, warnings and the skipped rows with reasons.
    """
    try:
        dataset = load_user_dataset(data, filename=filename, max_bytes=max_bytes, max_rows=MAX_UPLOAD_ROWS)
    except UserDatasetError as err:
        raise validate.InputError(str(err)) from None
    table = dataset.table
    skipped: list[tuple[int | None, str, str]] = [(int(r.row), str(r.formula), str(r.reason)) for r in dataset.skipped.itertuples(index=False)]
    considered = table.iloc[:max_placed]
    placed = loaded.place(considered["formula"].to_numpy(), k=1)
    ok = placed["error"].astype(str).eq("").to_numpy() & np.isfinite(placed["x"].to_numpy(dtype=np.float64))
    for index in np.flatnonzero(~ok):
        skipped.append((None, str(placed["formula"].iat[index]), str(placed["error"].iat[index]) or "could not be placed on this map"))
    id_column = dataset.id_column
    points = [
        {
            "formula": str(placed["formula"].iat[i]),
            "x": float(placed["x"].iat[i]),
            "y": float(placed["y"].iat[i]),
            "id": str(considered[id_column].iat[i]) if id_column else f"{filename} row {i + 1}",
        }
        for i in np.flatnonzero(ok)
    ]
    summary = f"{filename}: {len(points):,} compounds placed on the map (diamonds), {len(skipped):,} rows skipped."
    if skipped or len(dataset.cell_issues) or dataset.warnings:  # the file had problems: say which in the log too
        problems = [reason for _, _, reason in skipped[:3]] + dataset.warnings[:3]
        log.warning("upload %s; %s", summary, validate.shortened("; ".join(problems)))
    else:
        log.info("upload %s", summary)
    lines = [html.Strong(summary)]
    if len(table) > max_placed:
        lines.append(html.Div(f"Only the first {max_placed:,} of {len(table):,} valid rows are placed (the rest are not drawn).", className="warning"))
    for warning in dataset.warnings[:10]:
        lines.append(html.Div(f"Note: {warning}", className="warning"))
    if len(dataset.cell_issues):
        lines.append(html.Div(f"{len(dataset.cell_issues):,} cells could not be read as numbers and count as missing.", className="warning"))
    if skipped:
        listed = [html.Li(f"{f'row {row}: ' if row is not None else ''}{formula[:60]!r}: {reason}") for row, formula, reason in skipped[:LISTED_SKIPPED]]
        if len(skipped) > LISTED_SKIPPED:
            listed.append(html.Li(f"… and {len(skipped) - LISTED_SKIPPED:,} more"))
        lines.append(html.Details([html.Summary(f"Skipped rows ({len(skipped):,})"), html.Ul(listed)], open=len(skipped) <= 10))
    return {"name": filename, "points": points}, lines


def register(app, context) -> None:
    @app.callback(
        Output(ids.UPLOAD_OVERLAY, "data"),
        Output(ids.UPLOAD_MESSAGE, "children"),
        Output(ids.MAP_GRAPH, "figure", allow_duplicate=True),
        Input(ids.UPLOAD, "contents"),
        Input(ids.UPLOAD_CLEAR, "n_clicks"),
        State(ids.UPLOAD, "filename"),
        State(ids.MAP_NAME, "data"),
        State(ids.THEME, "value"),
        State(ids.MAP_BUILT, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: (no_update, html.Div(message, className="error"), no_update))
    def upload(contents, _clear, filename, map_name, theme, built):
        loaded = context.load(map_name)
        theme = validate.choice(theme, ("light", "dark"), name="theme")
        patch = Patch()
        if ctx.triggered_id == ids.UPLOAD_CLEAR:
            patch["data"][ids.SLOT_UPLOAD] = build.empty_slot(ids.SLOT_UPLOAD).to_plotly_json()
            return None, "", patch if built else no_update
        limit = upload_limit_bytes()  # the same limit the upload box shows the browser
        data, name = decode_upload(contents, filename, max_bytes=limit)
        overlay, message = place_upload(loaded, data, name, max_bytes=limit)
        patch["data"][ids.SLOT_UPLOAD] = build.overlay_trace(build.upload_points(overlay), ids.SLOT_UPLOAD, theme=theme).to_plotly_json()
        return overlay, message, patch if built else no_update
