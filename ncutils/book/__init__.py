"""The book: profile settings, the experiments they plan, the chapter API, claims, and the build.

Chapters use :func:`start`, :meth:`Chapter.run`, :meth:`Chapter.claim` (with :func:`measured` for
claims about groups of runs) and :meth:`Chapter.finish`; ``python -m ncutils.book`` executes
chapters, runs experiment grids and builds the HTML book (:mod:`ncutils.book.pipeline`).
"""

from ncutils.book.chapter import Chapter, ClaimsFailed, explore, progress, start
from ncutils.book.claims import measured

__all__ = ["Chapter", "ClaimsFailed", "explore", "measured", "progress", "start"]
