"""Server settings, read from the environment with the ``CHEMMAP_`` prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """How ``python app.py serve`` binds and runs; command-line options take precedence."""

    model_config = SettingsConfigDict(env_prefix="CHEMMAP_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind. Loopback by default; set 0.0.0.0 only behind a firewall or proxy.")
    port: int = Field(8050, ge=1, le=65535, description="TCP port to listen on.")
    debug: bool = Field(False, description="Dash debug mode (dev tools, reloader, tracebacks in the browser). Never on a shared server.")
