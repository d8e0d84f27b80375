"""Reading whisper files (carbon's storage format) without the whisper package.

The format: a header ``!2LfL`` (aggregation type, max retention, x-files factor, archive
count), then one ``!3L`` record per archive (offset, seconds per point, points), then
each archive's points as ``!Ld`` (timestamp, value); unused slots have timestamp 0.
"""

from __future__ import annotations

import struct
from pathlib import Path

_HEADER = struct.Struct("!2LfL")
_ARCHIVE = struct.Struct("!3L")
_POINT = struct.Struct("!Ld")


def read_whisper(path: Path) -> list[tuple[int, float]]:
    """The points of the finest archive of ``path``, sorted by timestamp."""
    data = path.read_bytes()
    if len(data) < _HEADER.size + _ARCHIVE.size:
        return []
    _aggregation, _retention, _xff, archive_count = _HEADER.unpack_from(data, 0)
    if archive_count < 1:
        return []
    offset, _seconds_per_point, points = _ARCHIVE.unpack_from(data, _HEADER.size)
    found: dict[int, float] = {}
    for index in range(points):
        position = offset + index * _POINT.size
        if position + _POINT.size > len(data):
            break
        timestamp, value = _POINT.unpack_from(data, position)
        if timestamp:
            found[timestamp] = value
    return sorted(found.items())
