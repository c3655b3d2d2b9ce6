# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---


# %% [markdown]
# # Does attention become block structured?
#
# Paper A's theory rests on an NTK that is block structured by class, and chapter a06 shows the empirical
# NTK of MLPs and CNNs becoming so during training. Every network of the paper is convolutional or fully
# connected. This chapter asks the same question of a small **vision transformer** trained with the paper's
# MSE recipe: do its NTK $\Theta$ and feature kernel $\Theta^h$ become block structured (the class contrast
# of the block values and the alignment with the labels rising over training), and does the invariant's
# alignment still rank the runs by NC1?
#
# :::{admonition} Whose is what
# - **Paper:** nothing here is paper A's statement. We use its recipe (MSE, balanced batches of 12 per
#   class, SGD with Nesterov momentum 0.9, weight decay 5e-4 on weight matrices, step decay) and its probe
#   (the official block values γ, κ and alignments on the epoch's last batch, the invariant alignment,
#   NC1–NC3; chapters a06, a07).
# - **Ours (extension):** the question, the model and every claim. `vit_tiny` (`ncutils.models`): 7×7 patches
#   of the 14×14 images (4 tokens, each embedded by one Linear applied per token), a learned position
#   embedding (4 × d, drawn N(0, 0.02²) in every initialisation), pre-LN transformer blocks with two-head
#   self-attention written from our own q/k/v/out Linear layers and a GELU MLP of width 2d, a final
#   LayerNorm and the mean over tokens: h ∈ ℝᵈ. The paper's three initialisations act on every Linear
#   weight (and bias); LayerNorm keeps scale 1 and shift 0. The empirical NTK is the layer-wise engine's,
#   extended to LayerNorm, position embeddings and per-token Linear layers (each checked against autograd's
#   parameter gradient, and tested against brute-force per-sample Jacobians in `tests/kernels/`).
#   Besides Θ and Θʰ, the probe measures the NTK of the attention layers' parameters alone (Θ's attention
#   share). The block statistics are a06's: the contrast $(x_c-x_n)/x_d$ of γ (NTK) and κ (feature kernel); the
#   ratios $x_c/x_n$ are shown, not claimed (they are unstable when $x_n$ is near 0).
# - **Scaled down:** `cpu` trains d = 16, 2 blocks (≈ 5 500 parameters) on 100 images per class of
#   MNIST-5k pooled to 14×14 for 1 500 epochs (12 500 steps; a07's MLP gets 18 750), 3 initialisations × lrs
#   {0.03, 0.1, 0.3} (9 runs, one seed: the middle of a07's grid; lr 0.5 diverged in a pilot). Patches of 7×7
#   (4 tokens) rather than 2×2 (49 tokens) keep the training and the per-sample Jacobian factors within the CPU
#   budget; with 4 tokens the attention mixes little, which limits what this answers. `smoke` trains 3 runs for
#   4 epochs on 24 images per class, where no claim about training is expected to hold. `paper` is a larger
#   ViT of ours (d = 64, 4 blocks, 16 tokens of 28×28 MNIST), not run here.
# - **How the length was chosen.** A first `cpu` setting trained 200 epochs (1 700 steps) at lrs {0.03, 0.1, 0.2}:
#   no run fit its training set (train accuracy 0.58–0.78), no run approached NC (NC1_rel 0.48–1.19), the
#   NTK's alignment with the labels fell in every run, and every claim below failed as stated; we first reported
#   that as the answer. It was an answer about too few steps: single pilot runs (seed 0) at 1 000 epochs fit
#   (`flax`, lr 0.1: train accuracy 1.000, NC1_rel 0.054, NTK alignment 0.62; `torch` 0.998; `normal_fan_out`
#   0.992; lr 0.3: 0.990; lr 0.03: 0.941), and at 1 500 lr 0.03 came near (0.981), so 1 500 was chosen
#   (the chapter then takes about 5 minutes at `cpu`).
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
workers = None  # Dask LocalCluster workers
sweep = None  # parts of the ViT sweep: model, data, epochs, ..., lrs (each × the three inits)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import measured, start
from ncutils.book.rankstats import spearman, spearman_permutation_p
from ncutils.book.spread import halfwidth
from ncutils.paper_a.training import history_frame, run_frames

ch = start("e03_attention_block_structure", profile=profile, seed=seed, workers=workers, sweep=sweep)
(result,) = ch.run().values()
ok = [r for r in result.records if r["status"] == "ok"]
final, curves = run_frames(ok)
SMOKE = {"smoke": "3 runs of 4 epochs on 240 images: no block structure or NC can form, and 3 runs are too few "
                  "for the spread (and a permutation p below 1/6)"}
final[["init", "lr", "train acc", "test acc", "NC1_rel", "NC2", "NC3", "NTK alignment", "invariant alignment"]].round(4)

# %%
ch.claim("no-run-lost", "every ViT run finished (failed or diverged runs)", source="derived",
         value=result.n_lost(), op="==", bound=0)
ch.claim("fits", "the ViT fits its training set under paper A's recipe: the median train accuracy over the runs",
         source="extension", **measured(lambda runs: float(runs["train acc"].median()), final), op=">=", bound=0.99,
         not_expected=SMOKE)

# %% [markdown]
# ## The kernels at initialisation and after training
# The trace over outputs of $\Theta$ and over features of $\Theta^h$ on the class-sorted probe batch (12 samples
# per class) of one run: the `flax` initialisation at the middle learning rate of the sweep.

# %%
lrs = sorted({r["config"]["lr"] for r in ok})
shown = next(r for r in ok if r["config"]["init"] == "flax" and r["config"]["lr"] == lrs[len(lrs) // 2])
shown_history = history_frame(shown["result"])
panels = [(key, label, epoch) for key, label in (("trace_ntk", "NTK Θ"), ("trace_feature_kernel", "feature kernel Θʰ"))
          for epoch in (shown_history.index[0], shown_history.index[-1])]
fig, axes = plt.subplots(2, 2, figsize=(10, 9))
for ax, (key, label, epoch) in zip(axes.flat, panels):
    image = ax.imshow(np.asarray(shown_history.loc[epoch, key]), cmap="magma")
    ax.set(title=f"trace {label}, epoch {epoch}", xticks=[], yticks=[])
    fig.colorbar(image, ax=ax, shrink=0.75)
fig.suptitle(f"vit_tiny, flax, lr {shown['config']['lr']:g}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Block statistics at initialisation and at the end, per run
# For each run, at the first probe (initialisation) and the last: a06's contrast $(x_c-x_n)/x_d$ of the block
# values of three kernels — the NTK Θ (γ), the feature kernel Θʰ (κ), and **the NTK of the attention layers'
# parameters alone** (the q, k, v and output projections of every block; Θ is a sum over parameters, so this is
# the attention's share of Θ, `ncutils.paper_a.training.part_probe`) — their ratio $x_c/x_n$, and each kernel's
# alignment with the labels ($1-$ the official distance).

# %%
KERNELS = {"gamma": ("gamma", "gamma_dist_to_Y", "the NTK's"), "kappa": ("kappa", "kappa_dist_to_Y", "the feature kernel's"),
           "attention": ("gamma_attention", "attention_dist_to_Y", "the attention layers' NTK's")}
# name: (block values, distance to the labels, whose)


def block_statistics(history: pd.DataFrame) -> dict[str, float]:
    """Contrast (x_c − x_n)/x_d, ratio x_c/x_n and alignment of each kernel at the first and the last probe of a run."""
    stats = {}
    for when, row in (("start", history.iloc[0]), ("end", history.iloc[-1])):
        for name, (values, dist, _) in KERNELS.items():
            d, c, n = row[values]
            stats[f"{name} contrast {when}"] = (c - n) / d
            stats[f"{name} ratio c/n {when}"] = c / n
            stats[f"{name} alignment {when}"] = 1.0 - row[dist]
    return stats


blocks = pd.DataFrame([{"init": r["config"]["init"], "lr": r["config"]["lr"], **block_statistics(history_frame(r["result"]))}
                       for r in ok])
for name in KERNELS:
    for stat in ("contrast", "alignment"):
        blocks[f"Δ {name} {stat}"] = blocks[f"{name} {stat} end"] - blocks[f"{name} {stat} start"]
blocks.set_index(["init", "lr"]).T.round(4)

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 8))
for col, name in enumerate(KERNELS):
    for row, stat in enumerate(("contrast", "alignment")):
        ax = axes[row, col]
        for init, runs in blocks.groupby("init"):
            line = ax.plot(runs["lr"], runs[f"{name} {stat} end"], "s-", label=f"{init}, end")[0]
            ax.plot(runs["lr"], runs[f"{name} {stat} start"], "o--", alpha=0.5, color=line.get_color(), label=f"{init}, init")
        ax.set(xscale="log", xlabel="learning rate", title=f"{KERNELS[name][2]} {stat}".replace("'s", ""))
axes[0, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Claims (extension)
# Over the runs (initialisations × learning rates), the change end − start of each kernel's contrast and
# alignment, against the runs' own spread: the two-sided Student-t half-width at 99.9 % of the mean change
# (the book's convention, `ncutils.book.spread`). Each is claimed to **rise**: mean change minus half-width
# > 0, as the block structure of paper A's assumption forming during training would have it (chapter a06
# for MLPs and CNNs). Each can fail: a mean change within the spread, or a fall, breaks it. At `cpu` the
# three contrasts rise in every run and their claims hold; the three alignments rise on average but one run
# (`torch`, lr 0.1) loses 0.16 of its NTK alignment, so their claims failed as stated and the finding, "does
# not rise beyond the spread" (id `not-…`, mean change minus half-width ≤ 0), is stated there instead.

# %%
for name, (_, _, whose) in KERNELS.items():
    for stat, what in (("contrast", "class contrast (x_c − x_n)/x_d"), ("alignment", "alignment with the labels")):
        change = blocks[f"Δ {name} {stat}"]
        print(f"Δ {name} {stat}: mean {change.mean():+.4f} over {len(change)} runs, min {change.min():+.4f}, "
              f"max {change.max():+.4f}")
        finding = f"{whose} {what} does not rise beyond the runs' spread (one run falls; see below)"
        ch.claim(f"{name}-{stat}-rises", f"{whose} {what} rises over training: mean change (end − start) over the "
                 "runs minus its 99.9 % t half-width", source="extension",
                 **measured(lambda d: float(d.mean() - halfwidth(d)), change, need=2, empty="fewer than 2 runs: no spread"),
                 op=">", bound=0.0, not_expected=SMOKE, found_otherwise={"cpu": finding} if stat == "alignment" else None)

# %% [markdown]
# ## The invariant's alignment against NC1
# Chapter a07's question on the ViT: the larger the invariant's alignment at the end, the smaller NC1? Claimed as
# "Spearman's ρ of the invariant alignment and NC1_rel across the runs is negative beyond chance" (one-sided
# permutation p-value, 2 000 seeded re-pairings, below 0.05).

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for init, runs in final.groupby("init"):
    axes[0].scatter(runs["invariant alignment"], runs["NC1_rel"], label=init)
    axes[1].scatter(runs["NTK alignment"], runs["NC1_rel"], label=init)
for ax, x in zip(axes, ("invariant alignment", "NTK alignment")):
    ax.set(xlabel=f"{x} (end)", ylabel="NC1_rel (end)", yscale="log")
    ax.legend()
plt.tight_layout()
plt.show()

ranked = measured(lambda runs: spearman_permutation_p(runs["invariant alignment"], runs["NC1_rel"], n=2000, seed=seed),
                  final, need=3, empty="fewer than 3 runs: a rank correlation needs 3")
if ranked["value"] is not None:
    print(f"Spearman(invariant alignment, NC1_rel) = {spearman(final['invariant alignment'], final['NC1_rel']):.3f}, "
          f"one-sided permutation p = {ranked['value']:.4f}")
ch.claim("invariant-alignment-ranks-nc1", "Spearman(invariant alignment, NC1_rel) across the runs is negative beyond "
         "chance: its one-sided permutation p-value", source="extension", **ranked, op="<", bound=0.05,
         not_expected=SMOKE)

# %% [markdown]
# ## What the answer is
# **At `cpu` (seed 0, 9 runs): yes for the block structure and for the invariant, with one exception.** The ViT
# fits its training set (median train accuracy 0.995; the three runs at lr 0.03 reach 0.91–0.98; test accuracy
# 0.83–0.91). The class contrast $(x_c-x_n)/x_d$ of the NTK, of the feature kernel and of the attention layers'
# NTK rises in **every** run (mean +0.16, +0.14, +0.17; smallest +0.027, +0.049, +0.034), and the ratios
# $x_c/x_n$ grow from about 1.3 to 1.4–3.4: the kernels become more block structured by class, the attention's
# share included. Their alignment with the labels rises in 8 of the 9 runs (mean +0.09, +0.07, +0.06) but falls
# in one, `torch` at lr 0.1 (−0.16, −0.11, −0.17), so a rise beyond the spread of 9 runs is not shown (the
# `not-…-alignment-rises` findings). The invariant's alignment ranks the runs by NC1 as in a07 (ρ = −0.97,
# p = 0.0005), although no run reaches a07's NC threshold (NC1_rel 0.019–0.40; the best at lr 0.1 and 0.3).
#
# The run whose alignments fall is among the most collapsed (NC1_rel 0.027, invariant alignment 0.77), and its
# NTK's class contrast still rises (+0.027). The two statistics see different things: the contrast is made of
# the block *averages* γ_d, γ_c, γ_n, while the alignment uses every entry of the kernel, so it also falls when
# the entries spread within their blocks or the kernel's scale concentrates on a few samples (which of these
# happened here we did not measure). Paper A's assumption is about the block values, which the contrast
# measures. What this does not answer: attention with many tokens (4 tokens mix little), a larger ViT, other
# optimisers, and more seeds.

# %%
ch.finish()
