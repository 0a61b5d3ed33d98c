"""One paging loop for every connector; the service-specific part fetches one page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Row = TypeVar("Row")
Cursor = TypeVar("Cursor")


def paginate(
    fetch_page: Callable[[Cursor | None], tuple[Iterable[Row], Cursor | None]],
    start: Cursor | None = None,
) -> Iterator[Row]:
    """Rows of every page, fetched lazily: ``fetch_page(cursor)`` returns ``(rows, next_cursor)``.

    The first call gets ``start`` (None: the first page); paging stops when the next cursor is
    None or empty. One page is in memory at a time.
    """
    cursor = start
    while True:
        rows, cursor = fetch_page(cursor)
        yield from rows
        if cursor is None or cursor == "":
            return
