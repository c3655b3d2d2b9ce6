"""The generated page "Reproduction at a glance": every claim of every chapter."""

from __future__ import annotations

from pathlib import Path

from ncutils.book.claims import Claim

_PAPERS = {"a": "Paper A: Neural (Tangent Kernel) Collapse", "b": "Paper B: Kernel methods and NC1",
           "z": "Appendix"}
_ICON = {"holds": "holds", "fails": "**FAILS**", "not expected": "*not expected here*", "no data": "*no data here*"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_scoreboard(profile: str, claims: dict[str, list[Claim]]) -> str:
    """Markdown of the scoreboard, grouped by paper and chapter."""
    every = [c for cs in claims.values() for c in cs]
    counts = {s: sum(c.status == s for c in every) for s in _ICON}
    lines = [
        "(scoreboard)=",
        "# Reproduction at a glance",
        "",
        f"Every claim that a chapter states and checks, as measured when this book was built "
        f"with profile **`{profile}`**. *Source* says whose statement it is: `paper` (the paper's "
        f"claim), `derived` (our derivation), `extension` (beyond the paper) or `official-code` "
        f"(behaviour of the official code). A claim *holds* when the measured value meets its "
        f"threshold; a claim marked *not expected here* declares that it cannot hold at this "
        f"profile and why (e.g. too few epochs at `smoke`); any other failure fails the build. "
        f"A claim with *no data* had nothing to measure (e.g. no run in the group it is about): "
        f"it never counts as holding, and fails the build unless it is excused at this profile.",
        "",
        f"**{len(every)} claims in {len(claims)} chapters: {counts['holds']} hold, "
        f"{counts['fails']} fail, {counts['not expected']} not expected and {counts['no data']} without data "
        f"at this profile.**",
        "",
    ]
    for prefix, title in _PAPERS.items():
        chapters = {n: cs for n, cs in claims.items() if n.startswith(prefix)}
        if not chapters:
            continue
        lines += [f"## {title}", ""]
        for name, cs in chapters.items():
            lines += [f"### `{name}`", "", "| claim | statement | source | measured | threshold | status |",
                      "|---|---|---|---|---|---|"]
            for c in cs:
                status = _ICON[c.status] + (f" ({_cell(c.not_expected)})" if c.not_expected and not c.holds else "")
                lines.append(f"| `{c.id}` | {_cell(c.statement)} | {c.source} | {_cell(c.measured())} | "
                             f"{_cell(c.threshold())} | {status} |")
            lines.append("")
    return "\n".join(lines)


def write_scoreboard(profile: str, claims: dict[str, list[Claim]], path: Path) -> Path:
    """Write the scoreboard page of the ``claims`` of each chapter at ``profile`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_scoreboard(profile, claims))
    return path
