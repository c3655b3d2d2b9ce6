"""The generated page "About this build": which code, environment and runs produced the book."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from ncutils.core.paths import REPO_DIR


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def source_state() -> dict[str, str]:
    """The git commit of the sources and whether tracked files differ from it."""
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown (not a git checkout)",
            "modified": "unknown" if dirty is None else ("yes: tracked files differ from the commit" if dirty else "no")}


def machine() -> dict[str, str]:
    """The processor, its cores and any NVIDIA GPU of the machine that built the book."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    gpu = "none found"
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
        gpu = listed.replace("\n", "; ") or gpu
    return {"processor": cpu, "cores": str(len(os.sched_getaffinity(0))), "GPU": gpu,
            "system": f"{platform.system()} {platform.release()}", "Python": platform.python_version()}


def pins() -> list[str]:
    """The pinned dependencies of ``pyproject.toml``."""
    return tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]["dependencies"]


def render_about(profile: str, runs: list[dict[str, Any]], totals: dict[str, int]) -> str:
    """Markdown of the page; ``runs`` has each chapter's name, title, execution seconds and time, ``totals``
    the scoreboard's counts."""
    executed = max((r["executed_at"] for r in runs if r.get("executed_at")), default="unknown")
    lines = ["(about)=", "# About this build", "",
             f"This book was built with profile **`{profile}`**; its last chapter was executed on {executed} (UTC).",
             "", "## Sources", ""]
    lines += [f"- {k}: `{v}`" if k == "commit" else f"- {k}: {v}" for k, v in source_state().items()]
    lines += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in machine().items()]
    lines += ["", "## Chapters", "", "| chapter | executed (UTC) | seconds |", "|---|---|---:|"]
    lines += [f"| {{doc}}`{r['name']}` | {r.get('executed_at', 'unknown')} | {r['seconds']:.1f} |" for r in runs]
    lines += [f"| total | | {sum(r['seconds'] for r in runs):.1f} |", "",
              f"Claims ({{ref}}`scoreboard`): {sum(totals.values())} in all, {totals['holds']} hold, {totals['fails']} "
              f"fail, {totals['not expected']} not expected, {totals['no data']} without data.", "",
              "## Pinned dependencies", "", "```text", *pins(), "```", ""]
    return "\n".join(lines)
