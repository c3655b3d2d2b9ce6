"""The devices a test runs on: the CPU always; CUDA marked ``cuda`` (``pytest -m cuda`` selects it,
``bench.gpu_check`` runs it) and skipped where torch sees no GPU."""

from __future__ import annotations

import pytest
import torch

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda,
                                   pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")])
DEVICES = ["cpu", CUDA]
