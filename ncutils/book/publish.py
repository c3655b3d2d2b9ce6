"""Publishing the built book: a self-contained folder that loads nothing from another host."""

from __future__ import annotations

import re
from pathlib import Path

# what a page or stylesheet would fetch from elsewhere when viewed: scripts, styles, fonts, images, frames
_HTML_LOADS = re.compile(r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"']((?:https?:)?//[^\"']+)"
                         r"|<link\b[^>]*\bhref=[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE)
_CSS_LOADS = re.compile(r"url\(\s*[\"']?((?:https?:)?//[^\"')]+)|@import\s+[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE)


def external_loads(html_dir: Path) -> list[str]:
    """``file: URL`` for every resource that a page or stylesheet under ``html_dir`` loads from another host
    (links a reader may follow do not count)."""
    found = []
    for path in sorted(html_dir.rglob("*")):
        pattern = _HTML_LOADS if path.suffix == ".html" else _CSS_LOADS if path.suffix == ".css" else None
        if pattern is None:
            continue
        for match in pattern.finditer(path.read_text(errors="replace")):
            found.append(f"{path.relative_to(html_dir)}: {next(g for g in match.groups() if g)}")
    return found
