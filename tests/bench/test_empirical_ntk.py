"""bench.empirical_ntk: on every workload stax can build, ours and neural-tangents give the same kernel (float64)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from bench import empirical_ntk as bench
from ncutils.kernels import empirical_ntk, import_neural_tangents


@pytest.mark.parametrize("workload", bench.NT_WORKLOADS)
def test_ours_and_neural_tangents_agree(workload) -> None:
    nt = import_neural_tangents()
    import jax
    import jax.numpy as jnp

    model, x = bench.build(workload, torch.float64, n=3)
    ours = empirical_ntk(model, torch.as_tensor(x)).numpy()
    apply_fn, params = bench.jax_model(workload, model, nt, jax, jnp, jnp.float64)
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


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_the_bn_free_resnet20_is_the_same_network_in_both_frameworks(dtype, rtol) -> None:
    """Same weights, an 8×8 input (two stride-2 stages on even sizes): same outputs, same empirical NTK."""
    nt = import_neural_tangents()
    import jax.numpy as jnp

    torch.manual_seed(0)
    model = bench.resnet20_nobn().to(getattr(torch, dtype)).eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    xt, xj = torch.as_tensor(x, dtype=getattr(torch, dtype)), jnp.asarray(x.transpose(0, 2, 3, 1), getattr(jnp, dtype))
    apply_fn, params = bench.to_stax(model, nt.stax, jnp, getattr(jnp, dtype))
    with torch.no_grad():
        out = model(xt).numpy()
    np.testing.assert_allclose(np.asarray(apply_fn(params, xj)), out, rtol=rtol, atol=rtol * np.abs(out).max())
    ours = empirical_ntk(model, xt).numpy()
    theirs = np.asarray(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0)(xj, None, params))
    assert ours.shape == theirs.shape == (2, 2, 10, 10)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.abs(ours).max())


def test_torch_padding_one_with_stride_two_is_another_network() -> None:
    """The control: torch's symmetric padding 1 before a stride-2 conv gives other outputs than stax's SAME."""
    nt = import_neural_tangents()
    import jax.numpy as jnp

    torch.manual_seed(0)
    padded = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(2, 3, 3, 2)).double()
    symmetric = nn.Sequential(nn.Conv2d(2, 3, 3, 2, padding=1)).double()
    symmetric[0].load_state_dict(padded[1].state_dict())
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))
    apply_fn, params = bench.to_stax(padded, nt.stax, jnp, jnp.float64)
    theirs = np.asarray(apply_fn(params, jnp.asarray(x.transpose(0, 2, 3, 1)))).transpose(0, 3, 1, 2)
    with torch.no_grad():
        np.testing.assert_allclose(padded(torch.as_tensor(x)).numpy(), theirs, rtol=1e-12, atol=1e-12)
        assert np.abs(symmetric(torch.as_tensor(x)).numpy() - theirs).max() > 1e-3
    with pytest.raises(ValueError, match="SAME"):
        bench.to_stax(nn.Sequential(nn.ZeroPad2d((1, 1, 1, 1)), nn.Conv2d(2, 3, 3, 2)), nt.stax, jnp, jnp.float64)


def test_the_table_gives_each_ratio_its_spread_over_repeats(tmp_path) -> None:
    """Each row keeps its fastest and slowest repeat; the ratio's range (other's fastest / our slowest, other's slowest
    / our fastest) brackets the ratio of medians."""
    base = {"workload": "mlp", "dtype": "float32", "chunk_size": None, "repeats": 3, "pairs": 1, "threads": 1,
            "device": "cpu", "samples": 6}
    specs = [{**base, "implementation": impl} for impl in ("ncutils.empirical_ntk", "ncutils.empirical_ntk jacobian")]
    table = bench.run_benchmark(specs, quick=True, device="cpu", timeout=300, out_dir=tmp_path)
    assert list(table["repeats"]) == [3, 3]
    assert list(table["result_mb"]) == [6 * 6 * 10 * 10 * 4 / 2**20] * 2  # the (N, N, O, O) float32 kernel
    assert (table["seconds_min"] <= table["seconds"]).all() and (table["seconds"] <= table["seconds_max"]).all()
    assert (table["speedup_low"] <= table["ours_speedup"]).all() and (table["ours_speedup"] <= table["speedup_high"]).all()
    assert (tmp_path / "empirical_ntk_quick.csv").exists()
    machine = json.loads((tmp_path / "empirical_ntk_quick.json").read_text())["machine"]["machine"]
    assert machine.endswith(bench.cpu_model()) and bench.cpu_model()  # the CPU's model is named


def test_replacing_a_workloads_rows_keeps_the_others_in_order() -> None:
    import pandas as pd

    old = pd.DataFrame({"workload": ["mlp", "vit", "cnn", "mlp", "vit"], "dtype": ["float32"] * 3 + ["float64"] * 2,
                        "implementation": ["a", "a", "a", "a", "a"], "seconds": [1.0, 2.0, 3.0, 4.0, 5.0]})
    new = pd.DataFrame({"workload": ["vit", "vit", "vit"], "dtype": ["float32", "float32", "float64"],
                        "implementation": ["a", "b", "a"], "seconds": [20.0, 21.0, 50.0]})
    table, machine = bench.replace_rows(old, new, {"date": "d0", "replaced": [{"date": "d1"}]}, {"date": "d2"}, ["vit"])
    assert list(zip(table.workload, table.dtype, table.seconds)) == [
        ("mlp", "float32", 1.0), ("cnn", "float32", 3.0), ("vit", "float32", 20.0), ("vit", "float32", 21.0),
        ("mlp", "float64", 4.0), ("vit", "float64", 50.0)]
    assert machine == {"date": "d0", "replaced": [{"date": "d1"}, {"date": "d2", "workloads": ["vit"]}]}
