"""Kernels: block-structured (paper A), closed-form 2-layer NNGP/NTK (paper B), empirical NTK.

``empirical_ntk`` and its relatives need torch, and ``import_neural_tangents`` JAX; they are
imported on first use so that ``from ncutils.kernels import block_kernel`` stays light.
"""

from typing import Any

from ncutils.kernels.block import BlockSpectrum, BlockValues, block_kernel, block_spectrum, within_class_basis
from ncutils.kernels.two_layer import activation_kernels, nngp_fc2, ntk_derivative_term_fc2, ntk_fc2, ntk_fc2_official_erf

_TORCH = ("empirical_ntk", "feature_kernel", "ntk_probe", "output_gradient_numel", "NotLayerwise")

__all__ = ["BlockSpectrum", "BlockValues", "activation_kernels", "block_kernel", "block_spectrum",
           "import_neural_tangents", "nngp_fc2", "ntk_derivative_term_fc2", "ntk_fc2", "ntk_fc2_official_erf",
           "within_class_basis", *_TORCH]


def __getattr__(name: str) -> Any:
    if name in ("empirical_ntk", "feature_kernel", "ntk_probe"):
        from ncutils.kernels import empirical

        return getattr(empirical, name)
    if name in ("output_gradient_numel", "NotLayerwise"):
        from ncutils.kernels import layerwise

        return getattr(layerwise, name)
    if name == "import_neural_tangents":
        from ncutils.kernels import nt

        return nt.import_neural_tangents
    raise AttributeError(f"module 'ncutils.kernels' has no attribute {name!r}")
