"""Benchmark: ncutils.kernels.empirical_ntk against neural-tangents and the official pairwise scheme.

Run: ``make bench`` (= ``.venv/bin/python -m bench.empirical_ntk``). Prints a table and writes
``data/bench/empirical_ntk.csv`` and ``.json`` (with the machine it ran on).

Workloads (identical weights and inputs in every implementation; float32 and float64):
- ``mlp``: 784-512-512-10 MLP on 100 MNIST-shaped inputs, full C×C NTK;
- ``cnn``: conv(32)-relu-avgpool-conv(64)-relu-avgpool-global-average-pool-dense(10), no BatchNorm,
  on 120 CIFAR-shaped inputs, full C×C NTK;
- ``probe``: paper A's probe (per-output and per-feature kernels) on 120 samples of the CPU-profile
  ResNet8-w8 (BatchNorm, eval mode); neural-tangents has no BatchNorm layer, so this workload
  compares with the official per-pair scheme only, timed on a subset of pairs and extrapolated
  (said so in the table).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ncutils._nt import import_neural_tangents
from ncutils.kernels import empirical_ntk, ntk_probe
from ncutils.models import build_model
from ncutils.versioning import REPO_DIR

OUT = REPO_DIR / "data" / "bench"
REPEATS = 3


def timed(fn, repeats: int = REPEATS) -> tuple[float, object]:
    """Median seconds over ``repeats`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def jacobian_mb(n: int, outputs: int, params: int, dtype: torch.dtype) -> float:
    """Memory of the per-sample Jacobians our engine holds (chunk_size=None): N·O·P numbers."""
    return n * outputs * params * torch.finfo(dtype).bits / 8 / 2**20


def matmul_peak(dtype: torch.dtype) -> float:
    """GFLOP/s of a large matrix product in this process (the machine's practical peak)."""
    a = torch.randn(1024, 1024, dtype=dtype)
    t, _ = timed(lambda: a @ a)
    return 2 * 1024**3 / t / 1e9


def mlp_torch() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def cnn_torch() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                         nn.ReLU(), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def to_stax(model: nn.Module, stax, jnp, dtype):
    """The same network in neural-tangents' stax (NHWC images) with the torch weights (standard parameterisation)."""
    layers, params = [], []
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(stax.Dense(m.out_features, parameterization="standard"))
            params.append((jnp.asarray(m.weight.detach().numpy().T, dtype), jnp.asarray(m.bias.detach().numpy(), dtype)))
        elif isinstance(m, nn.Conv2d):
            layers.append(stax.Conv(m.out_channels, m.kernel_size, padding="SAME", parameterization="standard"))
            params.append((jnp.asarray(m.weight.detach().numpy().transpose(2, 3, 1, 0), dtype),  # OIHW -> HWIO
                           jnp.asarray(m.bias.detach().numpy(), dtype)[None, None, None, :]))
        elif isinstance(m, nn.ReLU):
            layers.append(stax.Relu())
            params.append(())
        elif isinstance(m, nn.AvgPool2d):
            layers.append(stax.AvgPool((2, 2), strides=(2, 2)))
            params.append(())
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            layers.append(stax.GlobalAvgPool())
            params.append(())
        elif isinstance(m, nn.Flatten):
            layers.append(stax.Flatten())
            params.append(())
    _, apply_fn, _ = stax.serial(*layers)
    return apply_fn, params


def pairwise_probe(model: nn.Module, x: torch.Tensor, n_pairs: int) -> float:
    """Seconds per pair of the official scheme: both per-sample gradients recomputed for every pair,
    for every output and every feature coordinate (notes B6); timed on ``n_pairs`` pairs."""
    params = [p for p in model.parameters() if p.requires_grad]
    n_out = model.classifier.out_features + model.n_features

    def outputs(xi):
        h = model.features(xi[None])
        return torch.cat([model.classifier(h), h], dim=1)[0]

    t0 = time.perf_counter()
    for k in range(n_pairs):
        a, b = x[k % len(x)], x[(7 * k + 3) % len(x)]
        for o in range(n_out):
            ga = torch.autograd.grad(outputs(a)[o], params, allow_unused=True)
            gb = torch.autograd.grad(outputs(b)[o], params, allow_unused=True)
            sum(float((u * v).sum()) for u, v in zip(ga, gb) if u is not None and v is not None)
    return (time.perf_counter() - t0) / n_pairs


def main() -> None:
    nt = import_neural_tangents()
    import jax
    import jax.numpy as jnp

    torch.set_num_threads(2)
    rows = []
    rng = np.random.default_rng(0)
    inputs = {"mlp": rng.standard_normal((100, 1, 28, 28)), "cnn": rng.standard_normal((120, 3, 32, 32))}
    builders = {"mlp": mlp_torch, "cnn": cnn_torch}
    for dtype_name, tdtype, jdtype in [("float32", torch.float32, jnp.float32), ("float64", torch.float64, jnp.float64)]:
        peak = matmul_peak(tdtype)
        for name in ("mlp", "cnn"):
            model = builders[name]().to(tdtype).eval()
            x = torch.as_tensor(inputs[name], dtype=tdtype)
            P = sum(p.numel() for p in model.parameters())
            flops = 2.0 * len(x) ** 2 * 10**2 * P  # the contraction alone
            t_ours, K_ours = timed(lambda: empirical_ntk(model, x, outputs="full"))
            rows.append(dict(workload=name, dtype=dtype_name, implementation="ncutils.empirical_ntk", seconds=t_ours,
                             jacobian_mb=jacobian_mb(len(x), 10, P, tdtype), gflops=flops / t_ours / 1e9, matmul_peak_gflops=peak, params=P, note=""))
            apply_fn, params = to_stax(model, nt.stax, jnp, jdtype)
            # stax works in NHWC: the same images, transposed
            xj = (jnp.asarray(inputs[name], jdtype).reshape(len(x), -1) if name == "mlp"
                  else jnp.asarray(inputs[name].transpose(0, 2, 3, 1), jdtype))
            if name == "mlp":
                apply_fn, params = to_stax(nn.Sequential(*list(model)[1:]), nt.stax, jnp, jdtype)
            for impl in nt.NtkImplementation:
                label = f"neural-tangents {impl.name}"
                try:
                    fn = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=impl))
                    t_nt, K_nt = timed(lambda: jax.block_until_ready(fn(xj, None, params)))
                    agree = float(np.abs(np.asarray(K_nt) - K_ours.numpy()).max() / np.abs(K_ours.numpy()).max())
                    rows.append(dict(workload=name, dtype=dtype_name, implementation=label, seconds=t_nt, jacobian_mb=np.nan,
                                     gflops=flops / t_nt / 1e9, matmul_peak_gflops=peak, params=P,
                                     note=f"max rel. difference to ours {agree:.1e}"))
                except Exception as exc:  # recorded: some implementations do not work on the pinned JAX
                    rows.append(dict(workload=name, dtype=dtype_name, implementation=label, seconds=np.nan,
                                     jacobian_mb=np.nan, gflops=np.nan, matmul_peak_gflops=peak, params=P,
                                     note=f"fails: {type(exc).__name__}: {str(exc)[:80]}"))
        model = build_model("resnet8_w8", in_shape=(1, 14, 14), init="flax").to(tdtype).eval()
        x = torch.as_tensor(rng.standard_normal((120, 1, 14, 14)), dtype=tdtype)
        t_ours, _ = timed(lambda: ntk_probe(model, x))
        P = sum(p.numel() for p in model.parameters())
        rows.append(dict(workload="probe", dtype=dtype_name, implementation="ncutils.ntk_probe", seconds=t_ours,
                         jacobian_mb=jacobian_mb(len(x), 42, P, tdtype), gflops=2.0 * 120**2 * 42 * P / t_ours / 1e9, matmul_peak_gflops=peak, params=P,
                         note="all 120×120 pairs, 10 outputs + 32 features"))
        per_pair = pairwise_probe(model, x, n_pairs=3)
        rows.append(dict(workload="probe", dtype=dtype_name, implementation="official pairwise (torch port)",
                         seconds=per_pair * 120 * 121 / 2, jacobian_mb=np.nan, gflops=np.nan, matmul_peak_gflops=peak, params=P,
                         note="timed on 3 pairs, extrapolated to the 7260 unordered pairs of the batch"))
    import pandas as pd

    table = pd.DataFrame(rows)
    table["ours_speedup"] = np.nan
    for (w, d), sub in table.groupby(["workload", "dtype"]):
        ours = sub[sub.implementation.str.startswith("ncutils")]["seconds"].iloc[0]
        table.loc[sub.index, "ours_speedup"] = sub["seconds"] / ours
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "empirical_ntk.csv", index=False)
    machine = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or 'cpu'}",
               "python": platform.python_version(), "torch": torch.__version__, "jax": jax.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (OUT / "empirical_ntk.json").write_text(json.dumps({"machine": machine, "rows": table.to_dict("records")}, indent=1,
                                                         default=float))
    print(table.to_string(index=False))
    print(machine)


if __name__ == "__main__":
    main()
