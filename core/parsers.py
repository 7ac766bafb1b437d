"""The API's request parser: JSON read by the house's reader (core.parsing), set in REST_FRAMEWORK."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.parsing import JSONRefused, json_loads


class HouseJSONParser(JSONParser):
    """DRF's JSON parser reading with json_loads: a refused body is a 400 in the house format, never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            return json_loads(stream.read())
        except JSONRefused as error:
            raise ParseError(str(error)) from None
        except ValueError as error:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
            raise ParseError(f"The body is not valid JSON: {error}") from None
