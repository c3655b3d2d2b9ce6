"""Paper A's training recipe with NTK and Neural Collapse probes (notes §2.2–2.3, Appendix A).

MSE as ½·mean over batch and classes, SGD with Nesterov momentum 0.9, weight decay 5e-4 on weight
matrices only (ndim > 1), step decay ×0.1 at 30/60/90 % of the epochs, batches of exactly 12
samples per class. Every ``probe_every`` epochs (and at initialisation) the probe evaluates, on the
epoch's last batch in eval mode, the official metrics (same key names as the official pickle) and
extras, with kernels from per-sample Jacobians computed once (:func:`ncutils.kernels.ntk_probe`).

A run is a sweep task ``run_config(config, workdir)``: it checkpoints into ``workdir`` and resumes
from there, ending with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ncutils import metrics as M
from ncutils.data.images import RESIZED_32, balanced_batches, load_train_test
from ncutils.device import default_device
from ncutils.kernels import ntk_probe
from ncutils.models import INITS, build_model
from ncutils.sweep import Diverged, Grid

CONFIG_KEYS = frozenset({"model", "data", "init", "lr", "epochs", "probe_every", "train_per_class",
                         "test_per_class", "batch_per_class", "weight_decay", "seed", "checkpoint_every", "widths",
                         "device", "probe_output_chunk"})
# device: "cpu", "cuda", or "auto" (CUDA when available, ncutils.device); probe_output_chunk: output
# coordinates whose Jacobian factors the probe holds at once (None: all; VGG at paper scale needs a bound)
DEFAULTS: dict[str, Any] = {"batch_per_class": 12, "weight_decay": 5e-4, "seed": 0, "checkpoint_every": 10,
                            "widths": None, "device": "cpu", "probe_output_chunk": None}
EVAL_BATCH = 1000  # samples per forward pass when evaluating a whole split
OFFICIAL_KEYS = ("loss", "accuracy", "test_loss", "test_accuracy", "gamma_dist_to_Y", "kappa_dist_to_Y", "alpha",
                 "invariant_norm", "invariant_alignment", "H1_norm", "H2_norm", "global_mean_norm", "NC1", "NC2", "NC3")


def mse(out: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """½·mean over batch and classes of (f − onehot)² (the official `mean(optax.l2_loss)`)."""
    return 0.5 * torch.mean((out - torch.nn.functional.one_hot(y, n_classes).to(out.dtype)) ** 2)


def _optimizer(model: torch.nn.Module, lr: float, wd: float, epochs: int):
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)
    milestones = [math.ceil(f * epochs) for f in (0.3, 0.6, 0.9)]
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=0.1)


def predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Outputs of ``model`` (eval mode, no gradients) on ``x``, ``EVAL_BATCH`` samples at a time."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])


def probe(model, x: torch.Tensor, y: torch.Tensor, test: tuple[torch.Tensor, torch.Tensor], n_classes: int,
          keep_kernels: bool = False, output_chunk: int | None = None) -> dict[str, Any]:
    """Official metrics and extras on a class-sorted balanced batch (eval mode), kernels on the model's device."""
    model.eval()
    with torch.no_grad():
        out = model(x)
        H = model.features(x).double().cpu().numpy()
    test_out = predict(model, test[0])
    theta, theta_h = ntk_probe(model, x, output_chunk_size=output_chunk)
    theta = theta.permute(2, 0, 1).double().cpu().numpy()  # (C, N, N)
    theta_h = theta_h.permute(2, 0, 1).double().cpu().numpy()  # (n, N, N)
    yn = y.cpu().numpy()
    gamma = M.block_stats_official(theta, yn)
    kappa = M.block_stats_official(theta_h, yn)
    W = model.classifier.weight.detach().double().numpy()
    b = model.classifier.bias.detach().double().numpy()
    means = M.class_means(H, yn)
    m = int(np.bincount(yn)[0])
    dev = H - means[yn]
    rec = {
        "loss": float(mse(out, y, n_classes)), "accuracy": float((out.argmax(1) == y).double().mean()),
        "test_loss": float(mse(test_out, test[1], n_classes)),
        "test_accuracy": float((test_out.argmax(1) == test[1]).double().mean()),
        "gamma_dist_to_Y": 1.0 - M.kernel_alignment_official(theta, yn),
        "kappa_dist_to_Y": 1.0 - M.kernel_alignment_official(theta_h, yn),
        "alpha": M.invariant_alpha(kappa, n_classes, m),
        "invariant_norm": M.invariant_norm(W, H, yn, kappa),
        "invariant_alignment": M.invariant_alignment(W, H, yn, kappa),
        "H1_norm": float(np.linalg.norm(means.T @ means)), "H2_norm": float(np.linalg.norm(dev.T @ dev)),
        "global_mean_norm": float(np.sum(means.mean(axis=0) ** 2)),
        "NC1": M.nc1_std(H, yn), "NC2": M.nc2(H, yn), "NC3": M.nc3(H, yn, W),
        # extras
        "NC1_papyan": M.nc1(H, yn), "NC1_rel": M.nc1_rel(H, yn), "NC4": M.nc4(H, yn, W, b),
        "invariant_relative_norm": M.invariant_relative_norm(W, H, yn, kappa),
        "gamma": list(gamma), "kappa": list(kappa),
    }
    if keep_kernels:
        rec["trace_ntk"] = theta.sum(axis=0).tolist()
        rec["trace_feature_kernel"] = theta_h.sum(axis=0).tolist()
    return rec


def run_config(config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Train one configuration with probes; resumable from ``workdir/checkpoint.pt``."""
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}: allowed {sorted(CONFIG_KEYS)}")
    cfg = {**DEFAULTS, **config}
    device = default_device() if cfg["device"] == "auto" else torch.device(cfg["device"])
    torch.manual_seed(cfg["seed"])
    train, test = load_train_test(cfg["data"], cfg["train_per_class"], cfg["test_per_class"], cfg["seed"])
    C = int(train.y.max()) + 1
    xtr, ytr = torch.as_tensor(train.x, device=device), torch.as_tensor(train.y, device=device)
    test_t = (torch.as_tensor(test.x, device=device), torch.as_tensor(test.y, device=device))
    model = build_model(cfg["model"], n_classes=C, in_shape=tuple(train.x.shape[1:]), init=cfg["init"],
                        seed=cfg["seed"], widths=cfg["widths"]).to(device)
    opt, sched = _optimizer(model, cfg["lr"], cfg["weight_decay"], cfg["epochs"])
    Path(workdir).mkdir(parents=True, exist_ok=True)
    ckpt = Path(workdir) / "checkpoint.pt"
    history: list[dict[str, Any]] = []
    start, resumed_from = 0, None
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        history, start, resumed_from = state["history"], state["epoch"], state["epoch"]
    last = None
    for epoch in range(start, cfg["epochs"] + 1):
        if epoch > 0:
            model.train()
            for idx in balanced_batches(train.y, cfg["batch_per_class"], epoch, cfg["seed"]):
                opt.zero_grad()
                loss = mse(model(xtr[idx]), ytr[idx], C)
                if not torch.isfinite(loss):
                    raise Diverged(f"loss is {loss.item()} at epoch {epoch}")
                loss.backward()
                opt.step()
                last = idx
            sched.step()
        if epoch % cfg["probe_every"] == 0 or epoch == cfg["epochs"]:
            idx = last if last is not None else next(balanced_batches(train.y, cfg["batch_per_class"], 0, cfg["seed"]))
            rec = probe(model, xtr[idx], ytr[idx], test_t, C, keep_kernels=epoch in (0, cfg["epochs"]),
                        output_chunk=cfg["probe_output_chunk"])
            if not np.isfinite(rec["loss"]):
                raise Diverged(f"probe loss is {rec['loss']} at epoch {epoch}")
            history.append({"epoch": epoch, **rec})
        if epoch > 0 and (epoch % cfg["checkpoint_every"] == 0) and epoch < cfg["epochs"]:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "history": history, "epoch": epoch + 1}, tmp)
            tmp.replace(ckpt)
    train_acc = float((predict(model, xtr).argmax(1) == ytr).double().mean())
    return {"history": history, "train_accuracy": train_acc, "resumed_from": resumed_from,
            "n_parameters": sum(p.numel() for p in model.parameters()), "device": str(device)}


PAPER_LRS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]  # our choice (notes §4): the paper's grid is unknown
# the official architecture per data set (notes §2.3); VGG reads MNIST/FashionMNIST resized to 32×32
PAPER_RUNS = (("resnet20", "mnist"), ("resnet20", "fashion_mnist"), ("resnet20", "cifar10"),
              ("vgg11", "mnist_32"), ("vgg11", "fashion_mnist_32"), ("vgg16", "cifar10"),
              ("densenet40", "mnist"), ("densenet40", "fashion_mnist"), ("densenet40", "cifar10"))
# per class: the official truncation of the train split (5412 is the official code's MNIST figure,
# B12), and our balanced subset of the test split (MNIST's smallest test class has 892 images)
PAPER_SIZES = {"mnist": dict(train_per_class=5412, test_per_class=892),
               "fashion_mnist": dict(train_per_class=6000, test_per_class=1000),
               "cifar10": dict(train_per_class=5000, test_per_class=1000)}

_MLP_CPU = dict(model="mlp", data="digits", epochs=1500, probe_every=250, train_per_class=150, test_per_class=20)
_RESNET_CPU = dict(model="resnet8_w8", data="mnist5k_14", epochs=200, probe_every=50, train_per_class=400,
                   test_per_class=100)
SWEEPS: dict[str, dict[str, dict[str, Any]]] = {
    # per profile: the parts of the NC-vs-invariant sweep (notes §4, chapter 6); each part's list
    # of learning rates is crossed with the three initialisations and run with the sweep's seed s, or,
    # for a part with ``more_seeds=k``, with the seeds s+1, …, s+k instead
    "smoke": {"mlp": dict(model="mlp", data="digits", epochs=40, probe_every=20, train_per_class=150,
                          test_per_class=20, lrs=[0.03, 0.3])},
    "cpu": {"mlp": dict(**_MLP_CPU, lrs=[0.01, 0.03, 0.1, 0.3, 1.0]),
            "resnet": dict(**_RESNET_CPU, lrs=[0.03, 0.3]),
            # the runs without NC nearest the groups' boundary again with the next two seeds, to show how
            # much a single run's final numbers there depend on the seed (not used by the sweep's claims)
            "mlp-seeds": dict(**_MLP_CPU, lrs=[0.03], more_seeds=2),
            "resnet-seeds": dict(**_RESNET_CPU, lrs=[0.03], more_seeds=2)},
    # the official grid: 400 epochs, metrics every epoch (EPOCH_STEP = 1), batches of 12 per class
    # on CUDA when available; the probe holds the Jacobian factors of 120 samples × a group of outputs
    # (VGG's ~10 M parameters: 4 outputs ≈ 20–30 GB in float32; the others ≤ 0.3 M parameters)
    "paper": {f"{model}-{data}": dict(model=model, data=data, epochs=400, probe_every=1,
                                      **PAPER_SIZES[RESIZED_32.get(data, data)], lrs=PAPER_LRS, device="auto",
                                      probe_output_chunk=4 if model.startswith("vgg") else 32)
              for model, data in PAPER_RUNS},
}


def _sweep(profile: str) -> dict[str, dict[str, Any]]:
    if profile not in SWEEPS:
        raise ValueError(f"unknown profile {profile!r} for the paper-A sweep: {sorted(SWEEPS)}")
    return SWEEPS[profile]


def sweep_configs(profile: str, part: str, seed: int = 0) -> list[dict[str, Any]]:
    """The configurations of one part (a key of ``SWEEPS[profile]``) of the sweep at ``profile`` with seed ``seed``."""
    parts = _sweep(profile)
    if part not in parts:
        raise ValueError(f"no part {part!r} in the {profile!r} sweep: {sorted(parts)}")
    spec = dict(parts[part])
    lrs, more = spec.pop("lrs"), spec.pop("more_seeds", 0)
    seeds = [seed + k for k in range(1, more + 1)] if more else [seed]
    return [{**spec, "init": init, "lr": lr, "seed": s} for s in seeds for init in INITS for lr in lrs]


def sweep_grid(profile: str, seed: int = 0) -> Grid:
    """The whole NC-vs-invariant sweep at ``profile`` (every part × init × lr) with seed ``seed`` as one grid."""
    configs = [c for part in _sweep(profile) for c in sweep_configs(profile, part, seed)]
    return Grid("a07_nc_vs_invariant", "ncutils.train.paper_a:run_config", configs, CONFIG_KEYS)
