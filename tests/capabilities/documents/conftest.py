"""Fixtures of the documents capability tests (fake paperless-ngx in both flavours)."""

from __future__ import annotations

from .documents_fixtures import _paperless_servers, paperless_fake

__all__ = ["_paperless_servers", "paperless_fake"]
