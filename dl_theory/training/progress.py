"""Progress bars for long loops (tqdm on stderr; ``DL_THEORY_PROGRESS=0`` turns them off)."""

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def enabled() -> bool:
    return os.environ.get("DL_THEORY_PROGRESS", "1") not in ("0", "false", "no")


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterates ``iterable`` under a progress bar labelled ``desc``."""
    return iter(tqdm(iterable, desc=desc, total=total, leave=False, disable=not enabled(), dynamic_ncols=True))


def bar(total: int, desc: str) -> tqdm:
    """A manually advanced progress bar (``bar.update(n)``; use as a context manager)."""
    return tqdm(total=total, desc=desc, leave=False, disable=not enabled(), dynamic_ncols=True)
