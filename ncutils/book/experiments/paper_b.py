"""Paper B's grids: trained 2-layer networks (b06, b08), the adaptive kernel (b07) and the 4-class mixture (b09)."""

from __future__ import annotations

from typing import Any

from ncutils.data.gaussian import FOUR_CLASS_MEANS
from ncutils.paper_b import adaptive_kernel as ak
from ncutils.paper_b import feature_learning as fl
from ncutils.paper_b import four_class
from ncutils.paper_b import two_layer_training as fcn
from ncutils.runs import Grid

FCN_EPOCHS = 1000  # the official recipe's epochs (the b07 comparison runs b06's networks)


def balanced_configs(n_values, d0_values, repeats: int, activations, epochs: int, seed: int) -> list[dict[str, Any]]:
    """Networks on balanced mixtures: every activation × N × d0 × repeat (repeat r draws with rep = seed + r)."""
    return [{"N": N, "d0": d0, "rep": seed + rep, "activation": act, "epochs": epochs}
            for act in activations for N in n_values for d0 in d0_values for rep in range(repeats)]


def trained_fcn(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter b06: the official single Erf run (``fcn.py``, notes F-K) at the ``single_run`` settings, with
    its loss history and predictions (first: the longest run), then every activation × N × d0 × repeat."""
    single = {**cfg["single_run"], "rep": seed, "activation": "erf", "loss_every": 10, "keep_predictions": True}
    return [Grid("b06_trained_fcn", fcn.run_config, [single] + balanced_configs(
        cfg["n_values"], cfg["d0_values"], cfg["repeats"], cfg["activations"], cfg["epochs"], seed))]


def adaptive_kernel(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter b07: the ``code`` variant for every N × d0 × repeat, the ``theory`` variant for every
    ``theory_n_values`` × ``theory_d0_values`` × repeat, the label-permuted ``code`` runs at the smallest N;
    and the Erf networks of chapter b06 on the same draws."""
    n0 = cfg["n_values"][0]
    configs = [{"N": N, "d0": d0, "rep": seed + r, "variant": "code"}
               for N in cfg["n_values"] for d0 in cfg["d0_values"] for r in range(cfg["repeats"])]
    configs += [{"N": n0, "d0": d0, "rep": seed, "variant": "code", "permute_labels": True} for d0 in cfg["d0_values"]]
    configs += [{"N": N, "d0": d0, "rep": seed + r, "variant": "theory"}
                for N in cfg["theory_n_values"] for d0 in cfg["theory_d0_values"] for r in range(cfg["repeats"])]
    nets = balanced_configs(cfg["n_values"], cfg["d0_values"], cfg["repeats"], ["erf"], FCN_EPOCHS, seed)
    return [Grid("b07_adaptive_kernel", ak.run_config, configs), Grid("b06_trained_fcn", fcn.run_config, nets)]


def imbalanced(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter b08: Erf networks, and the adaptive kernel (both variants), for every class split × d0 × repeat."""
    configs = [{"N": sum(sizes), "class_sizes": list(sizes), "d0": d0, "rep": seed + rep, "activation": "erf"}
               for sizes in cfg["class_sizes"] for d0 in cfg["d0_values"] for rep in range(cfg["repeats"])]
    kernels = [{**{k: c[k] for k in ("N", "class_sizes", "d0", "rep")}, "variant": variant}
               for c in configs for variant in ak.VARIANTS]
    return [Grid("b08_imbalanced", fcn.run_config, configs), Grid("b08_adaptive_kernel", ak.run_config, kernels)]


def beyond_lazy(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter b10: the lazy (official recipe) and the mean-field network on each data set × d0 × repeat."""
    regimes = ({"parameterisation": "standard", "epochs": cfg["lazy_epochs"]},
               {"parameterisation": "mean_field", "epochs": cfg["mf_epochs"], "lr": cfg["mf_lr"]})
    configs = [{"data": data, "N": cfg["n"], "d0": d0, "rep": seed + r, **regime}
               for data in cfg["datasets"] for d0 in cfg["d0_values"] for r in range(cfg["repeats"]) for regime in regimes]
    return [Grid("b10_beyond_lazy", fl.run_config, configs)]


def four_class_mixture(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter b09, the 4-class mixture: the adaptive kernel (``code`` variant; ``theory`` at ``theory_n_values``)
    and networks of every activation (the official recipe with ``epochs``, scalar targets m_c/2) for every
    N × d0 × fit repeat (repeat r draws with rep = seed + r)."""
    draws = [(N, d0, seed + r) for N in cfg["n_values"] for d0 in cfg["d0_values"] for r in range(cfg["fit_repeats"])]
    kernels = [{"N": N, "d0": d0, "rep": rep, "variant": v} for v in ak.VARIANTS for N, d0, rep in draws
               if v == "code" or N in cfg["theory_n_values"]]
    nets = [{"N": N, "d0": d0, "rep": rep, "activation": act, "epochs": cfg["epochs"], "means": list(FOUR_CLASS_MEANS)}
            for act in cfg["activations"] for N, d0, rep in draws]
    return [Grid("b09_adaptive_kernel", four_class.run_adaptive_kernel, kernels),
            Grid("b09_trained_fcn", fcn.run_config, nets)]
