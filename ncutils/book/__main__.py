"""CLI of the book pipeline.

    python -m ncutils.book list  [--profile P]
    python -m ncutils.book run   NAME [NAME ...] [--profile P] [--seed S] [-p knob=value] [--force]
    python -m ncutils.book build [--profile P] [--seed S] [-p knob=value] [--force] [--no-html]
"""

from __future__ import annotations

import argparse
import sys

from ncutils.profiles import DEFAULT_PROFILE


def _param(text: str) -> tuple[str, object]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like knob=value, e.g. -p m_values=[12,500]")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    from ncutils.book import pipeline as pl

    parser = argparse.ArgumentParser(prog="python -m ncutils.book", description="Execute chapters and build the book.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "run", "build"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default=DEFAULT_PROFILE, help="smoke, cpu (default) or paper")
        if name == "run":
            p.add_argument("chapters", nargs="+", help="chapter names (see 'list')")
        if name in ("run", "build"):
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("-p", "--param", type=_param, action="append", default=[], help="knob=value (YAML)")
            p.add_argument("--force", action="store_true", help="re-execute even when cached")
        if name == "build":
            p.add_argument("--no-html", action="store_true", help="execute chapters only")
    args = parser.parse_args(argv)
    try:
        pl.check_profile(args.profile)
        if args.command == "list":
            for n in pl.list_chapters():
                state = "executed" if pl._outputs(n, args.profile)["notebook"].exists() else "not executed"
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
    except pl.PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
