"""Paper B's 2-layer network out of the lazy regime (beyond the paper; book chapter b10).

Two parameterisations of f(x) = output(φ(W_1 x + b_1)), W_1 ~ N(0, 1/d0), zero biases, full-batch SGD on
the MSE (mean) to targets ±1 with weight decay on every parameter:

- ``standard``: the official recipe (:class:`ncutils.paper_b.two_layer_training.TwoLayerNet`,
  W_2 ~ N(0, 1.97²/width)), whose features barely move (notes §3.4, fact 1: the lazy regime);
- ``mean_field``: f(x) = (1/width) Σ_i a_i φ(w_iᵀx + b_i) + b_2 with a_i ~ N(0, 1), learning rate
  lr × width for a, lr × width / d0 for the first layer and lr for b_2 (mean-field scaling, Mei, Montanari &
  Nguyen 2018, with the first layer's rate divided by its fan-in as in μP, since ‖x‖² ≈ d0 here): each
  neuron's pre-activation moves by O(lr) per step whatever the width, so the hidden features are learned.

Data: the balanced Gaussian mixture (notes §1.5) or two classes of scikit-learn's digits (offline),
standardised pixels projected to d0 by a seeded Gaussian matrix, each projected coordinate then
standardised. NC1 (Tr Σ_W / Tr Σ_B) of the hidden post-activations is measured at the start and the end,
with the data's and the closed-form NNGP's and NTK's of the same inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ncutils.core import Diverged, task
from ncutils.core.checks import count
from ncutils.data.gaussian import gaussian_mixture, paper_seed
from ncutils.data.images import load_offline
from ncutils.kernels.two_layer import nngp_fc2, ntk_fc2
from ncutils.nc.kernel import nc1_from_kernel
from ncutils.nc.measures import nc1_trace_ratio
from ncutils.paper_b.two_layer_training import ACT, TwoLayerNet

__all__ = ["CONFIG_KEYS", "DATASETS", "DEFAULTS", "PARAMETERISATIONS", "MeanFieldNet", "digits_pair", "run_config"]

DATASETS = ("gaussian", "digits")
PARAMETERISATIONS = ("standard", "mean_field")
CONFIG_KEYS = frozenset({"data", "N", "d0", "rep", "parameterisation", "activation", "width", "epochs", "lr",
                         "weight_decay", "classes"})
DEFAULTS: dict[str, Any] = {"data": "gaussian", "parameterisation": "standard", "activation": "erf", "width": 500,
                            "epochs": 1000, "lr": 1e-3, "weight_decay": 1e-6, "classes": [0, 1]}


def digits_pair(classes: tuple[int, int] | list[int], per_class: int, d0: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` seeded samples of each of two digit classes (class order: ``classes[0]`` first), as
    (N, d0) float64 inputs: standardised pixels times a seeded N(0, 1/64) matrix, then each coordinate
    standardised over the N samples. Returns (X, y) with y in {0, 1}."""
    if len(classes) != 2 or len(set(classes)) != 2 or not all(c in range(10) for c in classes):
        raise ValueError(f"classes must be two different digits in 0..9, got {classes!r}")
    per_class, d0 = count(per_class, "per_class"), count(d0, "d0")
    images = load_offline("digits")
    pixels = images.x.reshape(len(images.y), -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in classes:
        idx = np.flatnonzero(images.y == c)
        if per_class > len(idx):
            raise ValueError(f"digit {c} has {len(idx)} samples, fewer than per_class={per_class}: ask for fewer")
        chosen.append(rng.choice(idx, per_class, replace=False))
    x = pixels[np.concatenate(chosen)]
    x = (x - x.mean(axis=0)) / x.std()  # one global scale: constant pixels stay zero
    z = x @ rng.normal(0.0, 1.0 / np.sqrt(x.shape[1]), size=(x.shape[1], d0))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    return z, np.repeat([0, 1], per_class)


class MeanFieldNet(torch.nn.Module):
    """f(x) = (1/width) Σ_i a_i φ(w_iᵀx + b_i) + b_2, w_i ~ N(0, I/d0), a_i ~ N(0, 1), zero biases."""

    def __init__(self, d0: int, width: int, activation: str, generator: torch.Generator):
        super().__init__()
        if activation not in ACT:
            raise ValueError(f"unknown activation {activation!r}: use one of {list(ACT)}")
        self.width = width
        self.hidden = torch.nn.Linear(d0, width, dtype=torch.float64)
        self.a = torch.nn.Parameter(torch.randn(width, generator=generator, dtype=torch.float64))
        self.b2 = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.phi = ACT[activation]
        with torch.no_grad():
            self.hidden.weight.copy_(torch.randn(width, d0, generator=generator, dtype=torch.float64) / np.sqrt(d0))
            self.hidden.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(self.hidden(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.a / self.width + self.b2


def _data(cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int]:
    N, d0 = cfg["N"], cfg["d0"]
    if N % 2:
        raise ValueError(f"N must be even (two balanced classes), got {N}")
    seed = paper_seed(cfg["rep"], d0, N)
    if cfg["data"] == "gaussian":
        mixture = gaussian_mixture([N // 2, N // 2], d0, seed=seed)
        return mixture.X, mixture.y, seed
    if cfg["data"] == "digits":
        return (*digits_pair(cfg["classes"], N // 2, d0, seed), seed)
    raise ValueError(f"unknown data {cfg['data']!r}: use one of {DATASETS}")


@task(config_keys=CONFIG_KEYS)
def run_config(config: dict[str, Any], workdir: Path | None = None) -> dict[str, Any]:
    """Train one network (either parameterisation); NC1 of its hidden features at the start and the end, of
    the data and of the NNGP and NTK of the same inputs, training accuracy and loss."""
    cfg = {**DEFAULTS, **config}
    if cfg["parameterisation"] not in PARAMETERISATIONS:
        raise ValueError(f"unknown parameterisation {cfg['parameterisation']!r}: use one of {PARAMETERISATIONS}")
    X, y, seed = _data(cfg)
    x, t = torch.as_tensor(X), torch.as_tensor(2.0 * y - 1.0)
    gen = torch.Generator().manual_seed(seed)
    d0, width, act = X.shape[1], cfg["width"], cfg["activation"]
    standard = cfg["parameterisation"] == "standard"
    net = TwoLayerNet(d0, width, act, 1.97, gen) if standard else MeanFieldNet(d0, width, act, gen)
    if standard:
        groups = [{"params": net.parameters(), "lr": cfg["lr"]}]
    else:
        groups = [{"params": net.hidden.parameters(), "lr": cfg["lr"] * width / d0},
                  {"params": [net.a], "lr": cfg["lr"] * width}, {"params": [net.b2], "lr": cfg["lr"]}]
    opt = torch.optim.SGD(groups, weight_decay=cfg["weight_decay"])

    def hidden_nc1() -> float:
        with torch.no_grad():
            return nc1_trace_ratio(net.features(x).numpy(), y)

    nc1_init = hidden_nc1()
    for epoch in range(cfg["epochs"]):
        opt.zero_grad()
        loss = torch.mean((net(x) - t) ** 2)
        if not torch.isfinite(loss):
            raise Diverged(f"loss is {loss.item()} at epoch {epoch}")
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(x)
    return {"nc1_init": nc1_init, "nc1_final": hidden_nc1(),
            "train_accuracy": float((torch.sign(pred) == t).double().mean()),
            "final_loss": float(torch.mean((pred - t) ** 2)), "nc1_data": nc1_trace_ratio(X, y),
            "nc1_nngp": nc1_from_kernel(nngp_fc2(X, activation=act), y),
            "nc1_ntk": nc1_from_kernel(ntk_fc2(X, activation=act), y)}
