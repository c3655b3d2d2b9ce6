"""JSON for results holding numpy or torch scalars and arrays."""

from __future__ import annotations

from typing import Any


def plain(obj: Any) -> Any:
    """``json.dumps(default=plain)``: arrays to lists, scalars to Python numbers; anything else is an error."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON: return numbers, lists or dicts")
