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
# # Beyond the lazy regime
#
# Under the official recipe the trained 2-layer network stays near its initialisation, so its NC1 is the
# NNGP's (chapter b06): the comparison of kernels with "the network" is then a comparison of the NNGP with
# itself. Here the same Erf network is also trained **out of the lazy regime**, with mean-field scaling
# ($f(x) = \frac1h\sum_i a_i\,\mathrm{erf}(w_i^\top x + b_i) + b_2$, $a_i \sim \mathcal N(0, 1)$, learning
# rate $\eta h$ for $a$ and $\eta h / d_0$ for the first layer, so that every neuron's pre-activation moves by
# $O(\eta)$ per step whatever the width $h$), on the balanced Gaussian mixture of the paper and on real data:
# scikit-learn's digits 0 and 1, standardised pixels projected to $d_0$ by a seeded Gaussian matrix, each
# coordinate standardised. We compare NC1 of the hidden layer of both networks with that of the data, the
# NNGP and the NTK of the same inputs.
#
# :::{admonition} Whose is what
# - **Paper:** nothing in this chapter: every claim is an `extension`. The lazy network is the paper's
#   recipe (chapter b06), and the kernels are its NNGP and NTK.
# - **Ours:** the mean-field network (with $\eta = 0.1$, 500 full-batch epochs, weight decay $10^{-6}$), the
#   digits data and their projection, the seeds ($10000\cdot\text{rep} + 10 d_0 + N$ for the draw, the
#   projection and the network), and every threshold, which comes from the spread over repeats.
# - **Conventions:** means of per-run $\log_{10}$ NC1; stds with ddof = 0; a claim about a mean uses its
#   99.9 % Student-t half-width over the repeats (`ncutils.book.spread`).
# - **Not run: the adaptive kernel.** One solve of the equations of state took 29 s ($d_0 = 8$) and 46 s
#   ($d_0 = 32$) at $N = 128$ on the digits (`theory` variant, 2 shared cores under load), and did not
#   converge (at the first stage, and at $C = 2000$); the `code` variant ignores the labels (chapter b07), so
#   it cannot follow feature learning. Whether the adaptive kernel moves with the mean-field network is left
#   open.
# - **Scaled down:** `cpu` uses $N = 128$, width 500 and 5 repeats (`paper`: $N = 256$, 10 repeats);
#   `smoke` 2 repeats at $N = 64$, $d_0 = 8$ and 200 epochs each.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n = None  # samples (two balanced classes)
d0_values = None  # input dimensions (digits: projection dimension)
repeats = None  # draws per setting
datasets = None  # "gaussian" and/or "digits"
lazy_epochs = None  # epochs of the official (lazy) recipe
mf_epochs = None  # epochs of the mean-field network
mf_lr = None  # η of the mean-field network
workers = None  # Dask LocalCluster workers

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import start
from ncutils.book.spread import halfwidth

ch = start("b10_beyond_lazy", profile=profile, seed=seed, n=n, d0_values=d0_values, repeats=repeats,
           datasets=datasets, lazy_epochs=lazy_epochs, mf_epochs=mf_epochs, mf_lr=mf_lr, workers=workers)
cfg = ch.cfg
(result,) = ch.run().values()
runs = result.frame()
nc1_columns = [c for c in runs if c.startswith("nc1")]
runs[nc1_columns] = np.log10(runs[nc1_columns])
runs["regime"] = runs["parameterisation"].map({"standard": "lazy (official)", "mean_field": "mean-field"})
runs["trained − init"] = runs["nc1_final"] - runs["nc1_init"]
runs["trained − NNGP"] = runs["nc1_final"] - runs["nc1_nngp"]
runs["trained − data"] = runs["nc1_final"] - runs["nc1_data"]
KEYS = ["data", "d0", "regime"]

# %% [markdown]
# Mean and std (ddof = 0) of $\log_{10}$ NC1 over the repeats:

# %%
columns = ["nc1_data", "nc1_nngp", "nc1_ntk", "nc1_init", "nc1_final", "trained − init", "train_accuracy",
           "final_loss"]
grouped = runs.groupby(KEYS)[columns]
pd.concat({"mean": grouped.mean(), "std": grouped.std(ddof=0)}, axis=1).swaplevel(axis=1)[columns].round(3)

# %%
ch.claim("no-run-lost", "every run finished (failed or diverged runs)", source="extension", value=result.n_lost(),
         op="==", bound=0)
ch.claim("fits-gaussian", "both networks fit their training set on the Gaussian mixture (smallest train accuracy)",
         source="extension", value=runs.loc[runs.data == "gaussian", "train_accuracy"].min(), op="==", bound=1.0)

# %%
runs[runs.train_accuracy < 1][["data", "d0", "rep", "regime", "train_accuracy"]]  # runs that end with training errors

# %% [markdown]
# **A finding on the digits.** We first claimed that both networks fit both data sets; at `cpu` one digits
# draw at $d_0 = 8$ (rep 2) ends with one of its 128 samples misclassified by *both* networks (the table
# above, empty where every run fits): after a random projection to 8 dimensions a 0 and a 1 can nearly
# coincide. The claim is therefore stated for the Gaussian mixture only, and the digits runs are listed.

# %%
fig, axes = plt.subplots(1, len(cfg.datasets), figsize=(7 * len(cfg.datasets), 4.2), squeeze=False)
lines = {"nc1_data": ("data", "k:"), "nc1_nngp": ("NNGP", "x--"), "nc1_ntk": ("NTK", "+-.")}
for ax, data in zip(axes[0], cfg.datasets):
    sub = runs[runs.data == data]
    for column, (label, style) in lines.items():
        kernel = sub[sub.regime == "lazy (official)"].groupby("d0")[column].mean()
        ax.plot(kernel.index, kernel, style, color="0.35" if label != "data" else "k", label=label)
    for i, regime in enumerate(["lazy (official)", "mean-field"]):
        g = sub[sub.regime == regime].groupby("d0")["nc1_final"]
        mean, std = g.mean(), g.std(ddof=0)
        ax.plot(mean.index, mean, "o-", color=f"C{i}", label=f"{regime} network")
        ax.fill_between(mean.index, mean - std, mean + std, color=f"C{i}", alpha=0.2)
    ax.set(title=f"{data}, N = {cfg.n}", xlabel="d0", ylabel="log10 NC1 (hidden layer)")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Does the network leave the NNGP when it learns features?
#
# The lazy network should stay at its initial NC1 (the finite-width NNGP's); the mean-field one should move.
# Per setting (data set, $d_0$), the change trained − init of each network, and the mean-field network's
# distance to the NNGP and to the data, each against its 99.9 % half-width over the repeats.

# %%
def upper_end(v):  # the mean plus its 99.9 % half-width
    return v.mean() + halfwidth(v)


def lower_end(v):  # the mean minus its 99.9 % half-width
    return v.mean() - halfwidth(v)


by = runs.groupby(["data", "d0", "parameterisation"])
few = {"smoke": "2 draws at N = 64: the 99.9 % half-width is 637 standard errors"}
mf = runs[runs.parameterisation == "mean_field"].groupby(["data", "d0"])
ch.claim("mf-lowers-nc1", "the mean-field network lowers its NC1 in training, beyond the spread over repeats, for "
         "every data set and d0 (largest upper end of the 99.9 % interval of the mean log10 change)",
         source="extension", value=mf["trained − init"].agg(upper_end).max(), op="<", bound=0.0, not_expected=few)
ch.claim("mf-below-nngp", "the mean-field network ends below the NNGP of the same inputs, beyond the spread over "
         "repeats (largest upper end of the 99.9 % interval of the mean log10 gap)", source="extension",
         value=mf["trained − NNGP"].agg(upper_end).max(), op="<", bound=0.0, not_expected=few)
ch.claim("mf-below-data", "the mean-field network's features are more collapsed than its inputs (largest upper end "
         "of the 99.9 % interval of the mean log10 NC1(H) − log10 NC1(X))", source="extension",
         value=mf["trained − data"].agg(upper_end).max(), op="<", bound=0.0, not_expected=few)
move = by["trained − init"]
intervals = pd.DataFrame({"mean": move.mean(), "half-width": move.agg(halfwidth)}).unstack("parameterisation")
separation = ((intervals["mean"]["standard"].abs() + intervals["half-width"]["standard"])
              - (intervals["mean"]["mean_field"].abs() - intervals["half-width"]["mean_field"]))
ch.claim("lazy-moves-less", "the lazy network's NC1 change is smaller than the mean-field network's, their 99.9 % "
         "intervals apart, for every data set and d0 (largest |lazy| upper end − |mean-field| lower end)",
         source="extension", value=separation.max(), op="<", bound=0.0, not_expected=few)

# %% [markdown]
# ## The main theorem on real data
#
# Paper B proves $\mathbb E\,\mathrm{NC1}(\Theta) \ge \mathbb E\,\mathrm{NC1}(Q)$ for Gaussian data. On the
# projected digits the same inequality is tested per $d_0$ on the draws (the kernels do not depend on the
# network, so each draw is counted once).

# %%
kernels = runs[runs.parameterisation == "standard"]
digits = kernels[kernels.data == "digits"]
if len(digits):
    ch.claim("ntk-above-nngp-digits", "on the digits, NTK NC1 > NNGP NC1 at every d0 (smallest lower end of the 99.9 % "
             "interval of the mean log10 gap)", source="extension",
             value=(digits["nc1_ntk"] - digits["nc1_nngp"]).groupby(digits["d0"]).agg(lower_end).min(), op=">",
             bound=0.0, not_expected=few)

# %% [markdown]
# ## Reading
#
# With the official recipe the network's NC1 is its initial one, the finite-width NNGP's; trained with
# mean-field scaling, the same architecture collapses its hidden features well below the NNGP, the NTK and
# the inputs, on the Gaussian mixture and on the digits alike. The limiting kernels then describe the
# network at initialisation, not the trained one: the question paper B asks of the adaptive kernel (does a
# data-aware kernel follow the network?) is the one that matters out of the lazy regime, and it is left open
# here for cost (see the admonition).

# %%
ch.finish()
