"""Every chapter executed at `smoke`, the book built, and the HTML checked (also in a real browser)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ncutils.book import pipeline as pl
from ncutils.book.claims import load_claims
from ncutils.book.experiments import EXPERIMENTS, plan
from ncutils.core import config_hash

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "smoke"
pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def html() -> Path:
    """Build the whole book at the smoke profile (cached chapters are reused)."""
    proc = subprocess.run([sys.executable, "-m", "ncutils.book", "build", "--profile", PROFILE],
                          cwd=ROOT, capture_output=True, text=True)
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = pl.html_dir(PROFILE)
    assert (out / "index.html").exists()
    return out


def _page(html: Path, name: str) -> Path:
    return html / pl.executed_dir(PROFILE).relative_to(ROOT) / f"{name}.html"


def test_every_chapter_has_a_page_with_a_figure_and_no_error(html: Path) -> None:
    for name in pl.list_chapters():
        page = _page(html, name)
        assert page.exists(), f"no page for chapter {name}"
        text = page.read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', text)
        figures = [src for src in images if "_images/" in src]
        assert figures, f"chapter {name} shows no figure"
        for src in figures:
            target = (page.parent / src).resolve()
            assert target.exists() and target.stat().st_size > 1000, f"{name}: figure {src} missing or empty"
        assert "Traceback (most recent call last)" not in text, f"{name} shows a traceback"
        assert 'class="output traceback' not in text, f"{name} shows an error output"


def test_scoreboard_lists_every_claim(html: Path) -> None:
    board = (html / pl.executed_dir(PROFILE).relative_to(ROOT) / "scoreboard.html").read_text()
    assert f"profile <strong><code class=\"docutils literal notranslate\"><span class=\"pre\">{PROFILE}</span>" in board
    n = 0
    for name in pl.list_chapters():
        claims = load_claims(pl.outputs(name, PROFILE)["claims"])
        assert claims, f"{name} stated no claims"
        for c in claims:
            assert f">{c.id}<" in board, f"claim {name}/{c.id} missing from the scoreboard"
            assert c.status != "fails", f"claim {name}/{c.id} fails"
            n += 1
    assert f"<strong>{n} claims in" in board


def test_every_executed_chapter_ran_the_runs_the_command_line_plans(html: Path) -> None:
    for name in EXPERIMENTS:
        trace = json.loads(pl.outputs(name, PROFILE)["trace"].read_text())
        planned = {g.name: [config_hash(c) for c in g.configs] for g in plan(name, PROFILE)}
        assert trace["grids"] == planned, f"{name} ran other configurations than `python -m ncutils.book grid {name}`"


def test_math_is_served_from_the_build_not_a_cdn(html: Path) -> None:
    page = _page(html, "a01_table1").read_text()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    assert mathjax, "no MathJax script on the page"
    assert all(not s.startswith(("http:", "https:", "//")) for s in mathjax), f"MathJax from a CDN: {mathjax}"
    for s in mathjax:
        assert (_page(html, "a01_table1").parent / s.split("?")[0]).resolve().exists()


# ----------------------------------------------------------------- a real browser
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    exe = shutil.which("chromium")
    if exe is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True,
                       env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        exe = shutil.which("chromium")
    assert exe, "chromium could not be installed (apt-get install chromium)"
    return exe


@pytest.fixture(scope="module")
def served(html: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.browser
@pytest.mark.parametrize("page", ["book/intro", "a01_table1", "a02_three_rates", "scoreboard", "about"])
def test_pages_render_typeset_math_and_figures_in_chromium(chromium, served, html, tmp_path, page) -> None:
    rel = page if page.startswith("book/") else f"{pl.executed_dir(PROFILE).relative_to(ROOT).as_posix()}/{page}"
    url = f"{served}/{rel}.html"
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]
    netlog = tmp_path / "netlog.json"
    dom = subprocess.run([*common, f"--log-net-log={netlog}", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout
    # what the page asked for: requests whose initiator is the page's origin (the browser's own update and
    # account requests have none, and are not the book's)
    events = json.loads(netlog.read_text())["events"]
    asked = {e["params"]["url"] for e in events if str(e.get("params", {}).get("initiator", "")).startswith(served)}
    assert len(asked) >= 5, f"the network log shows no resource of {page}"
    elsewhere = sorted(u for u in asked if not u.startswith((served, "data:", "blob:")))
    assert not elsewhere, f"{page} requests something off this machine: {elsewhere[:5]}"
    if page in ("book/intro", "a01_table1", "a02_three_rates"):
        assert "<mjx-container" in dom, f"math on {page} was not typeset by MathJax"
    if page == "a02_three_rates":  # its figures, the explore cell's drawn at the defaults among them
        assert len(re.findall(r'<img[^>]+src="[^"]*_images/', dom)) >= 2 and "Explore" in dom
    if page == "a01_table1":
        assert re.search(r'<img[^>]+src="[^"]*_images/', dom), "no figure in the rendered chapter"
    if page == "scoreboard":
        assert "Reproduction at a glance" in dom and "a01_table1" in dom
    shot = html.parent / "screenshots" / f"{page.replace('/', '_')}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*common, "--window-size=1280,1600", f"--screenshot={shot}", url],
                   capture_output=True, text=True, timeout=120)
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert hi - lo > 100, f"screenshot of {page} is blank"


def test_the_book_loads_nothing_from_another_host(html: Path) -> None:
    from ncutils.book.publish import external_loads

    assert external_loads(html) == []
    probe = html.parent / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "page.html").write_text('<link rel="stylesheet" href="https://cdn.example.org/x.css">')
    (probe / "style.css").write_text("@font-face { src: url(//fonts.example.org/f.woff2); }")
    assert len(external_loads(probe)) == 2  # the check itself finds such loads


def test_the_about_page_names_the_build(html: Path) -> None:
    about = (html / pl.executed_dir(PROFILE).relative_to(ROOT) / "about.html").read_text()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert commit and commit in about
    for text in ("About this build", "smoke", "numpy==", "Machine", "a07_nc_vs_invariant" if "a07" in about else "a01"):
        assert text in about, text


def test_each_chapter_shows_its_parameters_once_with_the_values_it_ran_with(html: Path) -> None:
    import nbformat

    for name in pl.list_chapters():
        nb = nbformat.read(pl.outputs(name, PROFILE)["notebook"], as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert not any("injected-parameters" in t for t in tags), name
        (params,) = [c.source for c, t in zip(nb.cells, tags) if "parameters" in t]
        assert f'profile = "{PROFILE}"' in params and "= None" not in params, f"{name}: {params}"


@pytest.mark.parametrize("url", [None, "https://github.com/example/nc-kernel-book"])
def test_repository_and_launch_buttons_only_with_a_repository(html: Path, tmp_path, monkeypatch, url) -> None:
    monkeypatch.setattr(pl, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(pl, "html_dir", lambda profile: tmp_path / "html")
    if url:
        monkeypatch.setenv("NCUTILS_REPOSITORY_URL", url)
    else:
        monkeypatch.delenv("NCUTILS_REPOSITORY_URL", raising=False)
        monkeypatch.setattr(pl, "repository", lambda: None)  # whatever the checkout's origin
    page = (pl.build_html(PROFILE, log=lambda *_: None) / pl.executed_dir(PROFILE).relative_to(ROOT)
            / "a01_table1.html").read_text()
    for button in (url or "github.com", "mybinder.org", "colab.research.google.com"):
        assert (button in page) == bool(url), button
