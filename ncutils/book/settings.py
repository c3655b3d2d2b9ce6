"""A chapter's settings: its knobs at a profile (:mod:`ncutils.book.profiles`), with overrides."""

from __future__ import annotations

from typing import Any

from ncutils.book.profiles import DEFAULT_PROFILE, PROFILE_NAMES, PROFILES

__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "Config", "chapter_profile", "resolve"]


class Config(dict):
    """The resolved knobs; read as ``cfg["m_values"]`` or ``cfg.m_values``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(f"no knob {key!r} in this chapter's profile: {sorted(self)}") from exc


def chapter_profile(chapter: str, profile: str) -> dict[str, Any]:
    """A copy of the knobs of ``chapter`` at ``profile`` (ValueError naming the known ones if either is unknown)."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(PROFILE_NAMES)}")
    if chapter not in PROFILES:
        raise ValueError(f"no profile table for chapter {chapter!r}: add a section to ncutils/book/profiles.py "
                         f"(known: {', '.join(sorted(PROFILES))})")
    return dict(PROFILES[chapter][profile])


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


def resolve(chapter: str, profile: str, params: dict[str, Any] | None = None) -> Config:
    """Merge the profile's knobs with the non-``None`` parameters (type-checked)."""
    cfg = chapter_profile(chapter, profile)
    for name, value in (params or {}).items():
        if name not in cfg:
            raise ValueError(f"unknown parameter {name!r} for chapter {chapter}: known knobs are {sorted(cfg)}")
        if value is not None:
            cfg[name] = _check_type(name, value, cfg[name])
    return Config(cfg)
