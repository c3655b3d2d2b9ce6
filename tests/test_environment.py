"""The environment: pins in pyproject.toml and environment.yml agree, and everything is pinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(_split(d) for d in deps)


def _conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    return dict(_split(d) for d in pip_lists[0])


def _split(requirement: str) -> tuple[str, str]:
    m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)", requirement.strip())
    assert m, f"{requirement!r} is not pinned with =="
    return m.group(1).lower().replace("_", "-"), m.group(2)


def test_every_dependency_is_pinned_exactly() -> None:
    pins = _pyproject_pins()
    for name in ("torch", "torchvision", "jax", "jaxlib", "neural-tangents", "tf2jax", "jupyter-book"):
        assert name in pins, f"{name} missing from pyproject.toml"
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book 2.x cannot build offline"


def test_conda_environment_lists_the_same_pins() -> None:
    assert _conda_pins() == _pyproject_pins()


def test_conda_environment_uses_python_311() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
