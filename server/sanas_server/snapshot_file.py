"""The snapshot file's layout: one JSON document, `{"journal": ..., "event": {...}}`,
written and read a trial row at a time (see `snapshot_chunks`), and the one-line
layout of earlier releases, read a row at a time too (LegacyRows). What the event
holds is journal.py's business."""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SNAPSHOT_END = b"]}}"  # the last line of a snapshot written a row a line
Event = dict[str, Any]


def snapshot_chunks(journal: str, event: Event) -> Iterator[bytes]:
    """A snapshot file, made as it is written. It is one JSON document, `{"journal": ...,
    "event": {...}}`, laid out so that it is written and read one trial row at a time: the
    first line holds everything but the rows and ends by opening the event's "trials"
    list, then one row a line (each after the first begins with its separating comma),
    then a line that closes the list. Nothing holds the whole text at once, and the
    writer gives up the GIL between rows (one json.dumps of a whole study held it for
    seconds, stalling every other study's calls)."""
    if "trials" not in event:
        yield json.dumps({"journal": journal, "event": event}).encode()
        return
    head = {k: v for k, v in event.items() if k != "trials"}
    text = json.dumps({"journal": journal, "event": {**head, "trials": []}})
    yield text.removesuffix("]}}").encode() + b"\n"
    for i, row in enumerate(event["trials"]):
        yield (b"," if i else b"") + json.dumps(row).encode() + b"\n"
    yield SNAPSHOT_END + b"\n"


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, i: int = 0) -> int:
    """The index of the first non-whitespace character at or after i."""
    match = _SPACE.match(text, i)
    assert match is not None  # `*` matches the empty string anywhere
    return match.end()


class LegacyRows:
    """The trial rows of a snapshot written on one line (before rows got a line each),
    decoded one at a time as they are iterated, from the document's text: json.loads of
    the whole document held ~160 bytes a measurement point at once, 800 MB at the
    accepted maxima, where the text and one row at a time are a fifth of that."""

    def __init__(self, text: str, start: int) -> None:
        self._text = text
        self._start = start  # the index of the list's "["
        # Every row is decoded (and dropped) now, so damage shows at load.
        ((_, self.end),) = collections.deque(self._walk(), maxlen=1)  # after the "]"

    def _walk(self) -> Iterator[tuple[Any, int]]:
        """(row, index after it) for each row, then (None, index after the list)."""
        text, i = self._text, self._start + 1
        first = True
        while True:
            i = _skip_space(text, i)
            if text.startswith("]", i):
                yield None, i + 1
                return
            if not first:
                if not text.startswith(",", i):
                    raise ValueError(f"snapshot: a comma expected before the row at {i}")
                i = _skip_space(text, i + 1)
            row, i = _DECODER.raw_decode(text, i)
            first = False
            yield row, i

    def __iter__(self) -> Iterator[Any]:
        return (row for row, _ in self._walk() if row is not None)


def _legacy_object(text: str, i: int, depth: int) -> tuple[dict[str, Any], int]:
    """The object at text[i] (`{"journal": ..., "event": {...}}`), its values decoded
    whole except the event's "trials", left to LegacyRows."""
    if not text.startswith("{", i):
        raise ValueError(f"snapshot: an object expected at {i}")
    out: dict[str, Any] = {}
    i += 1
    while True:
        i = _skip_space(text, i)
        if text.startswith("}", i):
            return out, i + 1
        if out:
            if not text.startswith(",", i):
                raise ValueError(f"snapshot: a comma expected at {i}")
            i = _skip_space(text, i + 1)
        key, i = _DECODER.raw_decode(text, i)
        i = _skip_space(text, i)
        if not isinstance(key, str) or not text.startswith(":", i):
            raise ValueError(f"snapshot: a key expected before {i}")
        i = _skip_space(text, i + 1)
        if depth == 0 and key == "event" and text.startswith("{", i):
            out[key], i = _legacy_object(text, i, 1)
        elif depth == 1 and key == "trials" and text.startswith("[", i):
            rows = LegacyRows(text, i)
            out[key], i = rows, rows.end
        else:
            out[key], i = _DECODER.raw_decode(text, i)


def read_legacy_snapshot(text: str) -> dict[str, Any]:
    snapshot, end = _legacy_object(text, _skip_space(text), 0)
    if _skip_space(text, end) != len(text):
        raise ValueError("bytes after the end of the snapshot")
    return snapshot


def read_snapshot(path: Path) -> dict[str, Any]:
    """A snapshot file in either layout: rows a line (see `snapshot_chunks`), read a line
    at a time, or one JSON document on one line (written before; see LegacyRows)."""
    if path.is_symlink() or not path.is_file():
        raise OSError(f"{path} is not a regular file")
    with open(path, "rb") as f:
        first = f.readline().rstrip(b"\n")
        if not first.endswith(b"["):  # one document: an older snapshot
            text = (first + f.read()).decode()
            del first
            return read_legacy_snapshot(text)
        snapshot = json.loads(first + SNAPSHOT_END)
        rows = snapshot["event"]["trials"]  # [] until the rows below are added
        for line in f:
            line = line.rstrip(b"\n")
            if line == SNAPSHOT_END:
                break
            if rows:
                if not line.startswith(b","):
                    raise ValueError(f"row {len(rows)} does not follow a comma")
                line = line[1:]
            rows.append(json.loads(line))
        else:
            raise ValueError(f"the file ends after {len(rows)} rows, before the list closes")
        if f.read(1):
            raise ValueError("bytes after the end of the snapshot")
    if not isinstance(snapshot, dict):
        raise ValueError("not a snapshot")
    return snapshot
