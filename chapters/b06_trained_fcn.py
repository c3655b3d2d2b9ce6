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
# # Trained 2-layer networks
#
# Paper B compares the kernels' NC1 with that of trained shallow networks: a 2-layer network of width
# 500 trained on the Gaussian mixture ($\mu = 2$, $s = 0.5$, targets $\pm1$), NC1 of its hidden
# post-activations after training, plotted like the limiting kernels ($d_0$ on a linear axis,
# $\log_{10}$ NC1, mean ± std over repeats, one line per $N$). A last section repeats the official
# single-run script (`fcn.py`): one wide network at $d_0 = 1$.
#
# :::{admonition} Whose is what
# - **Paper:** the recipe, the official code's (full-batch SGD, lr $10^{-3}$, weight decay $10^{-6}$,
#   1 000 epochs, MSE; $W_1\sim\mathcal N(0, 1/d_0)$, $W_2\sim\mathcal N(0, 1.97^2/500)$), and the single
#   run's settings (notes F-K: $N = 1024$, $d_0 = 1$, width 2 000, lr $10^{-4}$, Erf).
# - **Ours:** the comparison with the NNGP *of the same draw*, the seeds, float64, and two observations of
#   our notes' pilot, checked here against the spread over repeats: under this recipe the network stays
#   close to its initialisation (the lazy regime), so its NC1 is the finite-width NNGP's, except at the
#   largest $d_0$ where it moves below it. At $d_0 = 1$ a ReLU network without biases maps $x$ to
#   $(\mathrm{relu}(x), \mathrm{relu}(-x))$ up to scale, so its NC1 equals the NNGP's.
# - **Conventions:** means are means of the per-run $\log_{10}$ NC1; stds are population stds (ddof = 0) in
#   bands and tables; a claim about a mean uses its 99.9 % Student-t half-width over the repeats
#   (`ncutils.book.spread`).
# - **Scaled down:** `cpu` uses $N\in\{128, 256\}$ and 5 repeats (paper: $N$ up to 1 024, 10 repeats);
#   `smoke` runs the single run at $N = 128$ for 300 epochs. Runs are Dask tasks cached in the result store.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_values = None  # sample sizes N
d0_values = None  # input dimensions
repeats = None  # draws per setting
activations = None  # hidden activations
epochs = None  # full-batch epochs
workers = None  # Dask LocalCluster workers
single_run = None  # the official single run's N, d0, width, lr, epochs (notes F-K)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import start
from ncutils.book.spread import halfwidth

ch = start("b06_trained_fcn", profile=profile, seed=seed, n_values=n_values, d0_values=d0_values, repeats=repeats,
           activations=activations, epochs=epochs, workers=workers, single_run=single_run)
cfg = ch.cfg
(result,) = ch.run().values()
frame = result.frame()
is_single = frame["keep_predictions"].eq(True)  # the official single run (last section)
single, runs = frame[is_single].iloc[0], frame[~is_single].copy()
nc1_columns = [c for c in runs if c.startswith("nc1")]
runs[nc1_columns] = np.log10(runs[nc1_columns])
runs["trained − NNGP"] = runs["nc1_final"] - runs["nc1_nngp"]
runs["trained − init"] = runs["nc1_final"] - runs["nc1_init"]

# %%
summary = runs.groupby(["activation", "N", "d0"])[["nc1_data", "nc1_nngp", "nc1_ntk", "nc1_init", "nc1_final",
                                                   "train_accuracy"]].mean()
summary.round(3)

# %%
ch.claim("no-run-lost", "every run finished (failed or diverged runs)", source="derived",
         value=result.n_lost(), op="==", bound=0)
ch.claim("train-accuracy", "every trained network fits its training set (smallest train accuracy)", source="paper",
         value=runs["train_accuracy"].min(), op="==", bound=1.0)

# %% [markdown]
# ## NC1 of the trained networks against the NNGP

# %%
fig, axes = plt.subplots(1, len(cfg.activations), figsize=(7 * len(cfg.activations), 4.2), squeeze=False)
for ax, act in zip(axes[0], cfg.activations):
    for i, N in enumerate(cfg.n_values):
        sub = runs[(runs.activation == act) & (runs.N == N)].groupby("d0")
        mean, std = sub["nc1_final"].mean(), sub["nc1_final"].std(ddof=0)
        ax.plot(mean.index, mean, "o-", color=f"C{i}", label=f"trained, N={N}")
        ax.fill_between(mean.index, mean - std, mean + std, color=f"C{i}", alpha=0.2)
        ax.plot(mean.index, sub["nc1_nngp"].mean(), "x--", color=f"C{i}", label=f"NNGP, N={N}")
    ax.plot(mean.index, runs[runs.activation == act].groupby("d0")["nc1_data"].mean(), "k:", label="data")
    ax.set(title=f"2-layer {act} network after {cfg.epochs} epochs", xlabel="d0", ylabel="log10 NC1 (hidden layer)")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Per run, the gap to the NNGP of the same draw splits into the finite-width fluctuation at initialisation
# and what training did (trained − init). Mean, std (ddof = 0) and 99.9 % half-width of the mean over the
# repeats, in $\log_{10}$:

# %%
paired = runs.groupby(["activation", "N", "d0"])[["trained − NNGP", "trained − init"]]
spread = pd.concat({"mean": paired.mean(), "std": paired.std(ddof=0)}, axis=1)
if cfg.repeats >= 2:
    spread = pd.concat([spread, pd.concat({"99.9 % half-width": paired.agg(halfwidth)}, axis=1)], axis=1)
spread.swaplevel(axis=1).sort_index(axis=1).round(4)

# %%
small_runs = runs[runs.d0 <= 32].assign(**{"init − NNGP": runs["trained − NNGP"] - runs["trained − init"]})
small = small_runs.groupby(["activation", "N", "d0"])["trained − NNGP"]
no_spread = "one repeat per setting: no spread to compare with" if cfg.repeats < 2 else None
ch.claim("fcn-near-nngp", "for d0 ≤ 32 the trained network's NC1 is the NNGP's within the spread over repeats "
         "(largest |mean log10 gap| in units of its 99.9 % half-width)", source="derived",
         value=None if no_spread else small.agg(lambda v: abs(v.mean()) / halfwidth(v)).max(), op="<=", bound=1.0,
         no_data=no_spread, not_expected={"smoke": no_spread} if no_spread else None)
# "Lazy", without a threshold of our choosing: how far training moved NC1 (trained − init) against how far
# the finite width had already put it from the NNGP at initialisation (init − NNGP), as root mean squares
# over the runs at d0 ≤ 32 (per setting in the table). (ReLU at d0 = 1, where Θ and Q give the same NC1, is
# among the settings of `fcn-near-nngp`.)
rms = small_runs.groupby(["activation", "N", "d0"])[["trained − init", "init − NNGP"]].agg(lambda v: np.sqrt(np.mean(v**2)))
rms.round(4)

# %%
ch.claim("lazy", "for d0 ≤ 32 training moves NC1 less than the finite width had moved it from the NNGP at "
         "initialisation (RMS over the runs of log10 final − log10 init, divided by the RMS of log10 init − "
         "log10 NNGP)", source="derived",
         value=np.sqrt(np.mean(small_runs["trained − init"] ** 2) / np.mean(small_runs["init − NNGP"] ** 2)),
         op="<", bound=1.0)

# %% [markdown]
# **The drop at $d_0 = 128$.** Our notes' pilot saw the Erf network end about 0.1 below the NNGP in
# $\log_{10}$ at $d_0 = 128$. We test the literal observation, that the mean drop below the NNGP of the same
# draw is larger than the std across repeats at every $N$; the table above also gives its 99.9 % half-width,
# a stricter test that 5 repeats need not pass, and at `cpu` does not (the drop at $N = 128$ is about half
# the pilot's). The paired change trained − init, free of the finite-width fluctuation at initialisation,
# is the sharper measure of what training did: at `cpu` it passes its 99.9 % half-width at $N = 256$ and
# just misses it at $N = 128$.

# %%
d_max = max(cfg.d0_values)
erf_top = runs[(runs.activation == "erf") & (runs.d0 == 128)].groupby("N")["trained − NNGP"]
no_top = None if d_max == 128 and "erf" in cfg.activations else "no Erf run at d0 = 128 in this profile"
ch.claim("fcn-below-nngp-d0-128", "Erf, d0 = 128: the trained network's NC1 is below the NNGP's by more than the std "
         "across repeats at every N (largest mean log10 gap + its std)", source="derived",
         value=None if no_top else erf_top.agg(lambda v: v.mean() + v.std(ddof=0)).max(), op="<", bound=0.0,
         no_data=no_top, not_expected={"smoke": no_top} if no_top else None)
if not no_top:
    print("mean drop below the NNGP at d0 = 128 (log10), by N:", erf_top.mean().round(3).to_dict())

# %% [markdown]
# ## The official single run
#
# The official `fcn.py` trains one Erf network at $N = 1024$ (512 per class), $d_0 = 1$, width 2 000,
# lr $10^{-4}$, 1 000 epochs, weight decay $10^{-6}$, `final_weight_std` 1.97, and plots NC1 at epochs 0
# and 1 000, the loss, and the sign of the predictions against the class-sorted sample index (zero training
# error). At $d_0 = 1$ the Erf NNGP collapses the classes far below the data (notes §1.6), and in the lazy
# regime training should move NC1 by less than the finite-width fluctuation at initialisation.

# %%
pd.Series({"N": single.N, "width": single.width, "epochs": single.epochs, "lr": single.lr,
           "log10 NC1 data": np.log10(single.nc1_data), "log10 NC1 NNGP": np.log10(single.nc1_nngp),
           "log10 NC1 epoch 0": np.log10(single.nc1_init), f"log10 NC1 epoch {single.epochs}": np.log10(single.nc1_final),
           "final loss": single.final_loss, "train accuracy": single.train_accuracy}).to_frame("single run")

# %%
history = np.array(single.loss_history)
predictions = np.array(single.predictions)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
ax1.semilogy(history[:, 0], history[:, 1])
ax1.set(xlabel="epoch", ylabel="training MSE", title="loss")
ax2.plot(np.sign(predictions), ".", ms=2)
ax2.axvline(single.N // 2 - 0.5, color="k", ls=":")
ax2.set(xlabel="sample (class 0, then class 1)", ylabel="sign of prediction", title="sign of the predictions")
plt.tight_layout()
plt.show()

# %%
log_init, log_final, log_nngp = np.log10([single.nc1_init, single.nc1_final, single.nc1_nngp])
ch.claim("single-run-fits", "the single run ends with zero training error (the signs of its predictions match the "
         "targets: train accuracy)", source="official-code", value=single.train_accuracy, op="==", bound=1.0)
ch.claim("single-run-loss-falls", "the single run's training loss falls (final / initial MSE)", source="derived",
         value=history[-1, 1] / history[0, 1], op="<", bound=1.0)
ch.claim("single-run-lazy", "the single run moves NC1 by less than the finite-width fluctuation at initialisation "
         "(|log10 final − log10 init| − |log10 init − log10 NNGP|)", source="derived",
         value=abs(log_final - log_init) - abs(log_init - log_nngp), op="<", bound=0.0)
ch.claim("single-run-collapses", "at d0 = 1 the Erf network's hidden NC1 is below the data's (log10 NC1 epoch end "
         "− log10 NC1 data)", source="derived", value=log_final - np.log10(single.nc1_data), op="<", bound=0.0)

# %%
ch.finish()
