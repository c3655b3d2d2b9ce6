"""What a chapter calls: resolve its profile, print settings and environment, run its grids, record claims.

Usage in a chapter (after its ``parameters`` cell)::

    ch = start("a01_table1", profile=profile, seed=seed, m_values=m_values)
    cfg = ch.cfg                       # knobs of the profile, overridden by non-None params
    grids = ch.run()                   # chapters with an experiment: its grids, from the store or computed
    ...
    ch.claim("spectrum", "eigvalsh equals the closed forms", source="derived",
             value=err, op="<=", bound=1e-10)
    ch.finish()                        # last cell: table of claims; raises if one fails

While a chapter runs, the files it reads under ``data/`` (not the result store) are recorded: the
pipeline re-executes the chapter when one of them changes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pprint
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ncutils.book.claims import SOURCES, Claim, evaluate, save_claims
from ncutils.book.envinfo import fingerprint
from ncutils.book.experiments import experiment
from ncutils.book.scoreboard import label
from ncutils.book.settings import Config, resolve
from ncutils.core.jsonable import plain
from ncutils.core.paths import DATA_DIR, REPO_DIR
from ncutils.core.versioning import config_hash

CLAIMS_ENV = "NCUTILS_CLAIMS_PATH"  # set by the pipeline: where to save the claims
TRACE_ENV = "NCUTILS_TRACE_PATH"  # set by the pipeline: where to save the grids run and the data files read
PROGRESS_ENV = "NCUTILS_PROGRESS_PATH"  # set by the pipeline: where to say how far a long step has come
HEADLESS_ENV = "NCUTILS_HEADLESS"  # set by the pipeline: no interactive widgets
NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}  # a claim found otherwise is stated negated
UNTRACKED_DATA = ("store", "runs", "cache")  # data/ folders keyed by their own means

T = TypeVar("T")
_data_reads: set[Path] = set()
_hooked: list[bool] = []  # the audit hook is added once per process (it cannot be removed)


class ClaimsFailed(AssertionError):
    """Raised by :meth:`Chapter.finish` when a claim fails where it is expected to hold."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if already imported) torch."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def report(line: str) -> None:
    """Tell the pipeline how far the chapter has come (one line, shown in its heartbeat); a no-op
    outside the pipeline."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        tmp = f"{path}.tmp"
        Path(tmp).write_text(line)
        os.replace(tmp, path)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterator[T]:
    """A progress bar: tqdm's (notebook) bar when run interactively; in the pipeline, the count goes to
    its heartbeat (:func:`report`) and nothing to the rendered page."""
    if not os.environ.get(HEADLESS_ENV):
        from tqdm.auto import tqdm

        yield from tqdm(iterable, desc=desc, total=total)
        return
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    for i, item in enumerate(iterable):
        report(f"{desc}: {i}/{total if total is not None else '?'}")
        yield item


@contextmanager
def _grid_progress(name: str, total: int) -> Iterator[Callable[[Any], None]]:
    """A callback for :func:`ncutils.runs.run_grid`'s progress: a tqdm bar interactively, the heartbeat's
    line in the pipeline."""
    if os.environ.get(HEADLESS_ENV):
        yield lambda p: report(p.describe())
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"grid {name}", unit="run")

    def update(p: Any) -> None:
        bar.update(p.done - bar.n)
        left = p.seconds_left()
        if left is not None:
            bar.set_postfix_str(f"{p.from_store} from the store, about {left / 60:.1f} min left")

    try:
        yield update
    finally:
        bar.close()


def _is_read(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and not flags & (os.O_WRONLY | os.O_RDWR)


def _record_data_reads(event: str, args: tuple) -> None:
    """Audit hook: remember every file opened for reading under ``data/``, but for the result store.
    It runs on every ``open`` of the process, so it never raises."""
    if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    if not _is_read(args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None):
        return
    try:
        path = Path(os.path.abspath(os.fsdecode(args[0])))
    except (TypeError, ValueError):
        return
    parts = path.relative_to(DATA_DIR).parts if path.is_relative_to(DATA_DIR) else ()
    if parts and parts[0] not in UNTRACKED_DATA:
        _data_reads.add(path)


class Chapter:
    """A running chapter: its resolved settings, the grids it ran and the claims it has stated."""

    def __init__(self, name: str, profile: str, seed: int, cfg: Config) -> None:
        self.name = name
        self.profile = profile
        self.seed = seed
        self.cfg = cfg
        self.claims: list[Claim] = []
        self.grids: dict[str, list[str]] = {}  # grid name -> config hashes, in order

    def run(self, *, client: Any = None) -> dict[str, Any]:
        """Run the chapter's experiment (:mod:`ncutils.book.experiments`) at its settings and seed: each grid's
        runs come from the store or are computed (``client`` as in :func:`ncutils.runs.run_grid`; by default
        a LocalCluster of the ``workers`` knob). Returns the :class:`ncutils.runs.GridResult` of each grid by name."""
        from ncutils.runs import run_grid

        results = {}
        for grid in experiment(self.name)(self.cfg, self.seed):
            with _grid_progress(grid.name, len(grid.configs)) as on_progress:
                results[grid.name] = run_grid(grid, client=client, workers=self.cfg.get("workers"), progress=False,
                                              on_progress=on_progress)
            self.grids[grid.name] = [config_hash(c) for c in grid.configs]
            print(results[grid.name].summary())
        return results

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
        found_otherwise: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        """State a claim (appended to :attr:`claims`, printed as one line); it holds when ``value op bound``
        (``op`` in <=, <, >=, >, ==, in).

        ``source`` is ``paper`` (the paper's statement), ``derived`` (our derivation),
        ``extension`` (beyond the paper) or ``official-code`` (behaviour of the official code).
        ``not_expected`` maps a profile to the reason the claim may fail there (a reason of scale).
        ``found_otherwise`` maps a profile where the claim, as first stated, failed to the statement of what
        was found instead: there the claim is stated negated (id ``not-<id>``, ``op`` reversed) with that
        statement and the first statement beside it, so the finding can fail in its turn.
        ``value=None`` with ``no_data`` (why, e.g. "no run in this group") states a claim that had
        nothing to measure: it never holds; status ``no data`` where excused, else ``fails``
        (:func:`ncutils.book.claims.measured` computes both from groups of runs).
        """
        if source not in SOURCES:
            raise ValueError(f"claim {id!r}: source {source!r} must be one of {SOURCES}")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim id {id!r} used twice in chapter {self.name}")
        if (value is None) != (no_data is not None):
            raise ValueError(f"claim {id!r}: pass no_data (why there is nothing to measure) exactly when value is None")
        if self.profile in (found_otherwise or {}):
            if op not in NEGATED:
                raise ValueError(f"claim {id!r}: a finding negates <, <=, > or >=, not {op!r}")
            statement = f"{found_otherwise[self.profile]} (first stated as {id!r}, which failed at {self.profile!r}: " \
                        f"{statement})"
            id, op = f"not-{id}", NEGATED[op]
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
            extra={k: plain(v) if hasattr(v, "tolist") else v for k, v in extra.items()},
            no_data=no_data,
        )
        self.claims.append(c)
        measured = c.measured() if c.no_data else f"measured {c.measured()}"
        print(f"[{c.status.upper():>12}] {id}: {statement} | {measured}, needs {c.threshold()}")

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

    def _save_trace(self, path: Path) -> None:
        data = sorted(str(p.relative_to(REPO_DIR) if p.is_relative_to(REPO_DIR) else p) for p in _data_reads if p.is_file())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"grids": self.grids, "data_files": data}, indent=1))

    def finish(self):
        """Save the claims (when run by the pipeline) and fail on an unexpected failure. Interactively, the
        claims' table is the cell's output; in the book, a link to them on the scoreboard."""
        if not self.claims:
            raise ClaimsFailed(f"chapter {self.name} stated no claim")
        if os.environ.get(CLAIMS_ENV):
            save_claims(self.claims, Path(os.environ[CLAIMS_ENV]))
        if os.environ.get(TRACE_ENV):
            self._save_trace(Path(os.environ[TRACE_ENV]))
        failed = [c for c in self.claims if c.status == "fails"]
        if failed:
            lines = "; ".join(f"{c.id}: measured {c.measured()}, needs {c.threshold()}" for c in failed)
            raise ClaimsFailed(f"{len(failed)} claim(s) of {self.name} failed at profile {self.profile}: {lines}")
        if os.environ.get(HEADLESS_ENV):
            from IPython.display import Markdown

            return Markdown(f"The {len(self.claims)} claims of this chapter on the scoreboard, beside every other "
                            f"chapter's: {{ref}}`{label(self.name)}`.")
        return self.summary()


def start(name: str, profile: str, seed: int = 0, **params: Any) -> Chapter:
    """Begin chapter ``name``: resolve the profile, seed everything, print settings and environment."""
    cfg = resolve(name, profile, params)
    if not _hooked:
        sys.addaudithook(_record_data_reads)
        _hooked.append(True)
    _data_reads.clear()
    seed_everything(seed)
    print(f"Chapter {name} | profile {profile!r} | seed {seed}")
    width = max((len(k) for k in cfg), default=0)
    for k, v in cfg.items():
        text = pprint.pformat(v, width=110 - width, sort_dicts=False).replace("\n", "\n" + " " * (width + 5))
        print(f"  {k:<{width}} = {text}")
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in fingerprint().items()))
    return Chapter(name, profile, seed, cfg)


def explore(draw: Callable[..., Any], **controls: Any) -> None:
    """An interactive figure: in JupyterLab, sliders (a ``(value, low, high, step)`` tuple) or menus (a list,
    its first item the value) for ``controls`` redraw ``draw(**values)``; in the built book, and wherever
    ipywidgets is missing, the figure is drawn once at those values."""
    values = {k: (c[0] if isinstance(c, (tuple, list)) else c) for k, c in controls.items()}
    if os.environ.get(HEADLESS_ENV) or importlib.util.find_spec("ipywidgets") is None:
        draw(**values)
        return
    import ipywidgets

    widgets = {}
    for k, c in controls.items():
        if isinstance(c, tuple):
            value, low, high, step = c
            kind = ipywidgets.IntSlider if all(isinstance(v, int) for v in c) else ipywidgets.FloatSlider
            widgets[k] = kind(value=value, min=low, max=high, step=step, description=k, continuous_update=False)
        elif isinstance(c, list):
            widgets[k] = ipywidgets.Dropdown(options=c, value=c[0], description=k)
        else:
            widgets[k] = ipywidgets.fixed(c)
    ipywidgets.interact(draw, **widgets)
