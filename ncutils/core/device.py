"""Where computations run: CUDA when available (paper profile), else CPU."""

from __future__ import annotations


def default_device() -> torch.device:  # noqa: F821
    """Return ``cuda`` when a GPU is visible to torch, else ``cpu``."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
