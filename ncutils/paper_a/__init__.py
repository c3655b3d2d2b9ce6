"""Paper A, *Neural (Tangent Kernel) Collapse*: the last-layer gradient flow under block kernels,
the invariant E, and the official training recipe with its NTK and NC probes.

- :mod:`ncutils.paper_a.flow`: projectors, closed-form residuals, the flow (D), E's matrix form, inits.
- :mod:`ncutils.paper_a.invariant`: E of trained features by the official class-mean formula.
- :mod:`ncutils.paper_a.balancedness`: E as the balancedness of a two-layer linear network (extension, chapter e04).
- :mod:`ncutils.paper_a.training` (torch): the recipe as a task, its probe, tables of runs.
- :mod:`ncutils.paper_a.assumption`: the block-structure assumption and the theory measured in training (a08).
"""

from ncutils.paper_a.flow import (
                                  BlockOperator,
                                  FlowSolution,
                                  FlowState,
                                  fitted_log_slope,
                                  integrate_last_layer_flow,
                                  invariant_matrix,
                                  project_class_means,
                                  project_global,
                                  random_init,
                                  residual_closed_form,
                                  residual_components,
                                  targets,
                                  zero_invariant_init,
)
from ncutils.paper_a.invariant import (
                                  declared_feature_kernels,
                                  invariant,
                                  invariant_alignment,
                                  invariant_alpha,
                                  invariant_norm,
                                  invariant_relative_norm,
)

__all__ = ["BlockOperator", "FlowSolution", "FlowState", "declared_feature_kernels", "fitted_log_slope",
           "integrate_last_layer_flow", "invariant", "invariant_alignment", "invariant_alpha", "invariant_matrix",
           "invariant_norm", "invariant_relative_norm", "project_class_means", "project_global", "random_init",
           "residual_closed_form", "residual_components", "targets", "zero_invariant_init"]
