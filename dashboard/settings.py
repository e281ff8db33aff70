"""Server settings, read from the environment with the ``CHEMMAP_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """How ``python app.py serve`` binds and runs; command-line options take precedence."""

    model_config = SettingsConfigDict(env_prefix="CHEMMAP_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind. Loopback by default; set 0.0.0.0 only behind a firewall or proxy.")
    port: int = Field(8050, ge=1, le=65535, description="TCP port to listen on.")
    debug: bool = Field(False, description="Dash debug mode (dev tools, reloader, tracebacks in the browser). Never on a shared server.")
    max_request_mb: float = Field(
        64.0,
        gt=0,
        le=4096,
        description="Largest request body the server reads, in MB (Flask MAX_CONTENT_LENGTH); larger requests get "
        "413 and a log line. Must hold an upload (base64: 4/3 of the file) and a lasso over the whole map "
        "(about 8 MB per million compounds).",
    )
    max_upload_mb: float = Field(
        20.0,
        gt=0,
        le=1024,
        description="Largest file the upload box accepts, in MB; the browser refuses bigger files with a message, "
        "before sending anything.",
    )
    map: Path | None = Field(
        None,
        description="Map directory opened first (written by build-map); default: the built-in map, built once if missing.",
    )
    maps_root: Path | None = Field(
        None,
        description="Folder whose subfolders are the maps the page offers; default: the folder of the built-in map.",
    )
    compare_dir: Path | None = Field(
        None,
        description="Results folder of the embedding comparison shown by the 'Compare embeddings' view (written by "
        "python app.py compare --out DIR); default: the committed bench/results/compare of the repository.",
    )
    workers: int = Field(4, ge=1, le=64, description="Worker processes of the production server (gunicorn.conf.py, serve --workers).")
    timeout: int = Field(
        120,
        ge=10,
        le=3600,
        description="Seconds a production worker may spend on one request before gunicorn restarts it "
        "(figure exports of large maps take the longest).",
    )

    @model_validator(mode="after")
    def _request_holds_an_upload(self) -> ServerSettings:
        needed = upload_request_mb(self.max_upload_mb)
        if self.max_request_mb < needed:
            raise ValueError(
                f"max_request_mb ({self.max_request_mb:g}) must be at least {needed:g}: an upload of max_upload_mb "
                f"({self.max_upload_mb:g}) travels base64-encoded (4/3 larger) inside a JSON request"
            )
        return self

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * MB)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)


MB = 1024 * 1024
#: Room for the rest of an upload request (ids, states, JSON) beyond the base64 file.
UPLOAD_REQUEST_OVERHEAD_MB = 1.0


def upload_request_mb(upload_mb: float) -> float:
    """The request size, in MB, that an upload of ``upload_mb`` needs (base64 plus the callback's JSON)."""
    return round(upload_mb * 4 / 3 + UPLOAD_REQUEST_OVERHEAD_MB, 3)


def upload_limit_bytes() -> int:
    """The upload limit of the running app (its ServerSettings), or from the environment outside a request."""
    return current_settings().max_upload_bytes


def current_settings() -> ServerSettings:
    """The settings of the app serving the current request; read from the environment outside a request."""
    from flask import current_app, has_app_context

    if has_app_context():
        settings = current_app.config.get("CHEMMAP_SETTINGS")
        if isinstance(settings, ServerSettings):
            return settings
    return ServerSettings()
