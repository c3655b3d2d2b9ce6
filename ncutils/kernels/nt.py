"""Import neural-tangents without TensorFlow, with JAX in float64.

neural-tangents 0.6.5 imports TensorFlow through its ``experimental`` subpackage (tf2jax);
an empty module in its place keeps the import fast and TensorFlow-free. Only the default
empirical-NTK implementation works with the pinned JAX 0.5.3.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def import_neural_tangents() -> Any:
    """Return the ``neural_tangents`` module (float64 JAX), never importing TensorFlow."""
    sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - the pins install it
        raise ImportError("neural-tangents needs jax==0.5.3: run 'make book' or 'pip install -e .'") from exc
    jax.config.update("jax_enable_x64", True)
    import neural_tangents

    return neural_tangents
