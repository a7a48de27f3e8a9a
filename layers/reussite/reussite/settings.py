"""Settings read once from environment variables into one typed model."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = "local"
    database_url: str | None = None
    database_secret_arn: str | None = None
    public_base_url: str = "http://127.0.0.1:3000"
    idempotency_table: str | None = None
    certificates_bucket: str | None = None
    certificate_queue_url: str | None = None
    bilan_queue_url: str | None = None
    link_code_ttl_hours: int = 7 * 24


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; environment variable names are the field names in upper case."""
    return Settings.model_validate({key.lower(): value for key, value in os.environ.items()})
