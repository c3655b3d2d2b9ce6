"""`import ncutils` stays light: no TensorFlow, torch or JAX, and fast; neural-tangents without TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import time


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_ncutils_is_light_and_fast() -> None:
    t0 = time.perf_counter()
    out = _run("import sys, ncutils, ncutils.book, ncutils.kernels, ncutils.metrics, ncutils.profiles; "
               "print(sorted(m for m in ('tensorflow', 'torch', 'jax') if m in sys.modules))")
    assert out == "[]"
    assert time.perf_counter() - t0 < 3.0


def test_neural_tangents_without_tensorflow() -> None:
    out = _run("import sys; from ncutils._nt import import_neural_tangents; nt = import_neural_tangents(); "
               "print('tensorflow' in sys.modules, hasattr(nt, 'empirical_ntk_fn'))")
    assert out == "False True"
