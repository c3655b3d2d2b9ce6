"""Content hashes: the code version of ``ncutils`` and stable keys of configurations.

Caches (executed chapters, the result store) are keyed by these, so a change of the
library's sources or of a configuration never serves a stale result.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def hash_files(paths: Iterable[Path], root: Path = REPO_DIR) -> str:
    """SHA-256 over the relative names and bytes of ``paths`` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(Path(p).resolve() for p in paths):
        h.update(str(p.relative_to(root) if p.is_relative_to(root) else p).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


# Sources that do not change what a run computes: the profile table only chooses configurations
# (which are part of every result's key) and the book pipeline only renders.
_NOT_COMPUTATION = (PACKAGE_DIR / "profiles.py", PACKAGE_DIR / "book")


@lru_cache(maxsize=1)
def code_version() -> str:
    """Short hash of the ``ncutils`` sources that compute results (all but the profile table and the
    book pipeline): it changes whenever the library's computations may change."""
    return hash_files(p for p in PACKAGE_DIR.rglob("*.py")
                      if not any(p == q or q in p.parents for q in _NOT_COMPUTATION))[:16]


def config_hash(config: dict[str, Any]) -> str:
    """Short, order-independent hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
