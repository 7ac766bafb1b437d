"""Writes on API keys: revoking is final (the library's admin never lets a revoked key come back)."""

from __future__ import annotations

import logging

from django.db.models import QuerySet

from integrations.models import ApiKey

logger = logging.getLogger(__name__)


def api_keys_revoke(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke the keys not revoked yet; returns how many were. Their next call answers 401."""
    count = keys.filter(revoked=False).update(revoked=True)
    logger.info("integrations.keys_revoked count=%s", count)
    return count
