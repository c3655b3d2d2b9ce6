"""ncutils: the library behind the NC-kernel book.

Submodules are imported on demand (``from ncutils import metrics``); importing the
package itself loads nothing heavy (no torch, no JAX, no TensorFlow).
"""

__version__ = "0.1.0"
