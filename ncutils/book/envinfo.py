"""Environment fingerprint printed by every chapter (versions, device, machine)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

_PACKAGES = ("numpy", "scipy", "torch", "jax", "neural-tangents")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def fingerprint() -> dict[str, str]:
    """Python and package versions, the compute device and the machine, as short strings."""
    info = {"python": platform.python_version()}
    info.update({p: _version(p) for p in _PACKAGES})
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    else:
        info["device"] = "cpu"
    info["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    return info
