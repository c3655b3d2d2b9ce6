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
# # Cross-entropy against MSE
#
# Paper A's invariant $E = W^\top W - H(K^h)^{-1}H^\top$ is conserved by the gradient flow of the **MSE**
# loss under the block-structured NTK, and NC follows when $E = 0$. Under cross-entropy the derivation
# does not apply: the residual $\operatorname{softmax}(f) - y$ replaces $f - y$ in the flow, so $E$ is no
# longer conserved and nothing in the paper ties its alignment to NC. This chapter trains chapter a07's
# MLP grid (same model, data, initialisations, learning rates and seed) with cross-entropy and asks
# whether the MSE-derived invariant's alignment still tells the runs with NC from those without.
#
# :::{admonition} Whose is what
# - **Paper:** the metrics (NC1–NC3, the NTK alignment, the invariant alignment, computed as the official
#   code does; chapter a07) and the MSE recipe.
# - **Ours (extension):** the question, the cross-entropy runs and every claim. Cross-entropy is the
#   textbook softmax cross-entropy of the raw logits against the integer labels, mean over the batch, no
#   label smoothing or temperature (`ncutils.paper_a.training.training_loss`; the official code has an
#   unused `LOSS='CE'` switch, whose exact form our notes recall but did not read). Everything else of the
#   recipe (SGD with Nesterov momentum, weight decay, step decay, 12 samples per class per batch, the
#   probe on the last batch) is a07's. The probe's `loss` stays the MSE of the outputs; the invariant is
#   the MSE formula evaluated on the CE-trained network — a number whose meaning under CE is exactly
#   what is being tested. The groups (NC1_rel < 0.01 with NC, > 0.1 without) are a07's.
# - **Scaled down:** `cpu` runs a07's MLP part (scikit-learn digits, 1 500 epochs, 3 initialisations ×
#   lrs {0.01, 0.03, 0.1, 0.3, 1.0} × seeds 0 and 1) with both losses; the MSE runs are a07's own (the same
#   configs, shared through the store; a07 trains a third seed, which does not fit this chapter's budget).
#   a07's ResNet8 part runs only at `paper` (its CE twins do not fit the CPU budget).
#   `smoke` runs 6 short MLP runs per loss, where no run reaches NC and the claims are not expected to hold.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
workers = None  # Dask LocalCluster workers
sweep = None  # the parts of the sweep, as in a07: model, data, epochs, ... and lrs (× the three inits) each

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import measured, start
from ncutils.book.rankstats import spearman, spearman_permutation_p
from ncutils.paper_a.ensemble import grid_records
from ncutils.paper_a.training import run_frames

ch = start("e02_cross_entropy", profile=profile, seed=seed, workers=workers, sweep=sweep)
records = grid_records(ch.run())
LOSSES = {"mse": "MSE", "cross_entropy": "CE"}
final = pd.concat([run_frames([r for r in records if r["config"].get("loss", "mse") == loss])[0].assign(loss=name)
                   for loss, name in LOSSES.items()], ignore_index=True)
NC_BELOW, NO_NC_ABOVE = 1e-2, 0.1  # a07's groups: final NC1_rel of the runs with / without NC
SMOKE = {"smoke": "6 short MLP runs per loss (40 epochs): no run reaches NC"}
cols = ["train acc", "test acc", "NC1_rel", "NC2", "NC3", "NTK alignment", "invariant alignment"]
final.pivot_table(index=["setting", "init", "lr", "seed"], columns="loss", values=cols).round(4)

# %%
ch.claim("no-run-lost", "every run of both losses finished (failed or diverged runs)", source="derived",
         value=sum(r["status"] != "ok" for r in records), op="==", bound=0)

# %% [markdown]
# ## Accuracy: CE against MSE
# Paired by (setting, init, lr, seed): the difference CE − MSE of the test accuracy, with its mean and standard
# error over the pairs.

# %%
pairs = final.pivot_table(index=["setting", "init", "lr", "seed"], columns="loss", values=["test acc", "train acc"])
diff = pairs[("test acc", "CE")] - pairs[("test acc", "MSE")]
print(f"test accuracy CE − MSE: mean {diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} (s.e., "
      f"{len(diff)} pairs); train accuracy CE min {pairs[('train acc', 'CE')].min():.4f}, "
      f"MSE min {pairs[('train acc', 'MSE')].min():.4f}")

# %% [markdown]
# ## The invariant's alignment against NC1, both losses

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, sub in final.groupby("loss"):
    marker = "o" if name == "MSE" else "^"
    axes[0].scatter(sub["invariant alignment"], sub["NC1_rel"], marker=marker, label=name)
    axes[1].scatter(sub["invariant alignment"], sub["NC3"], marker=marker, label=name)
    axes[2].scatter(sub["NTK alignment"], sub["NC1_rel"], marker=marker, label=name)
for ax, (x, y) in zip(axes, [("invariant alignment", "NC1_rel"), ("invariant alignment", "NC3"),
                             ("NTK alignment", "NC1_rel")]):
    ax.set(xlabel=x, ylabel=y, yscale="log")
    ax.legend()
axes[0].axhline(NC_BELOW, color="grey", lw=0.5)
axes[0].axhline(NO_NC_ABOVE, color="grey", lw=0.5)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Claims (extension)
# For each loss: (1) the a07 separation — every run with NC has a larger invariant alignment than every
# run without (smallest NC alignment − largest non-NC alignment > 0); (2) the rank correlation of the
# invariant alignment with NC1_rel is negative beyond chance: the one-sided permutation p-value of
# Spearman's ρ (2 000 label permutations, seeded) is below 0.05. Under MSE these restate a07 on the MLP
# runs; under CE they are the open question, and a failure is the answer "the MSE invariant does not
# predict NC under cross-entropy".

# %%
for name in LOSSES.values():
    sub = final[final["loss"] == name]
    nc_runs, non_nc = sub[sub["NC1_rel"] < NC_BELOW], sub[sub["NC1_rel"] > NO_NC_ABOVE]
    print(f"{name}: {len(nc_runs)} runs with NC, {len(non_nc)} without, {len(sub) - len(nc_runs) - len(non_nc)} between; "
          f"Spearman(invariant alignment, NC1_rel) = {spearman(sub['invariant alignment'], sub['NC1_rel']):.3f}")
    # MSE: the criterion a07 tests; CE: the same criterion, which failed at `cpu` (see below): the finding is stated there
    margin = measured(lambda a, b: a["invariant alignment"].min() - b["invariant alignment"].max(), nc_runs, non_nc,
                      empty="no run with NC or none without: nothing to separate")
    if name == "MSE":
        ch.claim("alignment-separates-mse", f"MSE: every run with NC (NC1_rel < {NC_BELOW:g}) has a larger invariant "
                 f"alignment than every run without (NC1_rel > {NO_NC_ABOVE:g}): smallest NC − largest non-NC "
                 "alignment", source="extension", **margin, op=">", bound=0.0, not_expected=SMOKE)
    else:
        ch.claim("alignment-separates-ce", f"CE: every run with NC (NC1_rel < {NC_BELOW:g}) has a larger invariant "
                 f"alignment than every run without (NC1_rel > {NO_NC_ABOVE:g}): smallest NC − largest non-NC "
                 "alignment", source="extension", **margin, op=">", bound=0.0, not_expected=SMOKE,
                 found_otherwise={"cpu": "CE: the MSE criterion fails, some run with NC has a smaller invariant "
                                         "alignment than some run without"})
    ch.claim(f"alignment-ranks-nc1-{name.lower()}", f"{name}: Spearman(invariant alignment, NC1_rel) is negative "
             "beyond chance: its one-sided permutation p-value", source="extension",
             **measured(lambda g: spearman_permutation_p(g["invariant alignment"], g["NC1_rel"], n=2000, seed=seed), sub,
                        need=3,
                        empty="fewer than 3 runs: a rank correlation needs 3"),
             op="<", bound=0.05, not_expected=SMOKE)

# %% [markdown]
# ## What the answer means
# The claims above say, at this profile, whether the MSE-derived invariant's alignment separates and
# ranks the cross-entropy runs by NC as it does the MSE runs. Under CE the quantity has no derivation
# behind it: $E$ is not conserved (the CE residual saturates as the logits grow, and the feature kernel's
# inverse in $E$ comes from the MSE flow), so a holding claim is an empirical coincidence at this scale and
# a failing one is the expected negative answer — reported as a result, not excused.
#
# **At `cpu` (seeds 0 and 1, 30 runs per loss):** under MSE both claims hold (separation margin +0.20,
# permutation p = 0.0005). Under CE the alignment still *ranks* the runs by NC1_rel (p = 0.0005) but does
# **not separate** them: the smallest alignment of a CE run with NC is 0.055 below the largest alignment of a CE
# run without NC (finding `not-alignment-separates-ce`; the claim was first stated as `alignment-separates-ce`).
# So the MSE invariant's alignment does not predict NC under cross-entropy as it does under MSE: it is a trend,
# not a criterion. Counts: MSE 18 runs with NC, 12 without; CE 10 with, 6 without, 14 between; Spearman(alignment,
# NC1_rel) −0.86 (MSE), −0.66 (CE). Accuracy is not what differs: every CE run fits its training set, and the
# test accuracies of the pairs are printed above.
#
# How thin the evidence was with one seed: with seed 0 alone (15 runs per loss) the CE margin was −0.076 on the
# machine where this chapter was first run and +0.045 on another (the same code and seed; a different CPU rounds
# differently, and the CE runs near the groups' NC1_rel bounds moved across them), while the MSE margin was +0.36
# on both. A criterion decided by the extreme runs of two small groups can flip with rounding; the second seed
# (a07 trains three; the third does not fit this chapter's 8-minute budget) gives the answer above, which can
# still fail with more runs in either direction — a margin can only shrink as runs are added.

# %%
ch.finish()
