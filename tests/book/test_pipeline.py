"""The book pipeline: claims, profiles, bad input, caching and failing chapters."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ncutils.book import chapter as chapter_mod
from ncutils.book import pipeline as pl
from ncutils.book.claims import evaluate, load_claims, measured, save_claims
from ncutils.book.profiles import PROFILES
from ncutils.book.settings import resolve
from ncutils.core import versioning
from ncutils.runs import GridProgress

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ncutils.book", *args], cwd=ROOT, capture_output=True, text=True)


# ----------------------------------------------------------------- claims
@pytest.mark.parametrize(
    "value,op,bound,expected",
    [(1e-12, "<=", 1e-10, True), (1e-9, "<=", 1e-10, False), (0.5, "in", (0, 1), True),
     (2.0, "in", (0, 1), False), (3, "==", 3, True), (float("nan"), "<=", 1.0, False), (1.0, ">", 1.0, False)],
)
def test_claim_evaluation(value, op, bound, expected) -> None:
    assert evaluate(value, op, bound) is expected


def test_claim_rejects_unknown_operator_and_source() -> None:
    with pytest.raises(ValueError, match="operator"):
        evaluate(1.0, "~", 1.0)
    ch = chapter_mod.Chapter("x", "smoke", 0, chapter_mod.Config())
    with pytest.raises(ValueError, match="source"):
        ch.claim("a", "s", source="folklore", value=1.0, op="<=", bound=2.0)


def test_claim_not_expected_only_at_declared_profile(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(chapter_mod.CLAIMS_ENV, str(tmp_path / "c.json"))
    smoke = chapter_mod.Chapter("x", "smoke", 0, chapter_mod.Config())
    smoke.claim("a", "s", source="paper", value=2.0, op="<=", bound=1.0, not_expected={"smoke": "too short"})
    c = smoke.claims[-1]
    assert c.status == "not expected"
    smoke.finish()  # an excused failure does not fail the chapter
    cpu = chapter_mod.Chapter("x", "cpu", 0, chapter_mod.Config())
    cpu.claim("a", "s", source="paper", value=2.0, op="<=", bound=1.0, not_expected={"smoke": "too short"})
    with pytest.raises(chapter_mod.ClaimsFailed, match="measured 2"):
        cpu.finish()


def test_a_claim_found_otherwise_is_stated_negated_at_that_profile_only() -> None:
    cpu = chapter_mod.Chapter("x", "cpu", 0, chapter_mod.Config())
    cpu.claim("sep", "groups separate", source="paper", value=-0.2, op=">", bound=0.0,
              found_otherwise={"cpu": "they do not"})
    c = cpu.claims[-1]
    assert (c.id, c.op, c.status) == ("not-sep", "<=", "holds")
    assert c.statement.startswith("they do not") and "groups separate" in c.statement
    cpu.claim("sep2", "groups separate", source="paper", value=0.3, op=">", bound=0.0, found_otherwise={"cpu": "no"})
    assert cpu.claims[-1].status == "fails"  # the finding can fail in its turn
    smoke = chapter_mod.Chapter("x", "smoke", 0, chapter_mod.Config())
    smoke.claim("sep", "groups separate", source="paper", value=0.3, op=">", bound=0.0,
                found_otherwise={"cpu": "they do not"})
    assert (smoke.claims[-1].id, smoke.claims[-1].status) == ("sep", "holds")
    with pytest.raises(ValueError, match="negates"):
        cpu.claim("eq", "s", source="paper", value=0.0, op="==", bound=0, found_otherwise={"cpu": "no"})


def test_claim_ids_unique_and_finish_needs_a_claim() -> None:
    ch = chapter_mod.Chapter("x", "cpu", 0, chapter_mod.Config())
    with pytest.raises(chapter_mod.ClaimsFailed, match="no claim"):
        ch.finish()
    ch.claim("a", "s", source="derived", value=0.0, op="==", bound=0)
    with pytest.raises(ValueError, match="twice"):
        ch.claim("a", "s", source="derived", value=0.0, op="==", bound=0)


def test_claims_round_trip(tmp_path) -> None:
    ch = chapter_mod.Chapter("x", "cpu", 0, chapter_mod.Config())
    ch.claim("a", "s", source="paper", value=0.5, op="in", bound=(0, 1))
    ch.claim("b", "t", source="extension", value=3.0, op=">=", bound=1)
    ch.claim("c", "u", source="paper", value=None, op=">=", bound=0.99, no_data="no run in this group",
             not_expected={"cpu": "short runs"})
    save_claims(ch.claims, tmp_path / "c.json")
    assert load_claims(tmp_path / "c.json") == ch.claims


def test_claim_without_data_never_holds(capsys) -> None:
    """An empty group is reported as such: 'no data' where excused, a failure elsewhere, never a pass."""
    from ncutils.book.scoreboard import render_scoreboard

    smoke = chapter_mod.Chapter("a99_x", "smoke", 0, chapter_mod.Config())
    smoke.claim("fit", "runs with NC fit", source="paper", value=None, op=">=", bound=0.99,
                no_data="no run in this group", not_expected={"smoke": "too short"})
    c = smoke.claims[-1]
    assert not c.holds and c.status == "no data" and c.value is None
    assert "[     NO DATA] fit" in capsys.readouterr().out
    assert "no data: no run in this group" in smoke.finish().to_string()
    board = render_scoreboard("smoke", {"a99_x": smoke.claims})
    assert "measured no data: no run in this group" in board and "*no data here* (too short)" in board
    assert "| {ref}`scoreboard-a99_x` | 1 | 0 | 0 | 0 | 1 |" in board  # the chapter's summary row
    assert "0 hold, 0 fail, 0 not expected and 1 without data" in board
    cpu = chapter_mod.Chapter("a99_x", "cpu", 0, chapter_mod.Config())
    cpu.claim("fit", "runs with NC fit", source="paper", value=None, op=">=", bound=0.99,
              no_data="no run in this group", not_expected={"smoke": "too short"})
    assert cpu.claims[-1].status == "fails"
    with pytest.raises(chapter_mod.ClaimsFailed, match="measured no data: no run in this group"):
        cpu.finish()
    with pytest.raises(ValueError, match="no_data"):
        cpu.claim("b", "s", source="paper", value=None, op=">=", bound=0.99)
    with pytest.raises(ValueError, match="no_data"):
        cpu.claim("c", "s", source="paper", value=1.0, op=">=", bound=0.99, no_data="no run")


def test_every_toc_chapter_gets_a_labelled_scoreboard_section() -> None:
    """The summary row links to a label that only a section of the chapter's part defines."""
    from ncutils.book.scoreboard import label, render_scoreboard

    names = pl.list_chapters()
    board = render_scoreboard("smoke", {name: [] for name in names})
    missing = [name for name in names if f"({label(name)})=" not in board]
    assert not missing, f"no scoreboard part for {missing}: add their prefix to scoreboard._PAPERS"


# ----------------------------------------------------------------- profiles and parameters
def test_every_toc_chapter_has_a_profile_section_with_the_same_knobs() -> None:
    for name in pl.list_chapters():
        assert name in PROFILES, f"{name} has no section in ncutils/book/profiles.py"
        knobs = {p: set(PROFILES[name][p]) for p in ("smoke", "cpu", "paper")}
        assert knobs["smoke"] == knobs["cpu"] == knobs["paper"], f"{name}: profiles name different knobs"


def test_resolve_overrides_and_type_checks() -> None:
    cfg = resolve("a01_table1", "smoke", {"m_values": [12, 20], "n_classes": None})
    assert cfg.m_values == [12, 20] and cfg.n_classes == PROFILES["a01_table1"]["smoke"]["n_classes"]
    with pytest.raises(TypeError, match="expected int"):
        resolve("a01_table1", "smoke", {"n_classes": "ten"})
    with pytest.raises(ValueError, match="unknown parameter"):
        resolve("a01_table1", "smoke", {"nope": 1})
    with pytest.raises(ValueError, match="unknown profile"):
        resolve("a01_table1", "fast", {})


@pytest.mark.parametrize(
    "args,message",
    [
        (("run", "a01_table1", "--profile", "turbo"), "unknown profile 'turbo'"),
        (("run", "no_such_chapter", "--profile", "smoke"), "unknown chapter 'no_such_chapter'"),
        (("run", "a01_table1", "--profile", "smoke", "-p", "n_classes=ten"), "expected int"),
        (("build", "--profile", "smoke", "-p", "bogus_knob=1"), "no chapter has such a knob"),
    ],
)
def test_cli_bad_input_gives_one_line_error(args, message) -> None:
    proc = cli(*args)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], proc.stderr


def test_missing_dependency_is_named(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "papermill" else real(name, *a))
    with pytest.raises(pl.PipelineError, match="missing dependency papermill: run 'make book'"):
        pl.check_dependencies()


# ----------------------------------------------------------------- executing chapters
@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A throw-away book: its own chapters dir, toc and executed dir."""
    (tmp_path / "chapters").mkdir()
    toc = {"format": "jb-book", "root": "book/intro", "parts": [{"chapters": []}]}

    def add(name: str, body: str, knobs: dict | None = None) -> None:
        (tmp_path / "chapters" / f"{name}.py").write_text(textwrap.dedent(body))
        toc["parts"][0]["chapters"].append({"file": f"chapters/{name}"})
        (tmp_path / "_toc.yml").write_text(json.dumps(toc))
        monkeypatch.setitem(PROFILES, name, {p: dict(knobs or {}) for p in ("smoke", "cpu", "paper")})

    monkeypatch.setattr(pl, "CHAPTERS_DIR", tmp_path / "chapters")
    monkeypatch.setattr(pl, "TOC_FILE", tmp_path / "_toc.yml")
    monkeypatch.setattr(pl, "EXECUTED_DIR", tmp_path / "executed")
    return add


GOOD = '''
# %% tags=["parameters"]
profile = "cpu"
seed = 0
# %%
from ncutils.book.chapter import Chapter, Config
ch = Chapter("tmp_good", profile, seed, Config())
ch.claim("one", "one is at most two", source="derived", value=1.0, op="<=", bound=2.0)
# %%
ch.finish()
'''


def test_run_caches_and_force_reexecutes(sandbox) -> None:
    sandbox("tmp_good", GOOD)
    first = pl.run_chapter("tmp_good", "smoke", log=lambda *_: None)
    assert first.status == "executed" and first.n_claims == 1
    assert pl.run_chapter("tmp_good", "smoke", log=lambda *_: None).status == "cached"
    assert pl.run_chapter("tmp_good", "smoke", seed=1, log=lambda *_: None).status == "executed"
    assert pl.run_chapter("tmp_good", "smoke", seed=1, force=True, log=lambda *_: None).status == "executed"
    src = pl.CHAPTERS_DIR / "tmp_good.py"
    src.write_text(src.read_text() + "\n# an edit\n")
    assert pl.run_chapter("tmp_good", "smoke", seed=1, log=lambda *_: None).status == "executed"


def test_failing_cell_names_chapter_and_error_and_leaves_no_stale_notebook(sandbox) -> None:
    sandbox("tmp_good", GOOD)
    pl.run_chapter("tmp_good", "smoke", log=lambda *_: None)
    assert pl.outputs("tmp_good", "smoke")["notebook"].exists()
    src = pl.CHAPTERS_DIR / "tmp_good.py"
    src.write_text(GOOD.replace("ch.finish()", "raise RuntimeError('boom in the last cell')"))
    with pytest.raises(pl.ChapterFailed, match=r"chapter tmp_good failed in cell .*RuntimeError: boom in the last cell"):
        pl.run_chapter("tmp_good", "smoke", log=lambda *_: None)
    assert not pl.outputs("tmp_good", "smoke")["notebook"].exists()


def test_failing_claim_fails_the_chapter(sandbox) -> None:
    sandbox("tmp_bad", GOOD.replace("tmp_good", "tmp_bad").replace("value=1.0", "value=3.0"))
    with pytest.raises(pl.ChapterFailed, match="ClaimsFailed"):
        pl.run_chapter("tmp_bad", "smoke", log=lambda *_: None)


def test_chapter_without_parameters_cell_is_rejected(sandbox) -> None:
    sandbox("tmp_noparams", GOOD.replace(' tags=["parameters"]', ""))
    with pytest.raises(pl.PipelineError, match="no parameters cell"):
        pl.run_chapter("tmp_noparams", "smoke", log=lambda *_: None)


DATA_CHAPTER = '''
# %% tags=["parameters"]
profile = "cpu"
seed = 0
# %%
import sys
from pathlib import Path
from ncutils.book import chapter as cm
cm.DATA_DIR = Path(r"{data}")
sys.addaudithook(cm._record_data_reads)
value = float((cm.DATA_DIR / "x.txt").read_text())
ch = cm.Chapter("tmp_data", profile, seed, cm.Config())
ch.claim("value", "the data file holds a number", source="derived", value=value, op=">", bound=0.0)
# %%
ch.finish()
'''


def test_a_changed_data_file_re_executes_the_chapter_that_read_it(sandbox, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("1.5")
    sandbox("tmp_data", DATA_CHAPTER.format(data=data))
    assert pl.run_chapter("tmp_data", "smoke", log=lambda *_: None).status == "executed"
    meta = json.loads(pl.outputs("tmp_data", "smoke")["meta"].read_text())
    assert list(meta["data_files"]) == [str(data / "x.txt")]
    assert pl.run_chapter("tmp_data", "smoke", log=lambda *_: None).status == "cached"
    (data / "x.txt").write_text("2.5")
    assert pl.run_chapter("tmp_data", "smoke", log=lambda *_: None).status == "executed"
    assert load_claims(pl.outputs("tmp_data", "smoke")["claims"])[0].value == 2.5


def _edited(monkeypatch, module: str) -> None:
    """Pretend that the code of ``module`` changed (its fingerprint only)."""
    real, path = versioning.code_fingerprint, versioning.module_path(module)
    monkeypatch.setattr(versioning, "code_fingerprint", lambda p: real(p) + ("edited" if p == path else ""))


@pytest.mark.parametrize("module,a_changes,b_changes", [
    ("ncutils.paper_b.adaptive_kernel", False, True),  # imported by b07's experiment, not by paper A's chapters
    ("ncutils.paper_a.training", True, False),  # a07's task
    ("ncutils.nc.measures", True, True),  # both import the measures
    ("ncutils.book.pipeline", False, False),  # renders, computes nothing a chapter shows
])
def test_a_chapter_depends_on_the_code_it_imports_only(monkeypatch, module, a_changes, b_changes) -> None:
    before = {n: pl.content_hash(n, "smoke", 0, {}) for n in ("a07_nc_vs_invariant", "b07_adaptive_kernel")}
    _edited(monkeypatch, module)
    after = {n: pl.content_hash(n, "smoke", 0, {}) for n in before}
    assert (before["a07_nc_vs_invariant"] != after["a07_nc_vs_invariant"]) == a_changes
    assert (before["b07_adaptive_kernel"] != after["b07_adaptive_kernel"]) == b_changes


def test_a_chapter_depends_on_its_own_settings_not_on_other_chapters(monkeypatch) -> None:
    before = pl.content_hash("a01_table1", "smoke", 0, {})
    monkeypatch.setitem(PROFILES, "b01_kernel_nc1", {**PROFILES["b01_kernel_nc1"],
                                                     "smoke": {**PROFILES["b01_kernel_nc1"]["smoke"], "n_samples": 64}})
    assert pl.content_hash("a01_table1", "smoke", 0, {}) == before
    assert pl.content_hash("a01_table1", "smoke", 0, {"m_values": [12, 61]}) != before
    monkeypatch.setitem(PROFILES, "a01_table1", {**PROFILES["a01_table1"],
                                                 "smoke": {**PROFILES["a01_table1"]["smoke"], "m_values": [12, 61]}})
    assert pl.content_hash("a01_table1", "smoke", 0, {}) != before


def test_measured_gives_no_data_for_a_small_group() -> None:
    assert measured(lambda g: sum(g), [1, 2]) == {"value": 3}
    assert measured(lambda g: sum(g), [1], need=2, empty="one run") == {"value": None, "no_data": "one run"}


def test_the_heartbeat_says_how_far_a_running_chapter_has_come(tmp_path) -> None:
    progress_file, lines = tmp_path / "x.progress", []
    with pl._Heartbeat("a07_x", "cpu", progress_file, lines.append, every=0.05):
        time.sleep(0.12)
        progress_file.write_text(GridProgress("a07_x", 33, 6, 8, 210.0).describe())
        time.sleep(0.12)
    assert lines and all(line.startswith("[running]  a07_x (cpu) 0:00 elapsed") for line in lines)
    assert "grid a07_x: 14/33 runs (6 from the store), about 8 min left" in lines[-1]
    assert not progress_file.exists()


def test_grid_progress_estimates_from_the_computed_runs() -> None:
    assert GridProgress("g", 10, 4, 0, 5.0).seconds_left() is None  # nothing computed yet: no pace
    assert GridProgress("g", 10, 4, 2, 60.0).seconds_left() == pytest.approx(120.0)
    assert "about" not in GridProgress("g", 10, 4, 6, 60.0).describe()  # done


def test_the_parameters_cell_shows_the_values_the_chapter_ran_with() -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0\nm_values = None  # samples per class',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell('# Parameters\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("print(1)")]
    pl.show_parameters_once(nb, {"profile": "smoke", "seed": 0, "m_values": [12, 60]})
    assert [c.source for c in nb.cells] == ['profile = "smoke"\nseed = 0\nm_values = [12, 60]  # samples per class',
                                            "print(1)"]
