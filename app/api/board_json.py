"""JSON answers of rows selected straight from the database, for the board's reads.

FastAPI answers a route's return value by validating it against the response model and encoding
the result; for a page of tasks that is a model instance and a validation per row, more CPU than
the query. A route that selects exactly its response model's columns answers them with JSONRows
instead: orjson encodes the rows' mappings as they are, in the same JSON the model gives (ISO 8601
times, UTC written `Z`). The route keeps `response_model`, which still documents the answer.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import Response
from sqlalchemy import Row


class JSONRows(Response):
    """One row as a JSON object, or a sequence of rows as an array of them."""

    media_type = "application/json"

    def __init__(self, rows: Row[Any] | Sequence[Row[Any]], headers: Mapping[str, str] | None = None) -> None:
        body = rows._mapping if isinstance(rows, Row) else [row._mapping for row in rows]
        super().__init__(orjson.dumps(body, default=_mapping, option=orjson.OPT_UTC_Z), headers=headers)


def _mapping(value: Any) -> Any:
    """orjson encodes dicts, not SQLAlchemy's RowMapping: the mapping of each row as a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
