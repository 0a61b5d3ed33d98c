"""Fast, deterministic CSV writing for the sample generator (vectorised with pyarrow compute).

Every column is handed over as a pyarrow string array (NULL = empty field). Rows are joined with
``pyarrow.compute`` and the resulting buffer is written in one call, so a day of millions of
events never becomes Python objects. Values must not contain commas, quotes or newlines unless
they are already CSV-quoted (the JSON ``properties`` of events are).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = date(1970, 1, 1)
DAY = 86_400

_TIMES = pa.array(
    [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)
_BOOLS = pa.array(["false", "true"])
_NULL = pa.scalar(None, pa.string())


_TABLE_FIRST = (date(2000, 1, 1) - EPOCH).days
_TABLE_DAYS = 60 * 366


@cache
def _date_table() -> pa.Array:
    """``YYYY-MM-DDT`` for every day of 2000-2059 (built once)."""
    return pa.array(
        [(EPOCH + timedelta(days=_TABLE_FIRST + d)).isoformat() + "T" for d in range(_TABLE_DAYS)]
    )


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the integer day the generator counts in)."""
    return (d - EPOCH).days


def strings(values: np.ndarray | list, mask: np.ndarray | None = None) -> pa.Array:
    """A pyarrow string array from numbers or strings; ``mask`` True = NULL."""
    arr = pa.array(values)
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if mask is not None and mask.any():
        arr = pc.if_else(pa.array(mask), _NULL, arr)
    return arr


def ids(prefix: str, numbers: np.ndarray, width: int = 0) -> pa.Array:
    """``prefix`` + zero-padded number, e.g. ``co_000042``."""
    text = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    if width:
        text = pc.utf8_lpad(text, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def iso(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """ISO-8601 UTC strings (``2026-06-01T13:45:10Z``) from epoch seconds; ``mask`` True = NULL."""
    secs = np.asarray(seconds, dtype=np.int64)
    if len(secs) == 0:
        return pa.array([], pa.string())
    days = secs // DAY
    valid = days if mask is None else days[~mask]
    lo, hi = _TABLE_FIRST, _TABLE_FIRST + _TABLE_DAYS - 1
    if len(valid) and (valid.min() < lo or valid.max() > hi):
        lo, hi = int(valid.min()), int(valid.max())
        table = pa.array([(EPOCH + timedelta(days=d)).isoformat() + "T" for d in range(lo, hi + 1)])
    else:
        table = _date_table()
    day_idx = np.clip(days - lo, 0, hi - lo)
    out = pc.binary_join_element_wise(
        table.take(pa.array(day_idx)), _TIMES.take(pa.array(secs % DAY)), ""
    )
    if mask is not None and mask.any():
        out = pc.if_else(pa.array(mask), _NULL, out)
    return out


def booleans(values: np.ndarray) -> pa.Array:
    """``true`` / ``false`` strings."""
    return _BOOLS.take(pa.array(np.asarray(values, dtype=np.int8)))


def money(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Major units with two decimals (``1250.00``, ``-12.50``) from integer cents."""
    c = np.asarray(cents, dtype=np.int64)
    whole = pc.cast(pa.array(np.abs(c) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(c) % 100), pa.string()), width=2, padding="0")
    sign = pa.array(np.where(c < 0, "-", ""))
    out = pc.binary_join_element_wise(pc.binary_join_element_wise(sign, whole, ""), frac, ".")
    if mask is not None and mask.any():
        out = pc.if_else(pa.array(mask), _NULL, out)
    return out


class CsvFile:
    """A CSV file written in batches: header first, then rows; counts the data rows written."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = columns
        self.rows = 0
        self._fh = path.open("wb")
        self._fh.write((",".join(columns) + "\n").encode())

    def write(self, cols: dict[str, pa.Array]) -> None:
        """Append rows; ``cols`` maps every column name to an equally long string array."""
        arrays = [cols[c] for c in self.columns]
        n = len(arrays[0])
        if n == 0:
            return
        line = pc.binary_join_element_wise(
            *arrays, ",", null_handling="replace", null_replacement=""
        )
        body = pc.binary_join_element_wise(line, "\n", "")
        if isinstance(body, pa.ChunkedArray):
            body = body.combine_chunks()
        offsets = np.frombuffer(body.buffers()[1], dtype=np.int32)
        start, end = int(offsets[body.offset]), int(offsets[body.offset + n])
        self._fh.write(memoryview(body.buffers()[2])[start:end])
        self.rows += n

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
