"""Claims: a statement a chapter checks with a number it computed.

A claim holds when ``value <op> bound`` is true. The comparison is made here,
never passed in, so a chapter cannot state a verdict without a measurement. A claim
with nothing to measure (e.g. about a group of runs that is empty) has ``value`` None
and says why in ``no_data``: it never holds.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ncutils.core.jsonable import plain

SOURCES = ("paper", "derived", "extension", "official-code")
_OPS = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Claim:
    """One checked statement of a chapter (see the module docstring)."""

    chapter: str
    id: str
    statement: str
    source: str
    value: float | None
    op: str
    bound: Any
    holds: bool
    profile: str
    not_expected: str | None = None  # reason, when not expected to hold at this profile
    extra: dict[str, Any] = field(default_factory=dict)
    no_data: str | None = None  # why there was nothing to measure (value is None then)

    @property
    def status(self) -> str:
        """'holds', 'fails', 'not expected' (a failure the claim excused at this profile) or
        'no data' (nothing to measure, excused at this profile); never 'holds' without data."""
        if self.holds:
            return "holds"
        if self.not_expected:
            return "no data" if self.no_data else "not expected"
        return "fails"

    def measured(self) -> str:
        """The measured value as text, or ``no data: <why>``."""
        return f"no data: {self.no_data}" if self.no_data else f"{self.value:.4g}"

    def threshold(self) -> str:
        """The condition as text, e.g. ``<= 1e-10`` or ``in [0, 0.1]``."""
        if self.op == "in":
            lo, hi = self.bound
            return f"in [{lo:.4g}, {hi:.4g}]"
        return f"{self.op} {_fmt(self.bound)}"


def _fmt(x: Any) -> str:
    if isinstance(x, (bool, str)) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{float(x):.4g}"


def evaluate(value: float, op: str, bound: Any) -> bool:
    """Return whether ``value op bound`` holds; ``op='in'`` takes ``bound=(lo, hi)``.

    NaN never holds. Unknown operators raise ``ValueError``.
    """
    value = float(value)
    if math.isnan(value):
        return False
    if op == "in":
        lo, hi = bound
        return float(lo) <= value <= float(hi)
    if op not in _OPS:
        raise ValueError(f"unknown claim operator {op!r}: use one of {list(_OPS)} or 'in'")
    return bool(_OPS[op](value, float(bound)))


def save_claims(claims: list[Claim], path: Path) -> None:
    """Write claims as JSON (atomically) so the scoreboard can collect them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps([asdict(c) for c in claims], indent=1, default=plain))
    tmp.replace(path)


def load_claims(path: Path) -> list[Claim]:
    """Read the claims a chapter saved."""
    rows = json.loads(Path(path).read_text())
    return [Claim(**{**r, "bound": tuple(r["bound"]) if r["op"] == "in" else r["bound"]}) for r in rows]


def measured(value: Callable[..., float], *groups: Sized, need: int = 1, empty: str = "no run in this group"
             ) -> dict[str, Any]:
    """The ``value`` (and ``no_data``) arguments of a claim about groups of runs: ``value(*groups)``, or no
    data (never a pass) with the reason ``empty`` when a group has fewer than ``need`` runs."""
    if all(len(g) >= need for g in groups):
        return {"value": value(*groups)}
    return {"value": None, "no_data": empty}
