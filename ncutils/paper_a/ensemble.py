"""Several runs of paper A's recipe trained at once, as one stacked network (a speed-up only).

A small MLP (chapter a07's ``mlp`` on 8×8 digits, ~30 k parameters) spends most of a training step
in per-operation overhead, not in arithmetic: one step of one run takes about as long as one step of
fifteen runs whose layers are stacked into batched matrix products (``torch.baddbmm``). A small CNN
(a07's ResNet8 of width 8) uses the convolution kernels poorly with 8 channels: two runs side by side as the
groups of grouped convolutions, in the channels_last format, take ~1.4 times one run's step (:class:`StackedCNN`).
This module trains a *group* of :func:`ncutils.paper_a.training.run_config` configurations that share the
architecture, data set, sizes, epochs and probe schedule, and may differ in ``init``, ``lr``,
``weight_decay`` and ``seed`` (each member its own data split, batches and initialisation).

Each member's arithmetic is the single run's: its own weights, its own BatchNorm statistics
(batch statistics per member and channel, running averages with the same momentum), MSE or
cross-entropy on its own batch (the group's loss is the sum of the members' losses, so each member's
gradient is its own), SGD with Nesterov momentum and weight decay on weight matrices per member (the
update of :class:`torch.optim.SGD`), the same step decay. The members are copied into ordinary
:class:`ncutils.models.NCModel` networks for every probe, which is :func:`training.probe` itself. Only
the order of floating-point sums differs from a single run, so a member's numbers agree with its
single run's to rounding at first and drift apart by the chaos of training later (tests compare a few
epochs). A group is a task of its own (``run_group``): its store key is the group's configuration.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ncutils.core import task
from ncutils.data.images import balanced_batches, load_train_test
from ncutils.models import BasicBlock, NCModel, build_model
from ncutils.paper_a.assumption import lr_milestones, probe_epochs
from ncutils.paper_a.training import CONFIG_KEYS, DEFAULTS, predict, probe, training_loss

__all__ = ["MEMBER_KEYS", "StackedCNN", "StackedMLP", "grid_records", "group_configs", "member_records", "run_group", "stackable"]

MEMBER_KEYS = ("init", "lr", "weight_decay", "seed")  # what may differ between the members of a group
# run_config keys a group does not implement: they must keep their defaults
UNSUPPORTED = ("probe_parts", "class_sizes", "probe_assumption")
MOMENTUM = 0.9  # the recipe's Nesterov momentum (training._optimizer)
# the models a group can stack, and the most members per group: fifteen small MLPs cost little more than one (their
# steps are per-operation overhead); a CNN step grows with the members, two already use the convolutions well
GROUP_SIZES = {"mlp": 15, "resnet8_w8": 2, "resnet20": 2}
CHECKPOINT_SECONDS = 60.0  # a group checkpoints at its checkpoint epochs, but at most once a minute (pickling is slow)


class StackedMLP(nn.Module):
    """E copies of one MLP-shaped :class:`NCModel` (Flatten, Linear, BatchNorm1d, ReLU layers and the
    classifier) as stacked parameters: Linear weights (E, out, in), biases and BatchNorm parameters
    and statistics (E, C). ``forward`` maps (E, B, ...) inputs to (E, B, n_classes)."""

    def __init__(self, models: Sequence[NCModel]) -> None:
        super().__init__()
        kinds = [_layer_kind(m) for m in models[0].body]
        for model in models[1:]:
            same_head = model.classifier.weight.shape == models[0].classifier.weight.shape
            if [_layer_kind(m) for m in model.body] != kinds or not same_head:
                raise ValueError("the members of a group must have the same architecture")
        self.kinds = kinds + ["linear"]
        self.eps, self.momentum = [], []
        layers = [list(m.body) + [m.classifier] for m in models]
        for i, kind in enumerate(self.kinds):
            mods = [ls[i] for ls in layers]
            if kind == "linear":
                self.register_parameter(f"w{i}", nn.Parameter(torch.stack([m.weight.detach() for m in mods])))
                self.register_parameter(f"b{i}", nn.Parameter(torch.stack([m.bias.detach() for m in mods])))
            elif kind == "bn":
                self.register_parameter(f"g{i}", nn.Parameter(torch.stack([m.weight.detach() for m in mods])))
                self.register_parameter(f"b{i}", nn.Parameter(torch.stack([m.bias.detach() for m in mods])))
                self.register_buffer(f"mean{i}", torch.stack([m.running_mean for m in mods]).clone())
                self.register_buffer(f"var{i}", torch.stack([m.running_var for m in mods]).clone())
                self.register_buffer(f"count{i}", torch.stack([m.num_batches_tracked for m in mods]).clone())
                self.eps.append(mods[0].eps)
                self.momentum.append(mods[0].momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, B = x.shape[:2]
        bn = 0
        for i, kind in enumerate(self.kinds):
            if kind == "flatten":
                x = x.reshape(E, B, -1)
            elif kind == "linear":
                x = torch.baddbmm(getattr(self, f"b{i}").unsqueeze(1), x, getattr(self, f"w{i}").transpose(1, 2))
            elif kind == "relu":
                x = torch.relu(x)
            else:  # BatchNorm1d per member and channel, on the (B, E·C) view; running statistics in place
                C = x.shape[2]
                y = F.batch_norm(x.transpose(0, 1).reshape(B, E * C), getattr(self, f"mean{i}").view(-1),
                                 getattr(self, f"var{i}").view(-1), getattr(self, f"g{i}").view(-1),
                                 getattr(self, f"b{i}").view(-1), True, self.momentum[bn], self.eps[bn])
                getattr(self, f"count{i}").add_(1)
                x = y.reshape(B, E, C).transpose(0, 1)
                bn += 1
        return x

    def decayed(self) -> list[bool]:
        """Per parameter (in ``parameters()`` order): whether it is a weight matrix (decayed by the recipe)."""
        return [name.startswith("w") for name, _ in self.named_parameters()]

    @torch.no_grad()
    def copy_member(self, e: int, model: NCModel) -> NCModel:
        """Write member ``e``'s parameters and BatchNorm statistics into ``model`` (same architecture)."""
        for i, module in enumerate(list(model.body) + [model.classifier]):
            kind = self.kinds[i]
            if kind == "linear":
                module.weight.copy_(getattr(self, f"w{i}")[e])
                module.bias.copy_(getattr(self, f"b{i}")[e])
            elif kind == "bn":
                module.weight.copy_(getattr(self, f"g{i}")[e])
                module.bias.copy_(getattr(self, f"b{i}")[e])
                module.running_mean.copy_(getattr(self, f"mean{i}")[e])
                module.running_var.copy_(getattr(self, f"var{i}")[e])
                module.num_batches_tracked.copy_(getattr(self, f"count{i}")[e])
        return model


def _layer_kind(module: nn.Module) -> str:
    kinds = {nn.Flatten: "flatten", nn.Linear: "linear", nn.ReLU: "relu", nn.BatchNorm1d: "bn"}
    for cls, kind in kinds.items():
        if type(module) is cls:
            return kind
    raise ValueError(f"a {type(module).__name__} layer cannot be stacked: groups take MLPs of Flatten, Linear, "
                     "BatchNorm1d and ReLU layers (run other models one by one with run_config)")


class StackedCNN(nn.Module):
    """E copies of one convolutional :class:`NCModel` (a body of Conv2d, BatchNorm2d, ReLU, :class:`BasicBlock`,
    AdaptiveAvgPool2d and Flatten modules; a Linear classifier) as one network whose convolutions have E groups:
    member e owns the channels [e·C, (e+1)·C) of every layer, so its convolutions, BatchNorm statistics (per channel,
    over its own batch) and residual sums are its own. ``forward`` maps (E, B, C, H, W) inputs (member e's batch at
    [e]) to (E, B, n_classes). The body runs in the channels_last memory format: on this CPU a ResNet8-w8 step of two
    members so took ~11.5 ms per member against 16–18 ms for one plain run (measured; the speed-up of the CNN groups)."""

    def __init__(self, models: Sequence[NCModel]) -> None:
        super().__init__()
        self.body = _grouped([m.body for m in models]).to(memory_format=torch.channels_last)
        heads = [m.classifier for m in models]
        if any(h.weight.shape != heads[0].weight.shape for h in heads):
            raise ValueError("the members of a group must have the same architecture")
        self.weight = nn.Parameter(torch.stack([h.weight.detach() for h in heads]))  # (E, n_classes, C)
        self.bias = nn.Parameter(torch.stack([h.bias.detach() for h in heads]))  # (E, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, B = x.shape[:2]
        x = x.transpose(0, 1).reshape(B, E * x.shape[2], *x.shape[3:]).contiguous(memory_format=torch.channels_last)
        h = self.body(x).reshape(B, E, -1).transpose(0, 1)  # (E, B, C)
        return torch.baddbmm(self.bias.unsqueeze(1), h, self.weight.transpose(1, 2))

    def decayed(self) -> list[bool]:
        """Per parameter: whether the recipe decays it (the weights of convolutions and of the classifier)."""
        return [name == "weight" or (name.endswith(".weight") and p.ndim == 4) for name, p in self.named_parameters()]

    @torch.no_grad()
    def copy_member(self, e: int, model: NCModel) -> NCModel:
        """Write member ``e``'s parameters and BatchNorm statistics into ``model`` (same architecture)."""
        grouped = dict(self.body.named_modules())
        for name, module in model.body.named_modules():
            if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
                source, rows = grouped[name], slice(e * module.weight.shape[0], (e + 1) * module.weight.shape[0])
                for key, value in module.named_parameters(recurse=False):
                    value.copy_(getattr(source, key)[rows])
                if isinstance(module, nn.BatchNorm2d):
                    module.running_mean.copy_(source.running_mean[rows])
                    module.running_var.copy_(source.running_var[rows])
                    module.num_batches_tracked.copy_(source.num_batches_tracked)
        model.classifier.weight.copy_(self.weight[e])
        model.classifier.bias.copy_(self.bias[e])
        return model


def _grouped(modules: list[nn.Module]) -> nn.Module:
    """One module doing the work of ``modules`` (the same kind and shape) on their channels side by side."""
    first, E = modules[0], len(modules)
    if any(type(m) is not type(first) for m in modules):
        raise ValueError("the members of a group must have the same architecture")
    if type(first) is nn.Conv2d:
        if first.groups != 1 or first.padding_mode != "zeros":
            raise ValueError("a Conv2d with groups or non-zero padding cannot be stacked")
        conv = nn.Conv2d(E * first.in_channels, E * first.out_channels, first.kernel_size, first.stride, first.padding,
                         first.dilation, groups=E, bias=first.bias is not None)
        with torch.no_grad():
            for key, value in conv.named_parameters(recurse=False):
                value.copy_(torch.cat([getattr(m, key).detach() for m in modules]))
        return conv
    if type(first) is nn.BatchNorm2d:
        bn = nn.BatchNorm2d(E * first.num_features, eps=first.eps, momentum=first.momentum)
        with torch.no_grad():
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, key).copy_(torch.cat([getattr(m, key).detach() for m in modules]))
            bn.num_batches_tracked.copy_(first.num_batches_tracked)
        return bn
    if type(first) in (nn.ReLU, nn.AdaptiveAvgPool2d, nn.Flatten):
        return copy.deepcopy(first)
    if type(first) in (nn.Sequential, BasicBlock):
        out = copy.deepcopy(first)
        for name, _ in first.named_children():
            setattr(out, name, _grouped([getattr(m, name) for m in modules]))
        return out
    raise ValueError(f"a {type(first).__name__} layer cannot be stacked: CNN groups take Conv2d, BatchNorm2d, ReLU, "
                     "BasicBlock, AdaptiveAvgPool2d and Flatten layers (run other models one by one with run_config)")


def stack_models(models: Sequence[NCModel]) -> StackedMLP | StackedCNN:
    """The stacked network of ``models``: :class:`StackedCNN` for convolutional bodies, else :class:`StackedMLP`."""
    if any(isinstance(m, nn.Conv2d) for m in models[0].body.modules()):
        return StackedCNN(models)
    return StackedMLP(models)


class _StackedSGD:
    """SGD with Nesterov momentum 0.9 and per-member learning rate and weight decay (the latter on weight
    matrices only): for each member the update of ``torch.optim.SGD(momentum=0.9, nesterov=True)``."""

    def __init__(self, net: StackedMLP | StackedCNN, lrs: Sequence[float], wds: Sequence[float]) -> None:
        self.params = list(net.parameters())
        self.decayed = net.decayed()
        self.lr = torch.tensor(lrs, dtype=torch.float32)
        self.wd = torch.tensor(wds, dtype=torch.float32)
        E = len(lrs)
        # the member of each row of a parameter's first axis: E rows (stacked) or E blocks of rows (grouped convs)
        self.members = [torch.arange(E).repeat_interleave(p.shape[0] // E) for p in self.params]
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def step(self, scale: float, alive: torch.Tensor) -> None:
        lr = self.lr * scale * alive
        for k, (p, decayed) in enumerate(zip(self.params, self.decayed, strict=True)):
            shape, rows = (-1,) + (1,) * (p.ndim - 1), self.members[k]
            d = p.grad
            if decayed:
                d.addcmul_(self.wd[rows].view(shape), p)
            if self.buffers[k] is None:
                self.buffers[k] = d.clone()
            else:
                self.buffers[k].mul_(MOMENTUM).add_(d)
            p.addcmul_(d.add_(self.buffers[k], alpha=MOMENTUM), lr[rows].view(shape), value=-1.0)
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {"buffers": self.buffers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffers = state["buffers"]


def _losses(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """(E,) the members' losses: ``training_loss(loss)`` ("mse" or "cross_entropy", checked with the group) of each
    member's outputs (E, B, C) and labels (E, B)."""
    E, B, C = out.shape
    if loss == "mse":
        return 0.5 * torch.mean((out - F.one_hot(y, C).to(out.dtype)) ** 2, dim=(1, 2))
    return F.cross_entropy(out.reshape(E * B, C), y.reshape(E * B), reduction="none").reshape(E, B).mean(dim=1)


GROUP_KEYS = frozenset({"members"})


def _alive(errors: list[str | None]) -> torch.Tensor:
    """(E,) 1 for the members still training, 0 for those that diverged (their learning rate becomes 0)."""
    return torch.tensor([err is None for err in errors], dtype=torch.float32)


def _checked_member(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"run_config: unknown config key(s) {unknown}; allowed: {sorted(CONFIG_KEYS)}")
    return config


def _check_group(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not members:
        raise ValueError("a group needs at least one member config")
    cfgs = [{**DEFAULTS, **_checked_member(m)} for m in members]
    shared = [k for k in sorted(CONFIG_KEYS) if k not in MEMBER_KEYS]
    for k in shared:
        values = {repr(c.get(k)) for c in cfgs}
        if len(values) > 1:
            raise ValueError(f"the members of a group must share {k!r} (got {sorted(values)}); only {MEMBER_KEYS} "
                             "may differ: split the configs with group_configs")
    for k in UNSUPPORTED:
        if cfgs[0][k] != DEFAULTS[k]:
            raise ValueError(f"groups do not implement {k!r} (got {cfgs[0][k]!r}): run such configs one by one with "
                             "run_config")
    training_loss(cfgs[0]["loss"])  # an unknown loss raises here, before any training
    if cfgs[0]["device"] != "cpu":
        raise ValueError("groups train on the CPU (device='cpu'); on a GPU run the configs one by one with run_config")
    return cfgs


@task(config_keys=GROUP_KEYS)
def run_group(config: dict[str, Any], workdir: Path | None) -> dict[str, Any]:
    """Train the group ``config["members"]`` (run_config configurations) at once; one result per member:
    ``{"status": "ok" | "diverged", "error", "result"}`` with ``result`` as :func:`run_config` returns it.
    Resumable from ``workdir/checkpoint.pt``."""
    if workdir is None:
        raise ValueError("a group checkpoints: pass a workdir")
    cfgs = _check_group(config["members"])
    c0 = cfgs[0]
    splits = [load_train_test(c["data"], c["train_per_class"], c["test_per_class"], c["seed"]) for c in cfgs]
    C = int(splits[0][0].y.max()) + 1
    x = torch.stack([torch.as_tensor(tr.x) for tr, _ in splits])  # (E, N, ...)
    y = torch.stack([torch.as_tensor(tr.y) for tr, _ in splits])  # (E, N)
    tests = [(torch.as_tensor(te.x), torch.as_tensor(te.y)) for _, te in splits]
    models = [build_model(c["model"], n_classes=C, in_shape=tuple(splits[0][0].x.shape[1:]), init=c["init"],
                          seed=c["seed"], widths=c["widths"]) for c in cfgs]
    net = stack_models(models)
    opt = _StackedSGD(net, [c["lr"] for c in cfgs], [c["weight_decay"] for c in cfgs])
    objective = c0["loss"]
    epochs, E = c0["epochs"], len(cfgs)
    milestones = lr_milestones(epochs)
    probes = set(probe_epochs(epochs, c0["probe_every"], c0["probe_log"]))
    Path(workdir).mkdir(parents=True, exist_ok=True)
    ckpt = Path(workdir) / "checkpoint.pt"
    histories: list[list[dict[str, Any]]] = [[] for _ in cfgs]
    errors: list[str | None] = [None] * E
    start, resumed_from = 0, None
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        histories, errors, start, resumed_from = state["histories"], state["errors"], state["epoch"], state["epoch"]
    rows, saved = torch.arange(E)[:, None], time.monotonic()
    alive = _alive(errors)  # rebuilt only when a member diverges
    last: list[np.ndarray | None] = [None] * E
    for epoch in range(start, epochs + 1):
        if epoch > 0:
            scale = 0.1 ** sum(epoch > m for m in milestones)  # MultiStepLR after epoch-1 scheduler steps
            batches = [balanced_batches(splits[e][0].y, c["batch_per_class"], epoch, c["seed"]) for e, c in enumerate(cfgs)]
            for idx in zip(*batches, strict=True):
                ix = torch.as_tensor(np.stack(idx))
                losses = _losses(net(x[rows, ix]), y[rows, ix], objective)
                finite = torch.isfinite(losses)
                if not bool(finite.all()):
                    for e in torch.nonzero(~finite).flatten().tolist():
                        if errors[e] is None:
                            errors[e] = f"loss is {losses[e].item()} at epoch {epoch}"
                    alive = _alive(errors)
                torch.where(finite, losses, torch.zeros_like(losses)).sum().backward()
                opt.step(scale, alive)
                last = list(idx)
        if epoch in probes:
            for e, c in enumerate(cfgs):
                if errors[e] is not None:
                    continue
                model = net.copy_member(e, models[e])
                idx = last[e]
                if idx is None:  # the probe at initialisation: the first batch of epoch 0
                    idx = next(balanced_batches(splits[e][0].y, c["batch_per_class"], 0, c["seed"]))
                rec = probe(model, x[e][idx], y[e][idx], tests[e], C, keep_kernels=epoch in (0, epochs),
                            output_chunk=c["probe_output_chunk"])
                if not np.isfinite(rec["loss"]):
                    errors[e] = f"probe loss is {rec['loss']} at epoch {epoch}"
                    continue
                histories[e].append({"epoch": epoch, **rec})
            alive = _alive(errors)  # a probe may have found a member diverged
        due = time.monotonic() - saved >= CHECKPOINT_SECONDS
        if epoch > 0 and epoch % c0["checkpoint_every"] == 0 and epoch < epochs and due:
            saved = time.monotonic()
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "histories": histories, "errors": errors,
                        "epoch": epoch + 1}, tmp)
            tmp.replace(ckpt)
    results = []
    for e in range(E):
        if errors[e] is not None:
            results.append({"status": "diverged", "error": errors[e], "result": None})
            continue
        model = net.copy_member(e, models[e])
        train_acc = float((predict(model, x[e]).argmax(1) == y[e]).double().mean())
        results.append({"status": "ok", "error": None, "result": {
            "history": histories[e], "train_accuracy": train_acc, "resumed_from": resumed_from,
            "n_parameters": sum(p.numel() for p in model.parameters()), "device": "cpu"}})
    return {"members": results}


def stackable(config: dict[str, Any]) -> bool:
    """Whether a :func:`run_config` configuration can train in a group: a model of :data:`GROUP_SIZES` on the CPU,
    with the :data:`UNSUPPORTED` keys at their defaults."""
    cfg = {**DEFAULTS, **config}
    return cfg["model"] in GROUP_SIZES and cfg["device"] == "cpu" and all(cfg[k] == DEFAULTS[k] for k in UNSUPPORTED)


def group_configs(configs: Sequence[dict[str, Any]], max_members: int) -> list[dict[str, Any]]:
    """The group configs (``{"members": [...]}``) that train ``configs`` at once: configs that share every
    key but :data:`MEMBER_KEYS` go together in plan order, at most ``max_members`` per group."""
    if max_members < 1:
        raise ValueError(f"max_members must be ≥ 1, got {max_members}")
    buckets: dict[str, list[dict[str, Any]]] = {}
    for c in map(_checked_member, configs):
        shared = repr(sorted((k, repr(v)) for k, v in {**DEFAULTS, **c}.items() if k not in MEMBER_KEYS))
        buckets.setdefault(shared, []).append(dict(c))
    return [{"members": b[i : i + max_members]} for b in buckets.values() for i in range(0, len(b), max_members)]


def member_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group records (from a grid of :func:`run_group`) expanded into one record per member, shaped like a
    :func:`run_config` record (``config``, ``status``, ``error``, ``result``, ``from_store``); the group's
    ``seconds`` are shared equally. A failed group gives every member its status and error."""
    out = []
    for rec in records:
        members = rec["config"]["members"]
        share = {"from_store": rec.get("from_store", False), "seconds": rec.get("seconds", 0.0) / len(members)}
        if rec["status"] != "ok":
            out += [{"config": m, "status": rec["status"], "error": rec["error"], "result": None, **share} for m in members]
            continue
        out += [{"config": m, **r, **share} for m, r in zip(members, rec["result"]["members"], strict=True)]
    return out


def grid_records(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The run records of a chapter's grid results (name -> :class:`ncutils.runs.GridResult`), with the
    records of grids of :func:`run_group` expanded into one record per member (:func:`member_records`)."""
    out = []
    for res in results.values():
        out += member_records(res.records) if res.grid.task == run_group.name else res.records
    return out
