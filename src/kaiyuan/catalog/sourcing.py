"""The sourcing rule, checked on the raw data: every number and date names its source.

A number (or date) is sourced when the table that holds it has a `src` key: either a
`{ value = …, src = … }` wrapper or a row or section with its own `src`. The `sources`
table itself is exempt; it is where the sources are defined.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

_FACT_TYPES = (int, float, dt.date)


def unsourced_numbers(data: dict[str, Any]) -> list[str]:
    """Dotted paths of every number or date in `data` that has no `src` beside it."""
    return list(_walk(data, path="", has_src=False))


def _walk(node: Any, path: str, has_src: bool) -> Iterator[str]:
    if isinstance(node, dict):
        sourced = "src" in node
        for key, item in node.items():
            if path == "" and key == "sources":
                continue
            yield from _walk(item, f"{path}.{key}" if path else key, sourced)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]", has_src)
    elif isinstance(node, _FACT_TYPES) and not isinstance(node, bool) and not has_src:
        yield path
