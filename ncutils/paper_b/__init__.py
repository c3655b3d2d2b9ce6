"""Paper B, *Can Kernel Methods Explain How the Data Affects Neural Collapse?*: expected NC1 of the
2-layer kernels, the data-aware adaptive kernel, and the official 2-layer training recipe.

- :mod:`ncutils.paper_b.expected_nc1`: Monte Carlo and d0 → ∞ block moments, expected NC1.
- :mod:`ncutils.paper_b.theorem_maps`: maps over (μ, s) of expected NC1 with standard errors, per-draw NC1.
- :mod:`ncutils.paper_b.adaptive_kernel`: the equations of state (both variants) and its task.
- :mod:`ncutils.paper_b.two_layer_training` (torch): the 2-layer network and its training task.
- :mod:`ncutils.paper_b.feature_learning` (torch): the same network out of the lazy regime (mean-field
  scaling), on the mixture or on two digit classes (beyond the paper).
- :mod:`ncutils.paper_b.four_class`: the official 4-class mixture's d0 → ∞ NC1, separability, and AK task.
"""

from ncutils.paper_b.adaptive_kernel import (
                                             AdaptiveKernelResult,
                                             EoSParameters,
                                             erf_kernel,
                                             grad_trace,
                                             solve_adaptive_kernel,
)
from ncutils.paper_b.expected_nc1 import (
                                             BlockMoments,
                                             PairSamples,
                                             expected_nc1,
                                             kernel_from_pre_activation,
                                             limit_moments,
                                             limit_nc1,
                                             monte_carlo_moments,
                                             sample_pairs,
)

__all__ = ["AdaptiveKernelResult", "BlockMoments", "EoSParameters", "PairSamples", "erf_kernel", "expected_nc1",
           "grad_trace", "kernel_from_pre_activation", "limit_moments", "limit_nc1", "monte_carlo_moments",
           "sample_pairs", "solve_adaptive_kernel"]
