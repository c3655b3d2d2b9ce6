"""Paper A's training recipe with NTK and Neural Collapse probes (notes §2.2–2.3, Appendix A).

MSE as ½·mean over batch and classes, SGD with Nesterov momentum 0.9, weight decay 5e-4 on weight
matrices only (ndim > 1), step decay ×0.1 at 30/60/90 % of the epochs, batches of exactly 12
samples per class. Every ``probe_every`` epochs (and at initialisation) the probe evaluates, on the
epoch's last batch in eval mode, the official metrics (same key names as the official pickle) and
extras, with kernels from per-sample Jacobians computed once (:func:`ncutils.kernels.ntk_probe`).

A run is a task ``run_config(config, workdir)`` (:mod:`ncutils.core.task`): it checkpoints into
``workdir`` and resumes from there, ending with the same numbers as an uninterrupted run.
:func:`run_frames` turns the records of a grid of such runs into tables of final values and curves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ncutils import nc
from ncutils.core import Diverged, default_device, task
from ncutils.data.images import imbalanced_subset, load_train_test, proportional_batches
from ncutils.kernels import empirical_ntk, ntk_probe
from ncutils.models import build_model
from ncutils.paper_a.assumption import assumption_record, lr_milestones, probe_epochs
from ncutils.paper_a.imbalanced import sized_invariant, sized_invariant_alignment
from ncutils.paper_a.invariant import invariant_alignment, invariant_alpha, invariant_norm, invariant_relative_norm

__all__ = ["CONFIG_KEYS", "DEFAULTS", "LOSSES", "OFFICIAL_KEYS", "class_geometry", "history_frame", "mse", "part_probe",
           "predict", "probe", "run_config", "run_frames", "train_epoch", "training_loss"]

CONFIG_KEYS = frozenset({"model", "data", "init", "lr", "epochs", "probe_every", "train_per_class",
                         "test_per_class", "batch_per_class", "weight_decay", "seed", "checkpoint_every", "widths",
                         "device", "probe_output_chunk", "loss", "probe_parts", "class_sizes", "probe_log",
                         "probe_assumption"})
# device: "cpu", "cuda", or "auto" (CUDA when available, ncutils.core.default_device); probe_output_chunk: output
# coordinates whose Jacobian factors the probe holds at once (None: all; VGG at paper scale needs a bound);
# loss: the training objective, "mse" (paper A) or "cross_entropy" (issue 16 extension, see `training_loss`).
# probe_parts: names of parameter groups (see `part_probe`, chapter e03), each probed by the NTK of its parameters alone.
# class_sizes: None (the balanced split) or one train size per class, cut from the balanced split (issue 16,
# chapter e01; batches keep the classes' shares, :func:`ncutils.data.images.proportional_batches`, and the probe
# uses the block estimators for unequal sizes, :func:`probe`).
# probe_log: k log-spaced probe epochs besides the multiples of probe_every (`assumption.probe_epochs`);
# probe_assumption: the probe also records `assumption.assumption_record` (chapter a08).
# Store keys hash the config as given, so configs without these keys (all off by default) keep their keys.
DEFAULTS: dict[str, Any] = {"batch_per_class": 12, "weight_decay": 5e-4, "seed": 0, "checkpoint_every": 10,
                            "widths": None, "device": "cpu", "probe_output_chunk": None, "loss": "mse",
                            "probe_parts": None, "class_sizes": None, "probe_log": None, "probe_assumption": False}
LOSSES = ("mse", "cross_entropy")
EVAL_BATCH = 1000  # samples per forward pass when evaluating a whole split
OFFICIAL_KEYS = ("loss", "accuracy", "test_loss", "test_accuracy", "gamma_dist_to_Y", "kappa_dist_to_Y", "alpha",
                 "invariant_norm", "invariant_alignment", "H1_norm", "H2_norm", "global_mean_norm", "NC1", "NC2", "NC3")


def mse(out: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """½·mean over batch and classes of (f − onehot)² (the official `mean(optax.l2_loss)`)."""
    return 0.5 * torch.mean((out - torch.nn.functional.one_hot(y, n_classes).to(out.dtype)) ** 2)


def training_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]:
    """The training objective ``name`` as ``f(out, y, n_classes)``.

    "mse": :func:`mse` (paper A, notes §2.2). "cross_entropy": softmax cross-entropy of the raw logits
    against integer labels (one-hot targets, no label smoothing, no temperature), mean over the batch —
    the textbook form, like `optax.softmax_cross_entropy` averaged over the batch (the official code's
    unused `LOSS='CE'` switch, notes Appendix A; its exact form is recalled, not read). The probe's metrics,
    including its "loss" (MSE) and the MSE-derived invariant, do not change with this choice.
    """
    if name == "mse":
        return mse
    if name == "cross_entropy":
        return lambda out, y, n_classes: torch.nn.functional.cross_entropy(out, y)
    raise ValueError(f"unknown loss {name!r}: pass one of {LOSSES}")


def _optimizer(model: torch.nn.Module, lr: float, wd: float, epochs: int):
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, lr_milestones(epochs), gamma=0.1)


def predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Outputs of ``model`` (eval mode, no gradients) on ``x``, ``EVAL_BATCH`` samples at a time."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])


def probe(model, x: torch.Tensor, y: torch.Tensor, test: tuple[torch.Tensor, torch.Tensor], n_classes: int,
          keep_kernels: bool = False, output_chunk: int | None = None, sized: bool = False,
          full: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
    """Official metrics and extras on a class-sorted batch (eval mode), kernels on the model's device.

    A batch with unequal class sizes, or any batch with ``sized=True`` (the ``class_sizes`` runs, so that
    their ratio-1 control is measured alike), gets the metrics that are defined for unequal sizes: the
    block values as plain means over all entries (:func:`ncutils.nc.block_values`), the uncentred kernel
    alignments on the whole batch, the invariant for unequal sizes (:func:`sized_invariant`), α undefined
    (None), and per-class extras (:func:`_per_class_extras`). With ``full`` (the whole training set), also
    :func:`ncutils.paper_a.assumption.assumption_record`.
    """
    model.eval()
    with torch.no_grad():
        out = model(x)
        H = model.features(x).double().cpu().numpy()
    test_out = predict(model, test[0])
    theta_full = None
    if full is not None and output_chunk is None:  # the assumption's full kernel from the probe's own factors
        theta, theta_h, theta_full = ntk_probe(model, x, full=True)
        theta_full = theta_full.double().cpu().numpy()
    else:
        theta, theta_h = ntk_probe(model, x, output_chunk_size=output_chunk)
    theta = theta.permute(2, 0, 1).double().cpu().numpy()  # (C, N, N)
    theta_h = theta_h.permute(2, 0, 1).double().cpu().numpy()  # (n, N, N)
    yn = y.cpu().numpy()
    counts = np.bincount(yn)
    balanced = counts.min() == counts.max() and not sized
    blocks, alignment = (nc.block_values_official, nc.kernel_alignment_official) if balanced else (
        nc.block_values, nc.kernel_alignment)
    gamma, kappa = blocks(theta, yn), blocks(theta_h, yn)
    W = model.classifier.weight.detach().double().cpu().numpy()
    b = model.classifier.bias.detach().double().cpu().numpy()
    means = nc.class_means(H, yn)
    dev = H - means[yn]
    if balanced:
        invariant = {"alpha": invariant_alpha(kappa, n_classes, int(counts[0])),
                     "invariant_norm": invariant_norm(W, H, yn, kappa),
                     "invariant_alignment": invariant_alignment(W, H, yn, kappa),
                     "invariant_relative_norm": invariant_relative_norm(W, H, yn, kappa)}
    else:
        E = sized_invariant(W, H, yn, kappa)
        invariant = {"alpha": None, "invariant_norm": float(np.linalg.norm(E)),
                     "invariant_alignment": sized_invariant_alignment(W, H, yn, kappa),
                     "invariant_relative_norm": float(np.linalg.norm(E) / np.linalg.norm(W.T @ W)),
                     **_per_class_extras(H, yn, W, test_out, test[1])}
    rec = {
        "loss": float(mse(out, y, n_classes)), "accuracy": float((out.argmax(1) == y).double().mean()),
        "test_loss": float(mse(test_out, test[1], n_classes)),
        "test_accuracy": float((test_out.argmax(1) == test[1]).double().mean()),
        "gamma_dist_to_Y": 1.0 - alignment(theta, yn),
        "kappa_dist_to_Y": 1.0 - alignment(theta_h, yn),
        **invariant,
        "H1_norm": float(np.linalg.norm(means.T @ means)), "H2_norm": float(np.linalg.norm(dev.T @ dev)),
        "global_mean_norm": float(np.sum(means.mean(axis=0) ** 2)),
        "NC1": nc.nc1_std(H, yn), "NC2": nc.nc2(H, yn), "NC3": nc.nc3(H, yn, W),
        # extras
        "NC1_papyan": nc.nc1(H, yn), "NC1_rel": nc.nc1_rel(H, yn), "NC4": nc.nc4(H, yn, W, b),
        "gamma": list(gamma), "kappa": list(kappa),
    }
    if full is not None:
        rec.update(assumption_record(model, x, yn, theta, theta_h, full[0], full[1].cpu().numpy(), theta_full=theta_full))
    if keep_kernels:
        rec["trace_ntk"] = theta.sum(axis=0).tolist()
        rec["trace_feature_kernel"] = theta_h.sum(axis=0).tolist()
    return rec


def part_probe(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, parts: list[str],
               output_chunk: int | None = None) -> dict[str, Any]:
    """The NTK of each part's parameters alone (those whose name contains the part, e.g. "attention"), on the
    probe batch: its official block values ``gamma_<part>`` and ``<part>_dist_to_Y`` (as :func:`probe` for Θ).

    Θ is a sum over parameters, so a part's kernel is Θ with every other parameter frozen (restored after).
    """
    if isinstance(parts, str) or not all(isinstance(part, str) and part for part in parts):
        raise TypeError(f"parts must be a list of non-empty strings (parts of parameter names), got {parts!r}")
    params = dict(model.named_parameters())
    was_trainable = {name: p.requires_grad for name, p in params.items()}
    yn = y.cpu().numpy()
    rec: dict[str, Any] = {}
    try:
        for part in parts:
            chosen = [name for name in params if part in name and was_trainable[name]]
            if not chosen:
                raise ValueError(f"probe part {part!r} names no trainable parameter: parts are substrings of parameter "
                                 f"names such as {list(params)[:4]}")
            for name, p in params.items():
                p.requires_grad_(name in chosen)
            theta = empirical_ntk(model, x, outputs="diagonal", output_chunk_size=output_chunk)
            theta = theta.permute(2, 0, 1).double().cpu().numpy()  # (C, N, N)
            rec[f"gamma_{part}"] = list(nc.block_values_official(theta, yn))
            rec[f"{part}_dist_to_Y"] = 1.0 - nc.kernel_alignment_official(theta, yn)
    finally:
        for name, p in params.items():
            p.requires_grad_(was_trainable[name])
    return rec


def _per_class_extras(H: np.ndarray, y: np.ndarray, W: np.ndarray, test_out: torch.Tensor, test_y: torch.Tensor
                      ) -> dict[str, list]:
    """Per-class quantities of a probe for minority collapse (chapter e01): the class sizes of the batch, each
    class's mean squared distance to its mean, the Gram matrix of the class means centred by their mean (the
    centring of NC1_rel and NC2), the classifier rows' Gram matrix W Wᵀ, and the test accuracy per class."""
    s = nc.stats_of(H, y)
    centred = s.means - s.means.mean(axis=0)
    hits = (test_out.argmax(1) == test_y).double().cpu().numpy()
    test_labels = test_y.cpu().numpy()
    return {"class_counts": s.counts.tolist(), "class_within_sq": (s.class_sq.sum(axis=1) / s.counts).tolist(),
            "class_mean_gram": (centred @ centred.T).tolist(), "classifier_gram": (W @ W.T).tolist(),
            "test_accuracy_per_class": [float(hits[test_labels == c].mean()) for c in range(W.shape[0])]}


def train_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, n_classes: int,
                batch_per_class: int, epoch: int, seed: int, objective: Callable = mse) -> np.ndarray:
    """One epoch of the official recipe's steps (train mode, batches of :func:`proportional_batches`: the
    official balanced ones on balanced labels; ``objective``: :func:`mse` or another of :func:`training_loss`);
    returns the
    indices of the epoch's last batch (the one the probe uses). Raises ``Diverged`` on a non-finite loss."""
    model.train()
    last = None
    for idx in proportional_batches(y.cpu().numpy(), batch_per_class, epoch, seed):
        opt.zero_grad()
        loss = objective(model(x[idx]), y[idx], n_classes)
        if not torch.isfinite(loss):
            raise Diverged(f"loss is {loss.item()} at epoch {epoch}")
        loss.backward()
        opt.step()
        last = idx
    return last


@task(config_keys=CONFIG_KEYS)
def run_config(config: dict[str, Any], workdir: Path | None) -> dict[str, Any]:
    """Train one configuration with probes; resumable from ``workdir/checkpoint.pt``."""
    if workdir is None:
        raise ValueError("paper A's training checkpoints: pass a workdir")
    cfg = {**DEFAULTS, **config}
    objective = training_loss(cfg["loss"])
    device = default_device() if cfg["device"] == "auto" else torch.device(cfg["device"])
    torch.manual_seed(cfg["seed"])
    train, test = load_train_test(cfg["data"], cfg["train_per_class"], cfg["test_per_class"], cfg["seed"])
    if cfg["class_sizes"] is not None:
        train = imbalanced_subset(train, cfg["class_sizes"], cfg["seed"])
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
    probes = set(probe_epochs(cfg["epochs"], cfg["probe_every"], cfg["probe_log"]))
    for epoch in range(start, cfg["epochs"] + 1):
        if epoch > 0:
            last = train_epoch(model, opt, xtr, ytr, C, cfg["batch_per_class"], epoch, cfg["seed"], objective)
            sched.step()
        if epoch in probes:
            idx = last if last is not None else next(proportional_batches(train.y, cfg["batch_per_class"], 0, cfg["seed"]))
            rec = probe(model, xtr[idx], ytr[idx], test_t, C, keep_kernels=epoch in (0, cfg["epochs"]),
                        output_chunk=cfg["probe_output_chunk"], sized=cfg["class_sizes"] is not None,
                        full=(xtr, ytr) if cfg["probe_assumption"] else None)
            if cfg["probe_parts"]:
                rec.update(part_probe(model, xtr[idx], ytr[idx], cfg["probe_parts"], cfg["probe_output_chunk"]))
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


# ----------------------------------------------------------------- tables of runs
RUN_KEYS = ("model", "init", "lr", "seed", "weight_decay")  # weight_decay: the DEFAULTS value when not set
KERNELS = ("trace_ntk", "trace_feature_kernel")
# final value columns of :func:`run_frames`: table column -> key of the last probe
FINAL_COLUMNS = {"test acc": "test_accuracy", "NC1_rel": "NC1_rel", "NC1 (official)": "NC1", "NC1 Papyan": "NC1_papyan",
                 "NC2": "NC2", "NC3": "NC3", "NC4": "NC4", "invariant alignment": "invariant_alignment",
                 "invariant norm (raw)": "invariant_norm", "invariant norm / ‖WᵀW‖": "invariant_relative_norm"}


def history_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The probes of one run (index: epoch), with γ and κ also as columns ``gamma_d`` … ``kappa_n``."""
    history = pd.DataFrame(result["history"]).set_index("epoch")
    for name in ("gamma", "kappa"):
        for i, part in enumerate("dcn"):
            history[f"{name}_{part}"] = [v[i] for v in history[name]]
    return history


def run_frames(records: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(final, curves) of the ok runs of a grid of :func:`run_config` records: one row per run with its
    setting (``model-data``), ``RUN_KEYS``, ``wd`` ("recipe" for the recipe's weight decay, else "0": the
    ablation's label), train accuracy, the :data:`FINAL_COLUMNS`, the NTK alignment and α of
    its last probe;
    and one row per probe with the setting, ``RUN_KEYS`` and the probe's scalars."""
    finals, curves = [], []
    for rec in records:
        if rec["status"] != "ok":
            continue
        cfg = rec["config"]
        run = {"setting": f"{cfg['model']}-{cfg['data']}", **{k: {**DEFAULTS, **cfg}[k] for k in RUN_KEYS}}
        run["wd"] = "recipe" if run["weight_decay"] == DEFAULTS["weight_decay"] else "0"
        history = history_frame(rec["result"]).drop(columns=[*KERNELS, "gamma", "kappa"], errors="ignore")
        curves += [{**run, "epoch": epoch, **row} for epoch, row in history.iterrows()]
        end = history.iloc[-1]
        finals.append({**run, "train acc": rec["result"]["train_accuracy"],
                       **{col: end[key] for col, key in FINAL_COLUMNS.items()},
                       "NTK alignment": 1 - end["gamma_dist_to_Y"], "alpha": end["alpha"]})
    return pd.DataFrame(finals), pd.DataFrame(curves)


def _mean_cosine(gram: np.ndarray, rows: np.ndarray) -> float:
    """Mean cosine over the distinct pairs of ``rows`` (indices) of vectors given by their Gram matrix."""
    g = gram[np.ix_(rows, rows)]
    norms = np.sqrt(np.diag(g))
    cos = g / np.outer(norms, norms)
    return float(cos[~np.eye(len(rows), dtype=bool)].mean())


def class_geometry(record: dict[str, Any], minority: np.ndarray) -> dict[str, float]:
    """Minority against majority classes in one probe of a ``class_sizes`` run (chapter e01; minority collapse,
    Fang et al. 2021): mean pairwise cosines of the centred class means and of the classifier rows within each
    group and between them, the ratios minority/majority of mean lengths (class means, classifier rows), each
    group's mean NC1 term (a class's mean squared distance to its mean over ‖M̃‖²/C, so that NC1_rel is their
    sample-weighted mean), and each group's mean test accuracy. ``minority``: a boolean mask over the classes."""
    minority = np.asarray(minority, dtype=bool)
    if "class_mean_gram" not in record:
        raise ValueError("this probe has no per-class extras: class_geometry needs a run with class_sizes")
    G, V = np.asarray(record["class_mean_gram"]), np.asarray(record["classifier_gram"])
    if minority.shape != (len(G),) or minority.sum() < 2 or (~minority).sum() < 2:
        raise ValueError(f"minority must be a boolean mask over the {len(G)} classes with at least 2 classes on each "
                         f"side, got {minority.tolist()}")
    minor, major = np.flatnonzero(minority), np.flatnonzero(~minority)
    mean_len, w_len = np.sqrt(np.diag(G)), np.sqrt(np.diag(V))
    nc1_terms = np.asarray(record["class_within_sq"]) / (np.trace(G) / len(G))
    acc = np.asarray(record["test_accuracy_per_class"])
    cos_g, cos_v = G / np.outer(mean_len, mean_len), V / np.outer(w_len, w_len)
    return {"cos(minor, minor)": _mean_cosine(G, minor), "cos(major, major)": _mean_cosine(G, major),
            "cos(major, minor)": float(cos_g[np.ix_(major, minor)].mean()),
            "cos(w minor, w minor)": _mean_cosine(V, minor), "cos(w major, w major)": _mean_cosine(V, major),
            "cos(w major, w minor)": float(cos_v[np.ix_(major, minor)].mean()),
            "minor/major mean norm": float(mean_len[minor].mean() / mean_len[major].mean()),
            "minor/major ‖w_c‖": float(w_len[minor].mean() / w_len[major].mean()),
            "NC1 term minor": float(nc1_terms[minor].mean()), "NC1 term major": float(nc1_terms[major].mean()),
            "test acc minor": float(acc[minor].mean()), "test acc major": float(acc[major].mean())}
