"""What a chapter calls: resolve its profile, print settings and environment, record claims.

Usage in a chapter (after its ``parameters`` cell)::

    ch = start("a01_table1", profile=profile, seed=seed, m_values=m_values)
    cfg = ch.cfg                       # knobs of the profile, overridden by non-None params
    ...
    ch.claim("spectrum", "eigvalsh equals the closed forms", source="derived",
             value=err, op="<=", bound=1e-10)
    ch.finish()                        # last cell: table of claims; raises if one fails
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from ncutils.book.claims import SOURCES, Claim, evaluate, save_claims
from ncutils.book.envinfo import fingerprint
from ncutils.profiles import chapter_profile

CLAIMS_ENV = "NCUTILS_CLAIMS_PATH"  # set by the pipeline: where to save the claims
HEADLESS_ENV = "NCUTILS_HEADLESS"  # set by the pipeline: no interactive widgets

T = TypeVar("T")


class ClaimsFailed(AssertionError):
    """Raised by :meth:`Chapter.finish` when a claim fails where it is expected to hold."""


class Config(dict):
    """The resolved knobs; read as ``cfg["m_values"]`` or ``cfg.m_values``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(f"no knob {key!r} in this chapter's profile: {sorted(self)}") from exc


def _check_type(name: str, value: Any, default: Any) -> Any:
    """Accept ``value`` for knob ``name`` if its type matches the profile's ``default``."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        value = list(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise TypeError(
            f"parameter {name}={value!r} has type {type(value).__name__}, "
            f"expected {type(default).__name__} like the profile's {default!r}: pass e.g. -p {name}={default!r}"
        )
    return value


def resolve(chapter: str, profile: str, params: dict[str, Any]) -> Config:
    """Merge the profile's knobs with the non-``None`` parameters (type-checked)."""
    cfg = chapter_profile(chapter, profile)
    for name, value in params.items():
        if name not in cfg:
            raise ValueError(
                f"unknown parameter {name!r} for chapter {chapter}: known knobs are {sorted(cfg)}"
            )
        if value is not None:
            cfg[name] = _check_type(name, value, cfg[name])
    return Config(cfg)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if already imported) torch."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterator[T]:
    """A tqdm progress bar that stays quiet in headless runs (a few text lines at most)."""
    if os.environ.get(HEADLESS_ENV):
        from tqdm import tqdm

        return iter(tqdm(iterable, desc=desc, total=total, file=sys.stderr, ascii=True, mininterval=30))
    from tqdm.auto import tqdm as tqdm_auto

    return iter(tqdm_auto(iterable, desc=desc, total=total))


class Chapter:
    """A running chapter: its resolved settings and the claims it has stated."""

    def __init__(self, name: str, profile: str, seed: int, cfg: Config) -> None:
        self.name = name
        self.profile = profile
        self.seed = seed
        self.cfg = cfg
        self.claims: list[Claim] = []

    def claim(
        self,
        id: str,
        statement: str,
        *,
        source: str,
        value: float | None,
        op: str,
        bound: Any,
        not_expected: dict[str, str] | None = None,
        no_data: str | None = None,
        **extra: Any,
    ) -> Claim:
        """State a claim; it holds when ``value op bound`` (``op`` in <=, <, >=, >, ==, in).

        ``source`` is ``paper`` (the paper's statement), ``derived`` (our derivation),
        ``extension`` (beyond the paper) or ``official-code`` (behaviour of the official code).
        ``not_expected`` maps a profile to the reason the claim may fail there.
        ``value=None`` with ``no_data`` (why, e.g. "no run in this group") states a claim that had
        nothing to measure: it never holds; status ``no data`` where excused, else ``fails``.
        """
        if source not in SOURCES:
            raise ValueError(f"claim {id!r}: source {source!r} must be one of {SOURCES}")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim id {id!r} used twice in chapter {self.name}")
        if (value is None) != (no_data is not None):
            raise ValueError(f"claim {id!r}: pass no_data (why there is nothing to measure) exactly when value is None")
        reason = (not_expected or {}).get(self.profile)
        c = Claim(
            chapter=self.name,
            id=id,
            statement=statement,
            source=source,
            value=None if value is None else float(value),
            op=op,
            bound=tuple(float(b) for b in bound) if op == "in" else bound,
            holds=value is not None and evaluate(value, op, bound),
            profile=self.profile,
            not_expected=reason,
            extra={k: _plain(v) for k, v in extra.items()},
            no_data=no_data,
        )
        self.claims.append(c)
        measured = c.measured() if c.no_data else f"measured {c.measured()}"
        print(f"[{c.status.upper():>12}] {id}: {statement} | {measured}, needs {c.threshold()}")
        return c

    def summary(self):
        """The claims as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "claim": c.id,
                    "statement": c.statement,
                    "source": c.source,
                    "measured": c.measured(),
                    "threshold": c.threshold(),
                    "status": c.status + (f" ({c.not_expected})" if c.not_expected and not c.holds else ""),
                }
                for c in self.claims
            ]
        )

    def finish(self):
        """Save the claims (when run by the pipeline), show them, and fail on an unexpected failure."""
        if not self.claims:
            raise ClaimsFailed(f"chapter {self.name} stated no claim")
        path = os.environ.get(CLAIMS_ENV)
        if path:
            save_claims(self.claims, Path(path))
        failed = [c for c in self.claims if c.status == "fails"]
        if failed:
            lines = "; ".join(f"{c.id}: measured {c.measured()}, needs {c.threshold()}" for c in failed)
            raise ClaimsFailed(f"{len(failed)} claim(s) of {self.name} failed at profile {self.profile}: {lines}")
        return self.summary()


def _plain(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def start(name: str, profile: str, seed: int = 0, **params: Any) -> Chapter:
    """Begin chapter ``name``: resolve the profile, seed everything, print settings and environment."""
    cfg = resolve(name, profile, params)
    seed_everything(seed)
    print(f"Chapter {name} | profile {profile!r} | seed {seed}")
    width = max((len(k) for k in cfg), default=0)
    for k, v in cfg.items():
        print(f"  {k:<{width}} = {v!r}")
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in fingerprint().items()))
    return Chapter(name, profile, seed, cfg)
