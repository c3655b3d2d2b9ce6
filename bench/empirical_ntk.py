"""Benchmark: ncutils.kernels.empirical_ntk against neural-tangents and the official pairwise scheme.

Run: ``make bench`` (= ``.venv/bin/python -m bench.empirical_ntk``; ``--quick`` for a short check).
Prints a table and writes ``data/bench/empirical_ntk.csv`` and ``.json`` (with the machine). A
measurement that gives no result within ``--timeout`` seconds is a row that says so.

``--device cuda``: ours on the GPU (and, for comparison, ours on this machine's CPU), neural-tangents on
JAX's default device (the GPU when JAX has CUDA; a row says when neural-tangents is not installed),
the official scheme on the GPU; written to ``empirical_ntk_cuda.csv`` (the columns of the CPU table;
``device`` says where each row ran). On CUDA, ``peak_mb`` is torch's peak of allocated GPU memory
above what was allocated before the first call, and a call's time includes copying the kernel to
the host.

Every measurement runs in a fresh subprocess (``--one SPEC``), so that its peak memory is its
own: the high-water mark of the resident set is reset just before the first call
(``/proc/self/clear_refs``) and read after the last (``VmHWM``); the column ``peak_mb`` is that
peak minus the resident set at the reset (imports, model and inputs excluded; the result,
temporaries and, for JAX, compilation included; each call's result is freed before the next call),
``result_mb`` the result's size. Time: median of several calls after a warm-up.

Workloads (identical weights and inputs in every implementation; float32 and float64):
- ``mlp``: 784-512-512-10 MLP on 100 MNIST-shaped inputs, full C×C NTK;
- ``cnn``: conv(64)-relu-avgpool-conv(128)-relu-avgpool-conv(128)-relu-global-avgpool-dense(10),
  no BatchNorm (0.22 M parameters), on 120 CIFAR-shaped inputs, full C×C NTK;
- ``probe``: paper A's probe (per-output and per-feature kernels) on 120 samples of the
  CPU-profile ResNet8-w8 (BatchNorm in eval mode);
- ``resnet20``: the full C×C NTK of ResNet20 (0.27 M parameters, BatchNorm) on 120 CIFAR-shaped
  inputs, also with bounded chunk sizes (peak memory against the chunk's Jacobian size);
- ``mlp4``: 784-256-256-256-10 MLP (four Linear layers, a 10-way output) on 100 MNIST-shaped inputs;
- ``cnn_s2``: conv(32)-relu-conv(64, stride 2)-relu-conv(128, stride 2)-relu-global-avgpool-dense(10),
  3×3 kernels without padding (stax's ``VALID``), on 120 CIFAR-shaped inputs;
- ``resnet20_nobn``: ResNet20 without BatchNorm (:func:`resnet20_nobn`, 0.27 M parameters, every conv
  with a bias) on 120 CIFAR-shaped inputs, full C×C NTK: the ResNet that both frameworks build;
- ``vit``: the book's attention model, ``vit_tiny`` at chapter e03's ``paper`` size (d = 64, 4 pre-LN blocks of
  2-head self-attention and a GELU MLP, 7×7 patches: 16 tokens; 0.14 M parameters) on 100 MNIST-shaped inputs, full
  C×C NTK; in JAX written out layer by layer (:func:`vit_to_jax`).
neural-tangents' stax has no BatchNorm layer, so ``probe`` and ``resnet20`` compare with the official
per-pair scheme only, timed on a few pairs and extrapolated to all pairs (said so in the table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ncutils.core import REPO_DIR

OUT = REPO_DIR / "data" / "bench"
DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda")
NT_IMPLEMENTATIONS = ("JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS", "STRUCTURED_DERIVATIVES", "AUTO")
WORKLOADS = {  # name -> (samples, sample shape, outputs, number of output coordinates)
    "mlp": (100, (1, 28, 28), "full", 10),
    "cnn": (120, (3, 32, 32), "full", 10),
    "probe": (120, (1, 14, 14), "probe", 42),
    "resnet20": (120, (3, 32, 32), "full", 10),
    "mlp4": (100, (1, 28, 28), "full", 10),
    "cnn_s2": (120, (3, 32, 32), "full", 10),
    "resnet20_nobn": (120, (3, 32, 32), "full", 10),
    "vit": (100, (1, 28, 28), "full", 10),
}
NT_WORKLOADS = ("mlp", "cnn", "mlp4", "cnn_s2", "resnet20_nobn", "vit")  # built in JAX too (no BatchNorm)


# ------------------------------------------------------------------ one measurement (subprocess)
def _residual_block(c_in: int, c_out: int, stride: int):
    """relu(main(x) + shortcut(x)) with main = conv3×3-relu-conv3×3 and, where the shape changes, a 1×1
    conv shortcut with the stride (ResNet20's BasicBlock without BatchNorm, every conv with a bias).
    A stride-2 3×3 conv pads its input by one row and column after the image, as stax's ``SAME`` does
    on an even size (torch's ``padding=1`` pads one on each side: a different network)."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            first = ([nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(c_in, c_out, 3, stride)] if stride == 2
                     else [nn.Conv2d(c_in, c_out, 3, stride, 1)])
            self.main = nn.Sequential(*first, nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1))
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if (stride != 1 or c_in != c_out) else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.main(x) + self.shortcut(x))

    return Residual()


def resnet20_nobn(in_channels: int = 3, n_classes: int = 10):
    """ResNet20 without BatchNorm: conv3×3(16)-relu, 3 stages × 3 residual blocks (widths 16/32/64, stride 2
    at the first block of stages 2 and 3), global average pool, dense; any even input size."""
    from torch import nn

    layers = [nn.Conv2d(in_channels, 16, 3, 1, 1), nn.ReLU()]
    c = 16
    for stage, width in enumerate((16, 32, 64)):
        for b in range(3):
            layers.append(_residual_block(c, width, 2 if (stage > 0 and b == 0) else 1))
            c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes))


def build(workload: str, dtype, n: int | None = None):
    """The workload's model (eval mode) and inputs (its ``n`` samples, or fewer), identical in every process."""
    import torch
    from torch import nn

    from ncutils.models import build_model

    torch.manual_seed(0)
    if workload == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    elif workload == "cnn":
        model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(64, 128, 3, padding=1),
                              nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
    elif workload == "mlp4":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    elif workload == "cnn_s2":
        model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(),
                              nn.Conv2d(64, 128, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(128, 10))
    elif workload == "resnet20_nobn":
        model = resnet20_nobn()
    elif workload == "vit":
        model = build_model("vit_tiny", in_shape=(1, 28, 28), widths=(64, 4), init="flax")
    elif workload == "probe":
        model = build_model("resnet8_w8", in_shape=(1, 14, 14), init="flax")
    else:
        model = build_model("resnet20", in_shape=(3, 32, 32), init="flax")
    n_all, shape, _, _ = WORKLOADS[workload]
    x = np.random.default_rng(0).standard_normal((n_all, *shape))[:n]
    n = len(x)
    if workload in ("probe", "resnet20"):  # BatchNorm with non-trivial running statistics, then eval mode
        model.train()
        with torch.no_grad():
            model(torch.as_tensor(x[: n // 2] + 0.3, dtype=torch.float32))
    return model.to(dtype).eval(), x


def to_stax(model, stax, jnp, dtype):
    """The same network in neural-tangents' stax (NHWC images) with the torch weights (standard parameterisation)."""
    layers, params = _stax_layers(model, stax, jnp, dtype)
    _, apply_fn, _ = stax.serial(*layers)
    return apply_fn, params


def _stax_layers(model, stax, jnp, dtype) -> tuple[list, list]:
    """stax layers and their parameters for the modules of a ``Sequential`` (residual blocks included)."""
    from torch import nn

    layers, params, padded = [], [], False
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(stax.Dense(m.out_features, parameterization="standard"))
            params.append((jnp.asarray(m.weight.detach().numpy().T, dtype), jnp.asarray(m.bias.detach().numpy(), dtype)))
        elif isinstance(m, nn.ZeroPad2d):  # one row and column after the image, then a stride-2 3×3 conv: SAME
            if m.padding != (0, 1, 0, 1):
                raise ValueError(f"{m}: stax's SAME pads (0, 1, 0, 1) before a stride-2 3×3 conv, nothing else")
            padded = True
        elif isinstance(m, nn.Conv2d):
            if padded and m.padding == (0, 0) and m.stride == (2, 2) and m.kernel_size == (3, 3):
                padding = "SAME"  # (on even sizes)
            elif padded:
                raise ValueError(f"{m}: after ZeroPad2d((0, 1, 0, 1)) only a 3×3 stride-2 conv without padding is SAME")
            elif m.padding == (0, 0):
                padding = "VALID"
            elif m.stride == (1, 1) and m.padding == tuple(k // 2 for k in m.kernel_size):
                padding = "SAME"
            else:
                raise ValueError(f"{m}: stax pads asymmetrically with a stride; use padding 0 (VALID) there, or "
                                 "ZeroPad2d((0, 1, 0, 1)) before a 3×3 stride-2 conv (SAME)")
            padded = False
            layers.append(stax.Conv(m.out_channels, m.kernel_size, strides=m.stride, padding=padding,
                                    parameterization="standard"))
            params.append((jnp.asarray(m.weight.detach().numpy().transpose(2, 3, 1, 0), dtype),  # OIHW -> HWIO
                           jnp.asarray(m.bias.detach().numpy(), dtype)[None, None, None, :]))
        elif hasattr(m, "main") and hasattr(m, "shortcut"):  # a residual block: relu(main(x) + shortcut(x))
            main = _stax_layers(m.main, stax, jnp, dtype)
            short = ([stax.Identity()], [()]) if isinstance(m.shortcut, nn.Identity) else \
                _stax_layers([m.shortcut], stax, jnp, dtype)
            layers.append(stax.serial(stax.FanOut(2), stax.parallel(stax.serial(*main[0]), stax.serial(*short[0])),
                                      stax.FanInSum(), stax.Relu()))
            params.append(((), (main[1], short[1]), (), ()))
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
            if layers:  # the MLP's leading Flatten is done on the inputs
                layers.append(stax.Flatten())
                params.append(())
        else:
            raise ValueError(f"{type(m).__name__}: no stax counterpart here")
    return layers, params


def vit_to_jax(model, jax, jnp, dtype):
    """``apply_fn(params, x)`` and ``params`` for the book's ``vit_tiny`` (:func:`ncutils.models.build_model`) in
    JAX, written out layer by layer (stax has no learned position offset, and its attention is parametrised
    otherwise): non-overlapping patches, a Linear embedding, the position offset, pre-LN blocks (multi-head
    softmax(q kᵀ/√d_head) v, a GELU MLP of width 2d, each with a residual), a LayerNorm, the mean over tokens and the
    classifier; x as (B, C, H, W), the torch model's parameters by name (and its patch size, heads and LayerNorm
    epsilons)."""
    params = {name: jnp.asarray(p.detach().numpy(), dtype) for name, p in model.named_parameters()}
    blocks = [f"body.{i}" for i, m in enumerate(model.body) if type(m).__name__ == "TransformerBlock"]
    patch, heads = model.body[0].patch, model.get_submodule(f"{blocks[0]}.attention").heads
    final = f"body.{len(model.body) - 2}"  # the LayerNorm before the token mean

    def linear(p, name, x):
        return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    def layer_norm(p, name, x):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        eps = model.get_submodule(name).eps
        return (x - mean) / jnp.sqrt(var + eps) * p[f"{name}.weight"] + p[f"{name}.bias"]

    def attention(p, name, x):
        B, T, d = x.shape
        q, k, v = (linear(p, f"{name}.{w}", x).reshape(B, T, heads, -1).transpose(0, 2, 1, 3) for w in "qkv")
        weights = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / jnp.sqrt(q.shape[-1]), axis=-1)
        return linear(p, f"{name}.out", (weights @ v).transpose(0, 2, 1, 3).reshape(B, T, d))

    def apply_fn(p, x):
        B, C, H, W = x.shape
        t = x.reshape(B, C, H // patch, patch, W // patch, patch).transpose(0, 2, 4, 1, 3, 5)
        t = linear(p, "body.1", t.reshape(B, -1, C * patch**2)) + p["body.2.offset"]
        for b in blocks:
            t = t + attention(p, f"{b}.attention", layer_norm(p, f"{b}.norm1", t))
            hidden = jax.nn.gelu(linear(p, f"{b}.mlp.0", layer_norm(p, f"{b}.norm2", t)), approximate=False)
            t = t + linear(p, f"{b}.mlp.2", hidden)
        return linear(p, "classifier", layer_norm(p, final, t).mean(1))

    return apply_fn, params


def _synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def jax_model(workload: str, model, nt, jax, jnp, dtype):
    """``apply_fn`` and ``params`` of the workload's model in JAX: :func:`vit_to_jax` for ``vit``, stax otherwise."""
    return vit_to_jax(model, jax, jnp, dtype) if workload == "vit" else to_stax(model, nt.stax, jnp, dtype)


def stax_inputs(workload: str, x, jnp, dtype):
    """The inputs as the JAX model takes them: flat for the MLPs (their leading Flatten), NCHW images for ``vit``
    (:func:`vit_to_jax`), NHWC images otherwise."""
    if workload.startswith("mlp"):
        return jnp.asarray(x.reshape(len(x), -1), dtype)
    return jnp.asarray(x if workload == "vit" else x.transpose(0, 2, 3, 1), dtype)


def pairwise_seconds(model, x, outputs: str, n_pairs: int) -> float:
    """Seconds for all unordered pairs by the official scheme (notes B6): both samples' gradients
    recomputed for every pair and every output coordinate; timed on ``n_pairs`` pairs, extrapolated."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]

    def out(xi):
        if outputs == "probe":
            h = model.features(xi[None])
            return torch.cat([model.classifier(h), h], dim=1)[0]
        return model(xi[None])[0]

    def grads(xi):
        return torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(o, params, retain_graph=True)])
                            for o in out(xi)])

    t0 = time.perf_counter()
    for k in range(n_pairs):
        ga, gb = grads(x[k % len(x)]), grads(x[(7 * k + 3) % len(x)])
        _ = (ga * gb).sum(1) if outputs == "probe" else ga @ gb.T
    _synchronize(x.device.type)
    return (time.perf_counter() - t0) / n_pairs * len(x) * (len(x) + 1) / 2


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(spec: dict) -> dict:
    """Run one implementation on one workload; seconds, peak memory and the kernel."""
    import torch

    torch.set_num_threads(int(spec["threads"]))
    dtype, device = getattr(torch, spec["dtype"]), spec.get("device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda but torch sees no CUDA device (torch.cuda.is_available() is False)")
    model, x_np = build(spec["workload"], dtype, spec.get("samples"))
    _, _, outputs, _ = WORKLOADS[spec["workload"]]
    impl = spec["implementation"]
    if impl.startswith("neural-tangents"):
        from ncutils.kernels import import_neural_tangents

        nt = import_neural_tangents()
        import jax
        import jax.numpy as jnp

        jdtype = getattr(jnp, spec["dtype"])
        apply_fn, params = jax_model(spec["workload"], model, nt, jax, jnp, jdtype)
        xj = stax_inputs(spec["workload"], x_np, jnp, jdtype)
        ntk = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0,
                                          implementation=getattr(nt.NtkImplementation, impl.split()[-1])))
        call = lambda: np.asarray(jax.block_until_ready(ntk(xj, None, params)))  # noqa: E731
        device = "cpu"  # host memory is measured; JAX's own device is named in the note
        note = f"JAX on {jax.devices()[0].platform}"
    elif impl == "official pairwise (torch port)":
        x = torch.as_tensor(x_np, dtype=dtype, device=device)
        t0 = time.perf_counter()
        seconds = pairwise_seconds(model.to(device), x, outputs, int(spec["pairs"]))
        return {"seconds": seconds, "seconds_min": seconds, "seconds_max": seconds, "repeats": 1, "peak_mb": np.nan,
                "kernel": None,
                "note": f"timed on {spec['pairs']} pairs ({time.perf_counter() - t0:.1f} s), "
                        f"extrapolated to all {len(x) * (len(x) + 1) // 2} pairs"}
    else:
        from ncutils.kernels import empirical_ntk, ntk_probe

        x, model, note = torch.as_tensor(x_np, dtype=dtype, device=device), model.to(device), ""
        method = "jacobian" if impl.endswith("jacobian") else "auto"
        if outputs == "probe":
            call = lambda: torch.cat(ntk_probe(model, x, method=method, chunk_size=spec["chunk_size"]), dim=2).cpu().numpy()  # noqa: E731
        else:
            call = lambda: empirical_ntk(model, x, outputs="full", method=method,  # noqa: E731
                                         chunk_size=spec["chunk_size"]).cpu().numpy()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        peak = lambda: (torch.cuda.max_memory_allocated() - base) / 2**20  # noqa: E731
    else:
        base = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark of the resident set
        peak = lambda: _status_mb("VmHWM") - base  # noqa: E731
    t0 = time.perf_counter()
    kernel = call()
    slow = time.perf_counter() - t0 > 30.0  # a slow call is timed once after the warm-up
    times = []
    for _ in range(1 if slow else int(spec["repeats"])):
        kernel = None  # the last call's result freed first: the peak is that of one call
        t0 = time.perf_counter()
        kernel = call()
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "seconds_min": min(times), "seconds_max": max(times),
            "repeats": len(times), "peak_mb": peak(), "result_mb": kernel.nbytes / 2**20, "kernel": kernel,
            "note": note}


def matmul_peak(dtype_name: str, device: str = "cpu") -> float:
    """GFLOP/s of a 2048² matrix product with torch on ``device`` in this process (the practical peak)."""
    import torch

    a = torch.randn(2048, 2048, dtype=getattr(torch, dtype_name), device=device)
    a @ a
    _synchronize(device)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        a @ a
        _synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * 2048**3 / min(times) / 1e9


def one(spec: dict) -> None:
    """Child process: measure, save the kernel for the parent's comparison, print one JSON line."""
    try:
        result = measure(spec)
        kernel = result.pop("kernel")
        if kernel is not None:
            np.save(spec["kernel_file"], kernel.astype(np.float64))
        result["matmul_peak_gflops"] = matmul_peak(spec["dtype"], spec.get("device", "cpu"))
    except Exception as exc:  # recorded in the table: some implementations fail on the pinned JAX or run out of memory
        result = {"seconds": np.nan, "peak_mb": np.nan, "note": f"fails: {type(exc).__name__}: {str(exc)[:90]}"}
    print("RESULT " + json.dumps(result, default=float))


# ------------------------------------------------------------------ the run (parent)
def run_one(spec: dict, timeout: float) -> dict:
    import importlib.util

    if spec["implementation"].startswith("neural-tangents") and importlib.util.find_spec("neural_tangents") is None:
        return {"seconds": np.nan, "peak_mb": np.nan, "note": "not run: neural-tangents is not installed here"}
    cmd = [sys.executable, "-m", "bench.empirical_ntk", "--one", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_DIR)
    except subprocess.TimeoutExpired:
        return {"seconds": np.nan, "peak_mb": np.nan, "note": f"fails: no result within {timeout:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if not lines:  # e.g. killed for memory
        return {"seconds": np.nan, "peak_mb": np.nan,
                "note": f"fails: exit code {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:90]}"}
    return json.loads(lines[-1][len("RESULT "):])


def plan(quick: bool, device: str = "cpu") -> list[dict]:
    """The measurements, ours (on ``device``) first in each (workload, dtype) group (the others are
    compared with it); on CUDA also ours on the CPU."""
    if device not in DEVICES:
        raise ValueError(f"device={device!r}: use one of {DEVICES}")
    specs = []
    for dtype in DTYPES:
        for workload in WORKLOADS:
            ours = [("ncutils.empirical_ntk", None)]
            if workload == "resnet20":
                ours += [("ncutils.empirical_ntk", c) for c in (60, 30, 16)]
            others = [("ncutils.empirical_ntk jacobian", None)]
            if device == "cuda":
                others.append(("ncutils.empirical_ntk on cpu", None))
            if workload in NT_WORKLOADS:
                others += [(f"neural-tangents {impl}", None) for impl in NT_IMPLEMENTATIONS]
            others.append(("official pairwise (torch port)", None))
            for impl, chunk in ours + others:
                on = "cpu" if impl.endswith("on cpu") else device
                specs.append({"workload": workload, "dtype": dtype, "implementation": impl, "chunk_size": chunk,
                              "repeats": 1 if quick else 3, "pairs": 1 if quick else 3, "threads": os.cpu_count() or 1,
                              "device": on})
    if quick:
        specs = [s for s in specs if s["dtype"] == "float32" and s["workload"] in ("mlp", "probe")]
    return specs


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux; ``platform.processor()`` elsewhere, often empty) and, on
    x86, whether it has AVX-512 (the widest vector unit torch's MKL can use)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return platform.processor() or "cpu"
    text = cpuinfo.read_text()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "cpu")
    return name + (", AVX-512" if " avx512f" in text else "")


def nominal_gflop(workload: str, params: int) -> float:
    """The dense Jacobian contraction's floating-point work, 2·N²·O_pairs·P (the same for every implementation)."""
    n, _, outputs, n_out = WORKLOADS[workload]
    return 2.0 * n**2 * (n_out if outputs == "probe" else n_out**2) * params / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="float32, mlp and probe only, one repeat (a check, not the table)")
    parser.add_argument("--timeout", type=float, default=400.0, help="seconds per measurement (process start included)")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="where ours runs (cuda: its own table)")
    parser.add_argument("--workloads", help="comma-separated: measure only these and replace their rows in the "
                        "committed table (the others kept as measured; the JSON records each such run)")
    args = parser.parse_args(argv)
    if args.one:
        return one(json.loads(args.one))
    specs, chosen = plan(args.quick, args.device), args.workloads.split(",") if args.workloads else None
    if chosen:
        unknown = sorted(set(chosen) - set(WORKLOADS))
        if unknown or args.quick:
            raise SystemExit(f"--workloads: unknown {unknown}; use {list(WORKLOADS)}" if unknown
                             else "--workloads replaces rows of the full table: not with --quick")
        specs = [s for s in specs if s["workload"] in chosen]
    run_benchmark(specs, quick=args.quick, device=args.device, timeout=args.timeout, replace=chosen)


def replace_rows(old, new, old_machine: dict, new_machine: dict, workloads: list[str]):
    """The table ``old`` with its rows of ``workloads`` replaced by ``new`` (dtype, then :data:`WORKLOADS`' order;
    each group's rows in their measured order), and ``old_machine`` with ``new_machine`` appended to its
    ``replaced`` list (named with the workloads it measured)."""
    import pandas as pd

    order = {w: k for k, w in enumerate(WORKLOADS)}
    table = pd.concat([old[~old.workload.isin(workloads)], new], ignore_index=True)
    table = table.sort_values(["dtype", "workload"], key=lambda c: c.map(order) if c.name == "workload" else c,
                              kind="stable", ignore_index=True)
    return table, {**old_machine, "replaced": [*old_machine.get("replaced", []), {**new_machine, "workloads": workloads}]}


def run_benchmark(specs: list[dict], *, quick: bool, device: str, timeout: float, out_dir: Path = OUT,
                  replace: list[str] | None = None):
    """Measure ``specs`` (from :func:`plan`), print the table and write it to ``out_dir`` (CSV and JSON,
    named after the device and ``quick``); returns the table. With ``replace`` (workloads), the rows of those
    workloads replace theirs in the table already there, in :data:`WORKLOADS`' order, and the JSON keeps the
    table's machine with this run appended to its ``replaced`` list."""
    import pandas as pd
    import torch

    rows, reference = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(specs):
            spec["kernel_file"] = str(Path(tmp) / f"{k}.npy")
            t0, load = time.perf_counter(), os.getloadavg()[0]
            result = run_one(spec, timeout)
            model, _ = build(spec["workload"], torch.float32)
            params = sum(p.numel() for p in model.parameters())
            n, _, _, n_out = WORKLOADS[spec["workload"]]
            held = n if spec["chunk_size"] is None else spec["chunk_size"]
            row = {key: spec[key] for key in ("workload", "dtype", "implementation", "chunk_size", "device")}
            row.update(seconds=result["seconds"], seconds_min=result.get("seconds_min", np.nan),
                       seconds_max=result.get("seconds_max", np.nan), repeats=result.get("repeats", 0),
                       peak_mb=result["peak_mb"], result_mb=result.get("result_mb", np.nan), params=params,
                       jacobian_chunk_mb=held * n_out * params * (4 if spec["dtype"] == "float32" else 8) / 2**20,
                       gflops=nominal_gflop(spec["workload"], params) / result["seconds"],
                       matmul_peak_gflops=result.get("matmul_peak_gflops", np.nan), load_before=load, note=result["note"])
            group = (spec["workload"], spec["dtype"])
            if Path(spec["kernel_file"]).exists():
                kernel = np.load(spec["kernel_file"])
                if group not in reference:
                    reference[group] = kernel
                else:
                    ref = reference[group]
                    row["max_rel_difference"] = float(np.abs(kernel - ref).max() / np.abs(ref).max())
            rows.append(row)
            print(f"{row['workload']:9s} {row['dtype']:8s} {row['implementation']:40s} chunk={str(row['chunk_size']):5s} "
                  f"{row['seconds']:9.3f} s  peak {row['peak_mb']:8.1f} MB  ({time.perf_counter() - t0:.0f} s) {row['note']}",
                  flush=True)
    table = pd.DataFrame(rows)
    table["ours_speedup"] = np.nan  # other time / our time (whole kernel, no chunking)
    for _, sub in table.groupby(["workload", "dtype"]):
        ours = sub[(sub.implementation == "ncutils.empirical_ntk") & sub.chunk_size.isna()].iloc[0]
        table.loc[sub.index, "ours_speedup"] = sub["seconds"] / ours["seconds"]
        # the ratio's spread over repeats: the other's fastest over our slowest, the other's slowest over our fastest
        table.loc[sub.index, "speedup_low"] = sub["seconds_min"] / ours["seconds_max"]
        table.loc[sub.index, "speedup_high"] = sub["seconds_max"] / ours["seconds_min"]
    machine = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
               "python": platform.python_version(), "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": quick,
               "load_average": os.getloadavg(), "device": device,
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    name = "empirical_ntk" + ("_cuda" if device == "cuda" else "") + ("_quick" if quick else "")
    if replace:
        table, machine = replace_rows(pd.read_csv(out_dir / f"{name}.csv"), table,
                                      json.loads((out_dir / f"{name}.json").read_text())["machine"], machine, replace)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / f"{name}.csv", index=False)
    (out_dir / f"{name}.json").write_text(json.dumps({"machine": machine, "rows": table.to_dict("records")}, indent=1,
                                                     default=float))
    print(table.drop(columns=["note"]).to_string(index=False))
    print(machine)
    return table


if __name__ == "__main__":
    main()
