"""Paging of the List calls (AIP-158): page sizes, and page tokens that are opaque to
clients (base64 JSON of a study id or an offset) and checked as untrusted input."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Longer than any token this server issues (a study id or an offset, base64 JSON).
MAX_PAGE_TOKEN = 512
MAX_PAGE_MEASUREMENTS = 100_000


def encode_page_token(position: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_page_token(token: str, kind: type) -> Any:
    if not token:
        return None
    if len(token) > MAX_PAGE_TOKEN:
        raise InvalidArgument(
            f"page_token has {len(token)} characters; it is not a token this server issued"
        )
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidArgument(f"page_token {token!r} is not a token this server issued") from exc
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidArgument(f"page_token {token!r} is not a token this server issued")
    return value


def page_size_of(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument(f"page_size = {requested}: must be >= 0")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
