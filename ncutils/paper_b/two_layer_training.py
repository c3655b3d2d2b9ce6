"""Paper B's 2-layer network and its official training recipe (notes §3, F-A; §3.1).

f(x) = W_2 φ(W_1 x + b_1) + b_2 with width 500, W_1 ~ N(0, 1/d0), W_2 ~ N(0, 1.97²/width), zero biases
(trainable); full-batch SGD (lr 1e-3, no momentum, weight decay 1e-6 on every parameter), 1000
epochs, MSE (mean) on targets ±1 — or, with the config key ``means``, on the scalar targets m_c/2 of a
balanced C-class mixture (−3, −1, 1, 3 for the official 4-class one, notes §1.5), with the accuracy of the
nearest target. NC1 (Tr Σ_W / Tr Σ_B) of the hidden post-activations over the whole training set is
measured before and after training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ncutils.core import Diverged, task
from ncutils.core.checks import as_float64, classes_and_labels
from ncutils.data.gaussian import gaussian_mixture, paper_seed
from ncutils.kernels.two_layer import nngp_fc2, ntk_fc2
from ncutils.nc.kernel import nc1_from_kernel
from ncutils.nc.measures import nc1_trace_ratio

__all__ = ["CONFIG_KEYS", "DEFAULTS", "TwoLayerNet", "nearest_target_accuracy", "run_config"]

CONFIG_KEYS = frozenset({"N", "d0", "rep", "activation", "width", "epochs", "lr", "weight_decay", "mu", "s",
                         "final_weight_std", "class_sizes", "loss_every", "keep_predictions", "means"})
DEFAULTS: dict[str, Any] = {"width": 500, "epochs": 1000, "lr": 1e-3, "weight_decay": 1e-6, "mu": 2.0, "s": 0.5,
                            "final_weight_std": 1.97, "class_sizes": None, "loss_every": 0, "keep_predictions": False,
                            "means": None}  # means: per-class mean levels (targets means/2); None: two classes ∓mu
ACT = {"erf": torch.erf, "relu": torch.relu}


class TwoLayerNet(torch.nn.Module):
    """f(x) = W_2 φ(W_1 x + b_1) + b_2, the official initialisation."""

    def __init__(self, d0: int, width: int, activation: str, final_weight_std: float, generator: torch.Generator):
        super().__init__()
        if activation not in ACT:
            raise ValueError(f"unknown activation {activation!r}: use one of {list(ACT)}")
        self.hidden = torch.nn.Linear(d0, width, dtype=torch.float64)
        self.out = torch.nn.Linear(width, 1, dtype=torch.float64)
        self.phi = ACT[activation]
        with torch.no_grad():
            self.hidden.weight.copy_(torch.randn(width, d0, generator=generator, dtype=torch.float64) / np.sqrt(d0))
            self.out.weight.copy_(torch.randn(1, width, generator=generator, dtype=torch.float64)
                                  * final_weight_std / np.sqrt(width))
            self.hidden.bias.zero_()
            self.out.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(self.hidden(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)).squeeze(1)


def nearest_target_accuracy(pred: Any, targets: Any, y: Any) -> float:
    """Fraction of scalar outputs ``pred`` whose nearest class target is their own class's (``targets``: one
    value per sample, the same within a class; ``y``: class labels)."""
    pred = as_float64(pred, "pred", ndim=1, what="(N,) scalar outputs")
    targets = as_float64(targets, "targets", ndim=1, what="(N,) regression targets")
    _, labels = classes_and_labels(y, len(pred))
    if targets.shape != pred.shape:
        raise ValueError(f"targets has shape {targets.shape} for {len(pred)} outputs: pass one target per sample")
    class_targets = np.array([targets[labels == c][0] for c in range(labels.max() + 1)])
    if np.any(targets != class_targets[labels]):
        raise ValueError("targets differ within a class: nearest-target accuracy needs one target per class")
    return float(np.mean(np.argmin(np.abs(pred[:, None] - class_targets[None, :]), axis=1) == labels))


@task(config_keys=CONFIG_KEYS)
def run_config(config: dict[str, Any], workdir: Path | None = None) -> dict[str, Any]:
    """Train one network; return NC1 of its hidden features (start, end), of the data and of its kernels.

    Optional keys: ``loss_every`` = k > 0 adds ``loss_history``, [epoch, training MSE] at epochs 0, k, 2k, …
    and at the end (the official ``fcn.py`` loss plot); ``keep_predictions`` adds the trained network's
    ``predictions`` and the ``targets`` (±1), in the draw's sample order (class 0 first)."""
    cfg = {**DEFAULTS, **config}
    N, d0 = cfg["N"], cfg["d0"]
    means = cfg["means"]
    if means is not None and not cfg["class_sizes"] and N % len(means):
        raise ValueError(f"N = {N} does not split into {len(means)} equal classes: pass class_sizes or a multiple of "
                         f"{len(means)}")
    sizes = cfg["class_sizes"] or ([N // 2, N - N // 2] if means is None else [N // len(means)] * len(means))
    seed = paper_seed(cfg["rep"], d0, N)
    data = gaussian_mixture(sizes, d0, mu=cfg["mu"], s=cfg["s"], seed=seed, means=means)
    x, t = torch.as_tensor(data.X), torch.as_tensor(data.targets)
    net = TwoLayerNet(d0, cfg["width"], cfg["activation"], cfg["final_weight_std"], torch.Generator().manual_seed(seed))
    opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])

    def hidden_nc1(exact: bool = True) -> float:
        with torch.no_grad():
            H = net.features(x).numpy()
        return nc1_trace_ratio(H, data.y) if exact else nc1_from_kernel(H @ H.T, data.y, exact=False)

    nc1_init = hidden_nc1()
    every = cfg["loss_every"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"loss_every must be an integer >= 0 (0: no loss history), got {every!r}")
    history = []
    for epoch in range(cfg["epochs"]):
        opt.zero_grad()
        loss = torch.mean((net(x) - t) ** 2)
        if not torch.isfinite(loss):
            raise Diverged(f"loss is {loss.item()} at epoch {epoch}")
        if every and epoch % every == 0:
            history.append([epoch, loss.item()])
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(x)
    act = cfg["activation"]
    extra: dict[str, Any] = {}
    if every:
        extra["loss_history"] = [*history, [cfg["epochs"], float(torch.mean((pred - t) ** 2))]]
    if cfg["keep_predictions"]:
        extra.update(predictions=pred.tolist(), targets=t.tolist())
    return {
        "nc1_init": nc1_init, "nc1_final": hidden_nc1(), "nc1_final_official_formula": hidden_nc1(exact=False),
        "train_accuracy": float((torch.sign(pred) == t).double().mean()) if means is None
        else nearest_target_accuracy(pred.numpy(), data.targets, data.y),
        "final_loss": float(torch.mean((pred - t) ** 2)),
        "nc1_data": nc1_trace_ratio(data.X, data.y),
        "nc1_nngp": nc1_from_kernel(nngp_fc2(data.X, activation=act), data.y),
        "nc1_ntk": nc1_from_kernel(ntk_fc2(data.X, activation=act), data.y),
        "nc1_nngp_official_formula": nc1_from_kernel(nngp_fc2(data.X, activation=act), data.y, exact=False),
        "nc1_ntk_official_formula": nc1_from_kernel(ntk_fc2(data.X, activation=act), data.y, exact=False),
        **extra,
    }
