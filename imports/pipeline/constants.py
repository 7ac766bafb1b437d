"""The pipeline's fixed values: chunk size, preview and duplicate limits, outcomes, identity columns."""


from __future__ import annotations

from collections.abc import Callable

CHUNK_SIZE = 5_000
PREVIEW_ROWS = 5
DUPLICATE_WINDOW = 20_000
OUTCOMES = ("new", "updated", "unchanged", "skipped", "invalid")
IDENTITY_FIELDS = ("external_id", "crm_id", "pos_id", "ecommerce_id")
Progress = Callable[[int], None]
