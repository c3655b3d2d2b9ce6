"""The book machinery: chapter settings and claims (light), and the build pipeline.

Chapters use :func:`start`, :meth:`Chapter.claim` and :meth:`Chapter.finish`; the
pipeline (``python -m ncutils.book``) executes chapters and builds the HTML book.
"""

from ncutils.book.chapter import Chapter, ClaimsFailed, progress, start

__all__ = ["Chapter", "ClaimsFailed", "progress", "start"]
