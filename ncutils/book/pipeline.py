"""The build pipeline: jupytext -> papermill (per profile) -> scoreboard -> Jupyter Book.

Executed notebooks land in ``book/_executed/<profile>/`` with their claims and a
metadata file holding the key they were executed for: the chapter's source, the code of
the ``ncutils`` modules it imports (their import closure, its experiment's included; the
profile table counts through the chapter's resolved settings instead), the profile, seed
and settings, and the dependency pins; and the hashes of the data files it read. A chapter
is not re-executed while these are unchanged; its outputs are deleted before it is executed
again, so a stale notebook is never rendered. The HTML is not rebuilt while its inputs (the
executed notebooks, the front matter and the configuration) are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from ncutils.book.chapter import CLAIMS_ENV, HEADLESS_ENV, PROGRESS_ENV, TRACE_ENV
from ncutils.book.claims import Claim, load_claims
from ncutils.book.experiments import EXPERIMENTS, experiment_module
from ncutils.book.settings import PROFILE_NAMES, resolve
from ncutils.core.paths import REPO_DIR
from ncutils.core.versioning import code_version, hash_files, imports_of

HEARTBEAT_S = 30.0  # the longest silence of a running chapter
SETTINGS_MODULES = ("ncutils.book.profiles",)  # count through the resolved settings, not their code
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book/*.md", "book/*.bib")  # what the HTML is built from, beside notebooks
CHAPTERS_DIR = REPO_DIR / "chapters"
EXECUTED_DIR = REPO_DIR / "book" / "_executed"
BUILD_DIR = REPO_DIR / "_build"
TOC_FILE = REPO_DIR / "_toc.yml"
CONFIG_FILE = REPO_DIR / "_config.yml"
GENERATED_PAGES = ("book/scoreboard", "book/about")  # written into the executed folder at every build
REPOSITORY_ENV, REPOSITORY_BRANCH_ENV = "NCUTILS_REPOSITORY_URL", "NCUTILS_REPOSITORY_BRANCH"
# Binder and Colab open a chapter's executed notebook from the repository (see README, "Publishing")
LAUNCH_BUTTONS = {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
                  "colab_url": "https://colab.research.google.com"}
PIN_FILES = (REPO_DIR / "pyproject.toml", REPO_DIR / "environment.yml")


def say(message: str) -> None:
    """Progress lines, flushed at once (the build is often logged to a file)."""
    print(message, flush=True)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class _Heartbeat(threading.Thread):
    """While a chapter runs: a line every ``every`` seconds with its elapsed time and the last progress
    it reported (e.g. a grid's runs done, from the store, and the time left)."""

    def __init__(self, name: str, profile: str, progress_file: Path, log, every: float = HEARTBEAT_S) -> None:
        super().__init__(daemon=True)
        self.name_, self.profile, self.progress_file, self.log, self.every = name, profile, progress_file, log, every
        self.t0, self.stopped = time.perf_counter(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            line = self.progress_file.read_text().strip() if self.progress_file.exists() else ""
            self.log(f"[running]  {self.name_} ({self.profile}) {_clock(time.perf_counter() - self.t0)} elapsed"
                     + (f" | {line}" if line else ""))

    def __enter__(self) -> _Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()
        self.progress_file.unlink(missing_ok=True)


class IPCKernelManager(AsyncKernelManager):
    """The chapters' kernels talk to the pipeline over local IPC sockets: no TCP port is opened, so the
    kernel has no unencrypted network transport to warn about."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def show_parameters_once(nb: Any, values: dict[str, Any]) -> None:
    """Merge papermill's injected cell into the chapter's ``parameters`` cell: each of its assignments shows
    the value the chapter ran with (its comment kept), and the injected cell is removed."""
    cells = nb.cells
    injected = [c for c in cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            lines = []
            for line in cell.source.splitlines():
                match = re.match(r"^(\w+) = .*?(\s+#.*)?$", line)
                if match and match.group(1) in values:
                    line = f"{match.group(1)} = {_literal(values[match.group(1)])}{match.group(2) or ''}"
                lines.append(line)
            cell.source = "\n".join(lines)
    nb.cells = [c for c in cells if not any(c is i for i in injected)]


class PipelineError(RuntimeError):
    """A problem the user must fix; its message names the problem and the fix."""


class ChapterFailed(PipelineError):
    """A chapter raised while executing (its failing cell is named in the message)."""


@dataclass
class ChapterRun:
    """Outcome of one chapter in a build."""

    name: str
    status: str  # "executed" | "cached"
    seconds: float
    n_claims: int
    n_failed: int


# ----------------------------------------------------------------- chapters and toc
def _toc() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(TOC_FILE.read_text())


def _toc_files(toc: dict[str, Any]) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def list_chapters() -> list[str]:
    """Names of the chapters in ``_toc.yml`` order."""
    return [f.split("/", 1)[1] for f in _toc_files(_toc()) if f.startswith("chapters/")]


def chapter_path(name: str) -> Path:
    """The jupytext source of chapter ``name`` (error naming the known chapters if absent)."""
    known = list_chapters()
    if name not in known:
        raise PipelineError(f"unknown chapter {name!r}: known chapters are {', '.join(known)}")
    path = CHAPTERS_DIR / f"{name}.py"
    if not path.exists():
        raise PipelineError(f"chapter {name!r} is listed in _toc.yml but {path} does not exist")
    return path


def check_profile(profile: str) -> None:
    """Raise a one-line error for an unknown profile."""
    if profile not in PROFILE_NAMES:
        raise PipelineError(f"unknown profile {profile!r}: use one of {', '.join(PROFILE_NAMES)}")


def check_dependencies() -> None:
    """Fail with the install command when a pipeline dependency is missing."""
    import importlib.util

    for module, dist in [("jupytext", "jupytext"), ("papermill", "papermill"),
                         ("jupyter_book", "jupyter-book"), ("ipykernel", "ipykernel")]:
        if importlib.util.find_spec(module) is None:
            raise PipelineError(
                f"missing dependency {dist}: run 'make book' (creates .venv) or 'pip install -e .'"
            )


# ----------------------------------------------------------------- execution cache
def executed_dir(profile: str) -> Path:
    return EXECUTED_DIR / profile


def outputs(name: str, profile: str) -> dict[str, Path]:
    """The files a chapter's execution at ``profile`` leaves: notebook, claims, trace and metadata."""
    d = executed_dir(profile)
    return {
        "notebook": d / f"{name}.ipynb",
        "claims": d / f"{name}.claims.json",
        "trace": d / f"{name}.trace.json",
        "meta": d / f"{name}.meta.json",
    }


def chapter_modules(name: str) -> set[str]:
    """The ``ncutils`` modules chapter ``name`` imports, and its experiment's module (it runs it by name)."""
    modules = set(imports_of(chapter_path(name)))
    if name in EXPERIMENTS:
        modules.add(experiment_module(name))
    return modules


def content_hash(name: str, profile: str, seed: int, params: dict[str, Any]) -> str:
    """Hash of everything a chapter's output depends on, but the data files it reads (see :func:`is_cached`)."""
    h = hashlib.sha256()
    h.update(chapter_path(name).read_bytes())
    h.update(code_version(chapter_modules(name), exclude=SETTINGS_MODULES).encode())
    settings = {"profile": profile, "seed": seed, "settings": resolve(name, profile, params)}
    h.update(json.dumps(settings, sort_keys=True).encode())
    for pin in PIN_FILES:
        if pin.exists():
            h.update(pin.read_bytes())
    return h.hexdigest()[:20]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_cached(name: str, profile: str, key: str) -> bool:
    """Whether the chapter's outputs were made for ``key`` from data files that are unchanged since."""
    out = outputs(name, profile)
    if not all(p.exists() for p in out.values()):
        return False
    meta = json.loads(out["meta"].read_text())
    if meta.get("hash") != key:
        return False
    return all((REPO_DIR / f).is_file() and _file_hash(REPO_DIR / f) == h for f, h in meta.get("data_files", {}).items())


# ----------------------------------------------------------------- running one chapter
def _load_notebook(name: str):
    import jupytext

    nb = jupytext.read(chapter_path(name))
    if not any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        raise PipelineError(
            f"chapter {name!r} has no parameters cell: tag one code cell with "
            f'`# %% tags=["parameters"]` (profile, seed and the knobs)'
        )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _failure_message(name: str, exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = str(getattr(exc, "evalue", exc)).strip().splitlines()
    cell = getattr(exc, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"chapter {name} failed in {where}: {ename}: {evalue[-1] if evalue else ''}"


def run_chapter(
    name: str,
    profile: str,
    *,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    force: bool = False,
    log=say,
) -> ChapterRun:
    """Execute chapter ``name`` at ``profile`` with papermill (unless cached) and check its claims."""
    import nbformat
    import papermill

    check_profile(profile)
    chapter_path(name)
    params = dict(params or {})
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise PipelineError(f"seed must be an integer, got {seed!r}")
    try:
        resolve(name, profile, params)  # type-check the parameters before starting a kernel
    except (TypeError, ValueError) as exc:
        raise PipelineError(str(exc)) from exc
    nb = _load_notebook(name)
    key = content_hash(name, profile, seed, params)
    out = outputs(name, profile)
    if not force and is_cached(name, profile, key):
        claims = load_claims(out["claims"])
        log(f"[cached]   {name} ({profile})")
        return ChapterRun(name, "cached", 0.0, len(claims), sum(c.status == "fails" for c in claims))

    for p in out.values():
        p.unlink(missing_ok=True)
    out["notebook"].parent.mkdir(parents=True, exist_ok=True)
    src = out["notebook"].with_suffix(".src.ipynb")
    tmp = out["notebook"].with_suffix(".running.ipynb")
    failed_nb = out["notebook"].with_suffix(".failed.ipynb")
    failed_nb.unlink(missing_ok=True)
    nbformat.write(nb, src)

    progress_file = out["notebook"].with_suffix(".progress")
    env_before = {k: os.environ.get(k) for k in (CLAIMS_ENV, TRACE_ENV, PROGRESS_ENV, HEADLESS_ENV, "MPLBACKEND")}
    os.environ[CLAIMS_ENV] = str(out["claims"])
    os.environ[TRACE_ENV] = str(out["trace"])
    os.environ[PROGRESS_ENV] = str(progress_file)
    os.environ[HEADLESS_ENV] = "1"
    os.environ.pop("MPLBACKEND", None)  # the kernel must use the inline backend
    log(f"[start]    {name} ({profile})")
    t0 = time.perf_counter()
    try:
        with _Heartbeat(name, profile, progress_file, log):
            papermill.execute_notebook(
                str(src), str(tmp), parameters={"profile": profile, "seed": seed, **params},
                kernel_name="python3", cwd=str(REPO_DIR), progress_bar=False, log_output=False,
                kernel_manager_class=IPCKernelManager,
            )
    except Exception as exc:  # papermill re-raises the cell's error as PapermillExecutionError
        if tmp.exists():
            tmp.replace(failed_nb)
        raise ChapterFailed(_failure_message(name, exc) + f" (executed notebook: {failed_nb})") from exc
    finally:
        src.unlink(missing_ok=True)
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    if not (out["claims"].exists() and out["trace"].exists()):
        tmp.replace(failed_nb)
        raise ChapterFailed(f"chapter {name} saved no claims: end it with a cell calling ch.finish()")
    executed = nbformat.read(tmp, as_version=4)
    show_parameters_once(executed, {"profile": profile, "seed": seed, **resolve(name, profile, params)})
    nbformat.write(executed, tmp)
    tmp.replace(out["notebook"])
    claims = load_claims(out["claims"])
    data_files = json.loads(out["trace"].read_text())["data_files"]
    out["meta"].write_text(json.dumps({"hash": key, "seconds": seconds, "profile": profile, "seed": seed,
                                       "executed_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                                       "params": params, "data_files": {f: _file_hash(REPO_DIR / f) for f in data_files}},
                                      indent=1))
    log(f"[done]     {name} ({profile}) in {seconds:.1f} s, {len(claims)} claims")
    return ChapterRun(name, "executed", seconds, len(claims), sum(c.status == "fails" for c in claims))


# ----------------------------------------------------------------- the book
def _generated_toc(profile: str) -> dict[str, Any]:
    """``_toc.yml`` with chapters mapped to their executed notebooks and the scoreboard page."""
    toc = _toc()
    rel = executed_dir(profile).relative_to(REPO_DIR).as_posix()

    def remap(f: str) -> str:
        if f.startswith("chapters/"):
            return f"{rel}/{f.split('/', 1)[1]}"
        if f in GENERATED_PAGES:
            return f"{rel}/{f.split('/', 1)[1]}"
        return f

    toc["root"] = remap(toc["root"])
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            entry["file"] = remap(entry["file"])
    return toc


def html_dir(profile: str) -> Path:
    """Where the HTML of a profile's build lands: ``_build/html`` for the default profile."""
    return BUILD_DIR / "html" if profile == "cpu" else BUILD_DIR / profile / "html"


def collect_claims(profile: str) -> dict[str, list[Claim]]:
    """Claims saved by the chapters executed at ``profile``, by chapter, in toc order."""
    found = {}
    for name in list_chapters():
        path = outputs(name, profile)["claims"]
        if path.exists():
            found[name] = load_claims(path)
    return found


def _html_inputs_hash(profile: str, toc_text: str, config_text: str) -> str:
    files = [p for pattern in BOOK_SOURCES for p in REPO_DIR.glob(pattern)]
    files += sorted(executed_dir(profile).glob("*.ipynb")) + sorted(executed_dir(profile).glob("*.md")) + list(PIN_FILES)
    text = hash_files(f for f in files if f.exists()) + toc_text + config_text
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def repository() -> tuple[str, str] | None:
    """The (https URL, branch) of the book's repository, for the repository and launch buttons:
    ``NCUTILS_REPOSITORY_URL`` (and ``NCUTILS_REPOSITORY_BRANCH``, default ``main``) if set, else the
    ``origin`` remote of the checkout when it is a web repository; None when there is none."""
    url = os.environ.get(REPOSITORY_ENV) or ""
    if not url:
        proc = subprocess.run(["git", "-C", str(REPO_DIR), "remote", "get-url", "origin"], capture_output=True, text=True)
        url = proc.stdout.strip() if proc.returncode == 0 else ""
        if match := re.fullmatch(r"git@([^:]+):(.+)", url):  # git@host:owner/name.git
            url = f"https://{match.group(1)}/{match.group(2)}"
    if not re.fullmatch(r"https?://[^/\s]+/\S+", url):
        return None
    return url.removesuffix(".git").rstrip("/"), os.environ.get(REPOSITORY_BRANCH_ENV) or "main"


def book_config() -> dict[str, Any]:
    """``_config.yml`` with the repository of :func:`repository`: its buttons (repository, Binder, Colab)
    when there is one, none of them when there is not (a button to nowhere is worse than none)."""
    import yaml

    config = yaml.safe_load(CONFIG_FILE.read_text())
    html = config.setdefault("html", {})
    found = repository()
    if found is None:
        config.pop("repository", None)
        config.pop("launch_buttons", None)
        html.update(use_repository_button=False, use_issues_button=False, use_edit_page_button=False)
    else:
        url, branch = found
        config["repository"] = {"url": url, "path_to_book": ".", "branch": branch}
        config.setdefault("launch_buttons", LAUNCH_BUTTONS)
        html.update(use_repository_button=True)
    return config


def chapter_title(name: str, profile: str) -> str:
    """The first heading of an executed chapter (its name if it has none)."""
    import nbformat

    nb = nbformat.read(outputs(name, profile)["notebook"], as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return name


def write_generated_pages(profile: str) -> None:
    """The scoreboard and "About this build" of the chapters executed at ``profile``."""
    from ncutils.book.about import render_about
    from ncutils.book.scoreboard import STATUSES, write_scoreboard

    claims = collect_claims(profile)
    write_scoreboard(profile, claims, executed_dir(profile) / "scoreboard.md",
                     {n: chapter_title(n, profile) for n in claims})
    runs = [{"name": n, **json.loads(outputs(n, profile)["meta"].read_text())} for n in list_chapters()]
    totals = {s: sum(c.status == s for cs in claims.values() for c in cs) for s in STATUSES}
    (executed_dir(profile) / "about.md").write_text(render_about(profile, runs, totals))


def build_html(profile: str, log=say, force: bool = False) -> Path:
    """Build the static HTML book from the executed notebooks (execution off, warnings as errors),
    unless it was built from the same inputs already."""
    import yaml

    missing = [n for n in list_chapters() if not outputs(n, profile)["notebook"].exists()]
    if missing:
        raise PipelineError(f"chapters not executed at profile {profile}: {', '.join(missing)}; run the build first")
    write_generated_pages(profile)
    dest = html_dir(profile)
    toc_text = yaml.safe_dump(_generated_toc(profile), sort_keys=False)
    config_text = yaml.safe_dump(book_config(), sort_keys=False)
    stamp, inputs = dest / ".inputs-hash", _html_inputs_hash(profile, toc_text, config_text)
    if not force and stamp.exists() and stamp.read_text() == inputs and (dest / "index.html").exists():
        log(f"[html]     {dest} is up to date")
        return dest
    work = BUILD_DIR / f".jb-{profile}"
    work.mkdir(parents=True, exist_ok=True)
    toc_file, config_file = work / "_toc.yml", work / "_config.yml"
    toc_file.write_text(toc_text)
    config_file.write_text(config_text)
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(REPO_DIR), "--toc", str(toc_file),
           "--config", str(config_file), "--path-output", str(work), "-W", "-n", "--keep-going"]
    log(f"[html]     jupyter-book build ({profile})")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise PipelineError(f"jupyter-book build failed (exit {proc.returncode}):\n{tail}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work / "_build" / "html"), str(dest))
    stamp.write_text(inputs)
    log(f"[html]     {dest} in {time.perf_counter() - t0:.1f} s")
    return dest


def build(profile: str, *, chapters: list[str] | None = None, seed: int = 0,
          params: dict[str, Any] | None = None, force: bool = False, html: bool = True,
          log=say) -> list[ChapterRun]:
    """Execute chapters (all by default) at ``profile``, print a summary, then build the HTML."""
    check_dependencies()
    check_profile(profile)
    names = chapters or list_chapters()
    for n in names:
        chapter_path(n)
    runs: list[ChapterRun] = []
    t0 = time.perf_counter()
    for n in names:
        knobs = {k: v for k, v in (params or {}).items() if k in resolve(n, profile, {})}
        runs.append(run_chapter(n, profile, seed=seed, params=knobs, force=force, log=log))
    log(summary_table(runs, time.perf_counter() - t0))
    if html:
        dest = build_html(profile, log=log, force=force)
        counts = Counter(c.status for cs in collect_claims(profile).values() for c in cs)
        log(f"[book]     {dest / 'index.html'} ready after {_clock(time.perf_counter() - t0)} (min:s); "
            f"{sum(counts.values())} claims: {counts['holds']} hold, {counts['fails']} fail, "
            f"{counts['not expected']} not expected, {counts['no data']} without data")
    return runs


def summary_table(runs: list[ChapterRun], total: float) -> str:
    """A fixed-width table of the chapters of a build."""
    lines = [f"{'chapter':<28} {'status':<9} {'seconds':>8} {'claims':>7} {'failed':>7}"]
    for r in runs:
        lines.append(f"{r.name:<28} {r.status:<9} {r.seconds:>8.1f} {r.n_claims:>7} {r.n_failed:>7}")
    lines.append(f"{'total':<28} {'':<9} {total:>8.1f} {sum(r.n_claims for r in runs):>7} "
                 f"{sum(r.n_failed for r in runs):>7}")
    return "\n".join(lines)
