"""Callbacks, one module per job. Each module has ``register(app, context)`` and keeps its
logic in plain functions (plain data in, plain data out) that the tests call directly."""

from __future__ import annotations

from dashboard.callbacks import (
    compare,
    details,
    dialogs,
    export,
    highlight,
    materials_map,
    page,
    periodic_table,
    search,
    selection,
    similarity,
    upload,
    validate,
)

MODULES = (page, dialogs, periodic_table, highlight, materials_map, selection, search, details, similarity, upload, export, compare)


def register_callbacks(app, context) -> None:
    for module in MODULES:
        module.register(app, context)
    validate.install_request_checks(app)  # forged request shapes: 400 and a log line, not a 500
