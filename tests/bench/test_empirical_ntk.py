"""bench.empirical_ntk: on every workload stax can build, ours and neural-tangents give the same kernel (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench import empirical_ntk as bench
from ncutils.kernels import empirical_ntk, import_neural_tangents


@pytest.mark.parametrize("workload", bench.NT_WORKLOADS)
def test_ours_and_neural_tangents_agree(workload) -> None:
    nt = import_neural_tangents()
    import jax.numpy as jnp

    model, x = bench.build(workload, torch.float64, n=3)
    ours = empirical_ntk(model, torch.as_tensor(x)).numpy()
    apply_fn, params = bench.to_stax(model, nt.stax, jnp, jnp.float64)
    theirs = np.asarray(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0)(
        bench.stax_inputs(workload, x, jnp, jnp.float64), None, params))
    assert ours.shape == theirs.shape == (3, 3, 10, 10)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * np.abs(ours).max())


def test_stax_refuses_a_padding_it_cannot_match() -> None:
    nt = import_neural_tangents()
    import jax.numpy as jnp

    with pytest.raises(ValueError, match="asymmetrically"):
        bench.to_stax(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1)), nt.stax, jnp, jnp.float64)


def test_plan_refuses_an_unknown_device_and_adds_ours_on_the_cpu_for_cuda() -> None:
    with pytest.raises(ValueError, match="device"):
        bench.plan(quick=True, device="tpu")
    cuda = bench.plan(quick=True, device="cuda")
    assert {s["device"] for s in cuda if s["implementation"] == "ncutils.empirical_ntk on cpu"} == {"cpu"}
    assert {s["device"] for s in cuda if s["implementation"] == "ncutils.empirical_ntk"} == {"cuda"}
    assert all(s["device"] == "cpu" for s in bench.plan(quick=False))
