"""The generated page "Reproduction at a glance": one row per chapter, then every claim."""

from __future__ import annotations

from pathlib import Path

from ncutils.book.claims import Claim

_PAPERS = {"a": "Paper A: Neural (Tangent Kernel) Collapse", "b": "Paper B: Kernel methods and NC1",
           "e": "Extensions: paper A's open questions", "z": "Appendix"}
STATUSES = ("holds", "fails", "not expected", "no data")
_SHOWN = {"holds": "holds", "fails": "**FAILS**", "not expected": "*not expected here*", "no data": "*no data here*"}


def label(chapter: str) -> str:
    """The scoreboard's label of a chapter's claims (``{ref}`` target; chapters link back to it)."""
    return f"scoreboard-{chapter}"


def _text(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _counts(claims: list[Claim]) -> dict[str, int]:
    return {s: sum(c.status == s for c in claims) for s in STATUSES}


def render_scoreboard(profile: str, claims: dict[str, list[Claim]], titles: dict[str, str] | None = None) -> str:
    """Markdown of the scoreboard: totals, a row per chapter, then each chapter's claims."""
    titles = titles or {}
    every = [c for cs in claims.values() for c in cs]
    total = _counts(every)
    lines = [
        "(scoreboard)=",
        "# Reproduction at a glance",
        "",
        f"Every claim that a chapter states and checks, as measured when this book was built with profile "
        f"**`{profile}`**. A claim *holds* when its measured value meets its threshold. *Not expected here*: the "
        f"claim failed at this profile and said beforehand that it may, with its reason (the scale of the "
        f"profile, or a finding the chapter reports). *No data*: there was nothing to measure (e.g. no run in "
        f"the group it is about); it never counts as holding. Any other failure, or missing data, fails the "
        f"build. The source says whose statement it is: `paper`, `derived` (our derivation), `extension` "
        f"(beyond the paper) or `official-code` (behaviour of the official code).",
        "",
        f"**{len(every)} claims in {len(claims)} chapters: {total['holds']} hold, {total['fails']} fail, "
        f"{total['not expected']} not expected and {total['no data']} without data at this profile.**",
        "",
        "| chapter | claims | hold | fail | not expected | no data |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, cs in claims.items():
        n = _counts(cs)
        lines.append(f"| {{ref}}`{label(name)}` | {len(cs)} | {n['holds']} | "  # the link shows the section's title
                     f"{n['fails']} | {n['not expected']} | {n['no data']} |")
    lines.append("")
    for prefix, title in _PAPERS.items():
        chapters = {n: cs for n, cs in claims.items() if n.startswith(prefix)}
        if not chapters:
            continue
        lines += [f"## {title}", ""]
        for name, cs in chapters.items():
            lines += [f"({label(name)})=", f"### {_text(titles.get(name, name))}", "",
                      f"Chapter: {{doc}}`{name}`", ""]
            for c in cs:
                reason = f" ({_text(c.not_expected)})" if c.not_expected and not c.holds else ""
                lines.append(f"- **`{c.id}`** · {c.source} · {_SHOWN[c.status]}{reason} — {_text(c.statement)}: "
                             f"measured {_text(c.measured())}, needs {_text(c.threshold())}")
            lines.append("")
    return "\n".join(lines)


def write_scoreboard(profile: str, claims: dict[str, list[Claim]], path: Path,
                     titles: dict[str, str] | None = None) -> Path:
    """Write the scoreboard page of the ``claims`` of each chapter at ``profile`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_scoreboard(profile, claims, titles))
    return path
