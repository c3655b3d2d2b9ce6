"""Benchmark: where the time of our empirical NTK goes, against neural-tangents in the same minutes.

Run: ``.venv/bin/python -m bench.ntk_time_budget [--workloads resnet20_nobn,cnn,vit] [--rounds 3]`` (about 9 minutes on 2 cores).
Writes ``data/bench/ntk_time_budget.json`` (with the machine), rendered by the *Performance* appendix.

The main benchmark (:mod:`bench.empirical_ntk`) times each implementation in its own process, minutes apart, on a
machine whose speed drifts by tens of percent within an hour. Here, for the float32 full kernel of a few of its
workloads, each *round* times in turn, within about a minute:

- ``ours``: :func:`ncutils.kernels.empirical_ntk`, and its two phases apart: ``factors``
  (:func:`~ncutils.kernels.layerwise.layer_factors`: the forward pass, one backward pass per output, the Jacobians
  formed during the passes, the autograd check) and ``contract`` (:func:`~ncutils.kernels.layerwise.contract`: the
  other layers' Jacobians, formed one at a time, and the Gram matrices);
- ``vjps``: the forward pass and the backward passes alone (one per output, to every trainable layer's output, as
  ours runs them): work that any engine differentiating one output at a time does;
- ``matmul_peak_gflops``: torch's 2048² matrix product in this process (:func:`bench.empirical_ntk.matmul_peak`);
- ``nt``: neural-tangents' Jacobian contraction (the fastest of its implementations that works on the pinned JAX)
  in its own process, as in the main benchmark (median of its repeats after a warm-up and compilation);
- once per round, ``levers``: the alternatives measured for two steps of ours (:func:`levers`).

From the model it counts two amounts of work that every engine contracting per-sample Jacobians does: the Gram of
the Jacobian (N·O rows of P numbers, each pair of rows once: N²O²P/2 multiply-adds) and the per-sample weight
gradients of the conv layers, Σ_p g_p u_pᵀ (N·O·C_out·k_in·positions multiply-adds); at the round's matmul peak they
give ``gram_floor_s`` and ``formation_floor_s``. ``floor_s`` = those two + ``vjps``: what an engine that forms and
contracts the Jacobians would take if its products ran at the matrix-multiply peak and its backward passes at
torch's speed. Times are medians over ``--repeats`` calls after a warm-up; rounds are kept apart (their spread is
the machine's drift).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.empirical_ntk import WORKLOADS, build, cpu_model, matmul_peak, run_one
from ncutils.core import REPO_DIR

OUT = REPO_DIR / "data" / "bench" / "ntk_time_budget.json"
NT_FASTEST = "neural-tangents JACOBIAN_CONTRACTION"


def _median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call (each call's result dropped before the next)."""
    call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def vjps(model, x) -> None:
    """The forward pass and one backward pass per output coordinate to the output of every layer with trainable
    parameters (the passes of :func:`~ncutils.kernels.layerwise.layer_factors`, without what it does with them)."""
    import torch

    layers = [m for m in model.modules() if any(p.requires_grad for p in m.parameters(recurse=False))]
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda module, inputs, output: outputs.append(output)) for m in layers]
    try:
        with torch.enable_grad():
            f = model(x).reshape(len(x), -1)
    finally:
        for h in handles:
            h.remove()
    for a in range(f.shape[1]):
        torch.autograd.grad(f[:, a].sum(), outputs, retain_graph=a < f.shape[1] - 1)


def work_counts(model, x) -> dict[str, int]:
    """Multiply-adds every per-sample-Jacobian engine does for the full kernel of ``x`` (N samples, O outputs, P
    trainable parameters): the Jacobian's Gram, each pair of its N·O rows once (N²O²P/2), and the per-sample weight
    gradients that sum over positions, Σ_p g_p u_pᵀ, of the conv layers with a trainable weight (N·O·C_out·k_in per
    output position) and of the Linear layers applied per token (N·O·d_out·d_in per token); a Linear layer's g uᵀ on
    (N, d) inputs, a product without a sum, is not counted."""
    import torch
    from torch import nn

    per_sample_output = 0

    def count(module: nn.Conv2d | nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal per_sample_output
        if isinstance(module, nn.Conv2d):
            k_in = module.in_channels // module.groups * math.prod(module.kernel_size)
            per_sample_output += module.out_channels * k_in * output[0, 0].numel()
        elif inputs[0].dim() > 2:
            per_sample_output += module.out_features * module.in_features * inputs[0][0, ..., 0].numel()

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad]
    handles = [m.register_forward_hook(count) for m in layers]
    try:
        with torch.no_grad():
            n_out = model(x[:1]).reshape(1, -1).shape[1]
    finally:
        for h in handles:
            h.remove()
    n, params = len(x), sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"samples": n, "outputs": n_out, "params": params, "gram_multiply_adds": (n * n_out) ** 2 * params // 2,
            "formation_multiply_adds": n * n_out * per_sample_output}


def measure_ours(workload: str, repeats: int, n: int | None = None) -> dict[str, float]:
    """One round of our timings (float32, this process): the whole kernel, its two phases, the backward passes
    alone and the matrix-multiply peak, with the work counts and the floors they give at that peak."""
    import torch

    from ncutils.kernels import empirical_ntk
    from ncutils.kernels.layerwise import contract, layer_factors

    torch.set_num_threads(os.cpu_count() or 1)
    model, x_np = build(workload, torch.float32, n)
    x = torch.as_tensor(x_np, dtype=torch.float32)
    result: dict[str, float] = {"ours_s": _median_seconds(lambda: empirical_ntk(model, x, outputs="full"), repeats)}
    factors = layer_factors(model, x)
    result["contract_s"] = _median_seconds(partial(contract, factors, factors, "full"), repeats)
    del factors
    result["factors_s"] = _median_seconds(lambda: layer_factors(model, x), repeats)
    result["vjps_s"] = _median_seconds(lambda: vjps(model, x), repeats)
    result["matmul_peak_gflops"] = matmul_peak("float32")
    result.update(work_counts(model, x))
    for part in ("gram", "formation"):
        result[f"{part}_floor_s"] = 2 * result[f"{part}_multiply_adds"] / (result["matmul_peak_gflops"] * 1e9)
    result["floor_s"] = result["gram_floor_s"] + result["formation_floor_s"] + result["vjps_s"]
    return result


def weight_gradient_routes(x, g) -> dict[str, Callable[[], object]]:
    """Ways to form the per-sample weight gradients Σ_p g_p u_pᵀ of a 3×3 conv with padding 1 for one output
    coordinate (one backward pass): input x (B, C_in, H, W), output gradient g (B, C, H, W); each returns
    (B, C, C_in, 3, 3) up to a reshape or permutation. What each needs only once per batch is prepared here."""
    import torch
    import torch.nn.functional as F

    from ncutils.kernels.layerwise import per_sample_weight_gradients

    B, C_in, H, W = x.shape
    C = g.shape[1]
    like = torch.zeros(B * C, C_in, 3, 3, dtype=x.dtype)  # the grouped weight's shape
    columns = torch.empty(B, C_in * 9, H * W, dtype=x.dtype)
    transposed = F.pad(x, (1, 1, 1, 1)).transpose(0, 1).contiguous()  # (C_in, B, H+2, W+2)
    flat = F.pad(F.pad(x, (1, 1, 1, 1)).reshape(B, C_in, -1), (0, 2))  # padded rows, flattened, 2 spare entries
    extended = torch.zeros(B, C, H, W + 2, dtype=x.dtype)  # g with two zero columns: rows as long as flat's
    shifted = torch.empty(9, B, C, C_in, dtype=x.dtype)

    conv = torch.nn.Conv2d(C_in, C, 3, padding=1)

    def grouped() -> object:  # ours: the convolution's weight-gradient kernel, one group per sample
        return per_sample_weight_gradients(conv, x.reshape(1, -1, H, W), g, like)

    def unfolded() -> object:  # the patches unfolded for each pass, then a batched product
        u = torch.ops.aten.im2col.out(x, [3, 3], [1, 1], [1, 1], [1, 1], out=columns)
        return torch.bmm(g.reshape(B, C, H * W), u.transpose(1, 2))

    def forward() -> object:  # a forward convolution of the input by the gradients, samples as groups
        return F.conv2d(transposed, g.reshape(B * C, 1, H, W), groups=B)

    def nine() -> object:  # nine batched products of g against the padded input shifted by each kernel offset
        extended[..., :W] = g
        rows = extended.reshape(B, C, -1)
        for k in range(9):
            offset = (k // 3) * (W + 2) + k % 3
            torch.bmm(rows, flat[:, :, offset : offset + rows.shape[2]].transpose(1, 2), out=shifted[k])
        return shifted

    return {"grouped weight-gradient kernel (ours)": grouped, "unfold + batched product": unfolded,
            "forward convolution of the input by g": forward, "nine shifted batched products": nine}


def levers(repeats: int) -> dict[str, float]:
    """Seconds of the alternatives measured for two of ResNet20's steps (float32): the per-sample weight gradients of
    a first-stage conv (16→16 channels, 3×3, 32×32, 120 samples) for one backward pass, and the Gram of a
    last-stage conv's Jacobian (1200 × 36928) as the upper block triangle with several numbers of row blocks (ours:
    :data:`~ncutils.kernels.layerwise.SymmetricGramSum.BLOCKS`) or as the full product a aᵀ."""
    import torch

    from ncutils.kernels.layerwise import SymmetricGramSum

    generator = torch.Generator().manual_seed(0)
    x, g = (torch.randn(120, 16, 32, 32, generator=generator) for _ in range(2))
    times = {f"weight gradients, one pass: {name}": _median_seconds(route, repeats)
             for name, route in weight_gradient_routes(x, g).items()}
    a = torch.randn(1200, 36928, generator=generator)
    for blocks in (4, 6, 8, 12, 16):
        gram = type("Blocks", (SymmetricGramSum,), {"BLOCKS": blocks})(len(a), a)
        mark = " (ours)" if blocks == SymmetricGramSum.BLOCKS else ""
        key = f"Gram 1200×36928: upper triangle in {blocks} row blocks{mark}"
        times[key] = _median_seconds(lambda gram=gram: gram.add(a), repeats)
    times["Gram 1200×36928: full product a aᵀ"] = _median_seconds(lambda: a @ a.T, repeats)
    return times


def measure_nt(workload: str, repeats: int, timeout: float, n: int | None = None) -> dict[str, float | str]:
    """neural-tangents' Jacobian contraction on the workload (float32), in its own process (the main benchmark's
    measurement): its median, fastest and slowest call, or the reason it gave no result."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"workload": workload, "dtype": "float32", "implementation": NT_FASTEST, "chunk_size": None,
                "repeats": repeats, "pairs": 1, "threads": os.cpu_count() or 1, "device": "cpu",
                "kernel_file": str(Path(tmp) / "nt.npy"), "samples": n}
        r = run_one(spec, timeout)
    return {"nt_s": r["seconds"], "nt_min_s": r.get("seconds_min", math.nan),
            "nt_max_s": r.get("seconds_max", math.nan), "nt_note": r["note"]}


def run_budget(workloads: list[str], rounds: int, repeats: int, timeout: float, out: Path = OUT,
               with_nt: bool = True, n: int | None = None) -> dict:
    """Measure ``rounds`` rounds (ours, then neural-tangents, per workload), write ``out`` and return its content."""
    unknown = [w for w in workloads if w not in WORKLOADS or WORKLOADS[w][2] != "full"]
    if unknown:
        raise ValueError(f"workloads {unknown}: use workloads of bench.empirical_ntk with a full kernel "
                         f"({[w for w, spec in WORKLOADS.items() if spec[2] == 'full']})")
    records, lever_rows = [], []
    for r in range(rounds):
        for workload in workloads:
            load = os.getloadavg()[0]
            row = {"round": r, "workload": workload, "load_before": load, **measure_ours(workload, repeats, n)}
            if with_nt:
                row.update(measure_nt(workload, repeats, timeout, n))
                row["nt_over_ours"] = row["nt_s"] / row["ours_s"]
                row["nt_over_floor"] = row["nt_s"] / row["floor_s"]
            row["ours_over_floor"] = row["ours_s"] / row["floor_s"]
            records.append(row)
            print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        lever_rows.append({"round": r, "load_before": os.getloadavg()[0], **levers(repeats)})
        print(lever_rows[-1], flush=True)
    import torch

    machine = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
               "python": platform.python_version(), "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg(),
               "rounds": rounds, "repeats": repeats}
    content = {"machine": machine, "rows": records, "levers": lever_rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(content, indent=1, default=float))
    return content


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="resnet20_nobn,cnn,vit", help="comma-separated workloads with a full kernel")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement, after a warm-up")
    parser.add_argument("--timeout", type=float, default=400.0, help="seconds for neural-tangents' process")
    args = parser.parse_args(argv)
    run_budget(args.workloads.split(","), args.rounds, args.repeats, args.timeout)


if __name__ == "__main__":
    main()
