"""The command line of the book: chapters, experiment grids and the HTML build.

    python -m ncutils.book list  [--profile P]
    python -m ncutils.book run   NAME [NAME ...] [--profile P] [--seed S] [-p knob=value] [--force]
    python -m ncutils.book build [--profile P] [--seed S] [-p knob=value] [--force] [--no-html]
    python -m ncutils.book grid  NAME [--profile P] [--seed S] [-p knob=value] [--dry-run]
                                 [--scheduler ADDR | --jobqueue FILE.yaml] [--store PATH] [--workers N]
    python -m ncutils.book grid  --list
    python -m ncutils.book publish [--profile P]

``grid`` runs the experiment of chapter NAME (:mod:`ncutils.book.experiments`) with the settings the
chapter would use (profile and overrides), so that the chapter then finds every run in the store.
"""

from __future__ import annotations

import argparse
import sys

from ncutils.book.settings import DEFAULT_PROFILE


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (and exit 2), like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _param(text: str) -> tuple[str, object]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like knob=value, e.g. -p m_values=[12,500]")
    if not value.strip():
        raise argparse.ArgumentTypeError(f"parameter {key.strip()} has no value: write e.g. -p {key.strip()}=10")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise argparse.ArgumentTypeError(f"the value of {key.strip()} is not valid YAML ({problem}): {value!r}; "
                                         "quote it for the shell, e.g. -p 'm_values=[12,500]'") from exc
    if isinstance(parsed, str):  # YAML 1.1 reads 1e-3 as a string; a number is meant
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key.strip(), parsed


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    from ncutils.runs import DEFAULT_STORE

    parser = _Parser(prog="python -m ncutils.book", description="Execute chapters, run experiment grids and build the book.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in ("list", "run", "build", "grid", "publish"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default=DEFAULT_PROFILE, help="smoke, cpu (default) or paper")
        if name == "run":
            p.add_argument("chapters", nargs="+", help="chapter names (see 'list')")
        if name == "grid":
            p.add_argument("chapter", nargs="?", help="a chapter with an experiment (see 'grid --list')")
            p.add_argument("--list", action="store_true", help="list the chapters with an experiment")
            p.add_argument("--dry-run", action="store_true", help="print the runs, run nothing")
            p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
            p.add_argument("--jobqueue", help="YAML file describing a dask-jobqueue cluster (Slurm, PBS)")
            p.add_argument("--store", default=str(DEFAULT_STORE), help="result store: a folder or an fsspec URL")
            p.add_argument("--workers", type=_positive, help="LocalCluster workers (default: the chapter's workers knob)")
            p.add_argument("--retry-failed", action="store_true", help="compute again the runs stored as failed")
        if name in ("run", "build", "grid"):
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("-p", "--param", type=_param, action="append", default=[], help="knob=value (YAML)")
        if name in ("run", "build"):
            p.add_argument("--force", action="store_true", help="re-execute even when cached")
        if name == "build":
            p.add_argument("--no-html", action="store_true", help="execute chapters only")
    return parser


def _grid(args: argparse.Namespace) -> int:
    from ncutils.book import experiments as ex
    from ncutils.book.pipeline import PipelineError
    from ncutils.book.settings import resolve
    from ncutils.runs import connect, jobqueue_client, run_grid

    if args.list:
        print("\n".join(sorted(ex.EXPERIMENTS)))
        return 0
    if not args.chapter:
        raise PipelineError(f"name a chapter with an experiment: one of {sorted(ex.EXPERIMENTS)}")
    if args.scheduler and args.jobqueue:
        raise PipelineError("pass --scheduler or --jobqueue, not both")
    try:
        experiment = ex.experiment(args.chapter)
        cfg = resolve(args.chapter, args.profile, dict(args.param))
        grids = experiment(cfg, args.seed)
    except (TypeError, ValueError) as exc:
        raise PipelineError(str(exc)) from exc
    if args.dry_run:
        for grid in grids:
            print(f"grid {grid.name} ({grid.task}): {len(grid.configs)} runs")
            print("\n".join(f"  {c}" for c in grid.configs))
        return 0
    client = jobqueue_client(args.jobqueue) if args.jobqueue else (connect(args.scheduler) if args.scheduler else None)
    results = [run_grid(g, store=args.store, client=client, workers=args.workers or cfg.get("workers"),
                        retry_failed=args.retry_failed) for g in grids]
    return 0 if all(r.n_lost() == 0 for r in results) else 1


def _publish(profile: str) -> int:
    """Build the book (what is cached is reused) and check that its folder loads nothing from another host."""
    from ncutils.book import pipeline as pl
    from ncutils.book.publish import external_loads

    pl.build(profile)
    dest = pl.html_dir(profile)
    loads = external_loads(dest)
    if loads:
        raise pl.PipelineError(f"{len(loads)} resource(s) would be loaded from another host, e.g. {loads[0]}")
    pages = len(list(dest.rglob("*.html")))
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) / 2**20
    print(f"[publish]  {dest}: {pages} pages, {size:.0f} MB, nothing loaded from another host. Copy the folder to "
          "any static web host (e.g. the gh-pages branch of GitHub Pages); see README, 'Publishing'.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one line and exit 2."""
    from ncutils.book import pipeline as pl
    from ncutils.runs import GridError

    args = _parser().parse_args(argv)
    try:
        pl.check_profile(args.profile)
        if args.command == "grid":
            return _grid(args)
        if args.command == "publish":
            return _publish(args.profile)
        if args.command == "list":
            for n in pl.list_chapters():
                state = "executed" if pl.outputs(n, args.profile)["notebook"].exists() else "not executed"
                print(f"{n:<28} {state} ({args.profile})")
            return 0
        params = dict(args.param)
        if args.command == "run":
            pl.check_dependencies()
            for n in args.chapters:
                pl.run_chapter(n, args.profile, seed=args.seed, params=params, force=args.force)
            return 0
        known = {k for n in pl.list_chapters() for k in pl.resolve(n, args.profile, {})}
        unknown = sorted(set(params) - known)
        if unknown:
            raise pl.PipelineError(f"unknown parameter(s) {unknown}: no chapter has such a knob")
        pl.build(args.profile, seed=args.seed, params=params, force=args.force, html=not args.no_html)
        return 0
    except (pl.PipelineError, GridError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # one line, whatever the message
        return 2
