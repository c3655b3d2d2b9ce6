"""``python -m ncutils.book``: the command line of :mod:`ncutils.book.cli`."""

import sys

from ncutils.book import cli

if __name__ == "__main__":
    sys.exit(cli.main())
