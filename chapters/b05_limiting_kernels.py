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
# # Limiting kernels against $d_0$ and $N$
#
# Paper B's figure family for the infinite-width kernels: NC1 of the NNGP ($Q$) and the NTK ($\Theta$) of
# a 2-layer network on the two-class Gaussian mixture ($\mu = 2$, $s = 0.5$), against the input
# dimension $d_0$ (linear axis), $\log_{10}$ NC1 with mean ± std bands over repeated draws, one line per
# sample size $N$, the NC1 of the data itself for reference, and the official "relative" plots
# $\log_{10}\big(\mathrm{NC1}(H)/(\mathrm{NC1}(X)+\tau)\big)$, $\tau = 10^{-8}$.
#
# Beside the correct Erf NTK we plot the **official code's Erf NTK**, with its bug (the derivative kernel
# $\dot Q$ collapses to a near-constant, see the closed-form chapter), to show what the bug does to NC1,
# the quantity the paper's figures show.
#
# :::{admonition} Whose is what
# - **Paper:** the figure layout and settings (the official `limiting_kernels_bulk_balanced` runs), and the
#   statements tested: the NTK is not more collapsed than the NNGP; Erf gives lower NC1 than ReLU.
# - **Official code:** the bugged Erf NTK (`ntk_fc2_official_erf`), shown as a method of its own.
# - **Ours:** the *correct* Erf NTK, seeded draws ($10000\cdot\text{rep} + 10 d_0 + N$), float64, the
#   expected data NC1 and the $d_0 = 1$ ReLU identity (notes §1.5–1.6), the mediant reading of the bug,
#   and every threshold, which comes from the draws' spread.
# - **Conventions:** every average is the mean of the per-draw $\log_{10}$ values (as the official plots);
#   every std is the population std (ddof = 0, as the official `np.std`), in bands and tables alike; a
#   claim about a mean uses its 99.9 % Student-t half-width over the draws (`ncutils.book.spread`).
# - **Scaled down:** `cpu` uses $N\le 512$ and 3 repeats instead of the paper's $N\le 1024$ and 10
#   repeats (`paper` profile).
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_values = None  # sample sizes N (balanced)
d0_values = None  # input dimensions
repeats = None  # draws per (N, d0)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import progress, start
from ncutils.book.spread import halfwidth
from ncutils.data import gaussian_mixture, paper_seed
from ncutils.kernels import nngp_fc2, ntk_fc2
from ncutils.kernels.two_layer import ntk_fc2_official_erf
from ncutils.nc import nc1_from_kernel, nc1_trace_ratio
from ncutils.paper_b.theorem_maps import expected_log_nc1_map

ch = start("b05_limiting_kernels", profile=profile, seed=seed, n_values=n_values, d0_values=d0_values, repeats=repeats)
cfg = ch.cfg
MU, S, TAU = 2.0, 0.5, 1e-8  # the mixture's mean and std; the official plots' τ
METHODS = {"NNGP erf": lambda X: nngp_fc2(X, activation="erf"),
           "NTK erf": lambda X: ntk_fc2(X, activation="erf"),
           "NTK erf (official, bugged)": ntk_fc2_official_erf,
           "NNGP relu": lambda X: nngp_fc2(X, activation="relu"),
           "NTK relu": lambda X: ntk_fc2(X, activation="relu")}

# %%
rows = []
for N in progress(cfg.n_values, desc="N"):
    for d0 in cfg.d0_values:
        for rep in range(cfg.repeats):
            data = gaussian_mixture([N // 2, N // 2], d0, mu=MU, s=S, seed=paper_seed(seed + rep, d0, N))
            rows.append({"N": N, "d0": d0, "rep": rep, "data": nc1_trace_ratio(data.X, data.y),
                         **{name: nc1_from_kernel(kernel(data.X), data.y) for name, kernel in METHODS.items()}})
nc1 = pd.DataFrame(rows).set_index(["N", "d0", "rep"])
logs = np.log10(nc1)  # per draw: every mean below is a mean of these
rel = np.log10(nc1[list(METHODS)].div(nc1["data"] + TAU, axis=0))  # the official "relative" value

# %% [markdown]
# Mean and std (ddof = 0) of $\log_{10}$ NC1 over the draws:

# %%
by_cell = logs.groupby(["N", "d0"])
pd.concat({"mean": by_cell.mean(), "std": by_cell.std(ddof=0)}, axis=1).swaplevel(axis=1).sort_index(axis=1).round(3)

# %%
fig, axes = plt.subplots(2, len(METHODS), figsize=(4.2 * len(METHODS), 7.5), sharey="row")
for row, (values, ylabel) in enumerate([(logs, "log10 NC1"), (rel, "log10 NC1(H)/NC1(X)")]):
    for ax, name in zip(axes[row], METHODS):
        for i, N in enumerate(cfg.n_values):
            sub = values.xs(N, level="N")[name].groupby("d0")
            mean, std = sub.mean(), sub.std(ddof=0)
            ax.plot(mean.index, mean.values, "o-", color=f"C{i}", label=f"N={N}")
            ax.fill_between(mean.index, mean - std, mean + std, color=f"C{i}", alpha=0.2)
        if row == 0:
            data_mean = logs.groupby("d0")["data"].mean()
            ax.plot(data_mean.index, data_mean.values, "k:", label="data")
        else:
            ax.axhline(0, color="k", ls=":", lw=1)
        ax.set(title=name if row == 0 else "", xlabel="d0")
    axes[row, 0].set_ylabel(ylabel)
axes[0, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The data
#
# For two balanced classes of $n = N/2$ samples, $\mathbb E\,\mathrm{Tr}\Sigma_W / \mathbb E\,\mathrm{Tr}\Sigma_B =
# (1 - 1/n)\,s^2 / (\mu^2 + s^2/(2n))$ for every $d_0$ (notes §1.5). We test each $d_0$'s mean deviation of
# $\log_{10}\mathrm{NC1}(X)$ from it, pooled over $N$ and the draws, against its own 99.9 % half-width
# (the gap between a mean of logs and the log of a ratio of means is $O(1/N)$, far below it).

# %%
n = nc1.index.get_level_values("N").to_numpy() // 2
deviation = logs["data"] - np.log10((1 - 1 / n) * S**2 / (MU**2 + S**2 / (2 * n)))
data_z = deviation.groupby("d0").agg(lambda v: abs(v.mean()) / halfwidth(v))
ch.claim("data-nc1", "the data NC1 matches its expectation (1−1/n)s²/(μ²+s²/(2n)) at every d0 (largest |mean log10 "
         "deviation| over d0, in units of its 99.9 % half-width)", source="derived", value=data_z.max(), op="<=",
         bound=1.0)

# %% [markdown]
# ## NTK against NNGP, with the correct and with the official Erf NTK
#
# Paper B's main statement: the NTK does not represent more collapsed features than the NNGP. Per draw, the
# gap $\log_{10}\mathrm{NC1}(\Theta) - \log_{10}\mathrm{NC1}(Q)$ of the same data; its mean over $N$ and
# the draws at each $d_0$, ± std (ddof = 0):

# %%
gaps = pd.DataFrame({"NTK erf − NNGP erf": logs["NTK erf"] - logs["NNGP erf"],
                     "official NTK erf − NNGP erf": logs["NTK erf (official, bugged)"] - logs["NNGP erf"],
                     "NTK relu − NNGP relu": logs["NTK relu"] - logs["NNGP relu"]})
by_d0 = gaps.groupby("d0")
pd.concat({"mean": by_d0.mean(), "std": by_d0.std(ddof=0)}, axis=1).swaplevel(axis=1).sort_index(axis=1).round(4)

# %% [markdown]
# With the correct kernels the NTK is above the NNGP beyond the draws' spread: by about $+0.30$ in
# $\log_{10}$ (a factor 2) for $d_0 \ge 2$, and by more for Erf at $d_0 = 1$. For ReLU at $d_0 = 1$ the two
# are *equal*: with $\sigma_b = 0$, $K_1 = xx'$, $\theta \in \{0, \pi\}$ and $\Theta = 2Q$ exactly
# (notes §1.6), so that case is an identity, tested on its own: in float64 the angle comes from
# $\arccos$ of a correlation rounded to within a few ulps of $\pm1$, which moves $\theta$ (hence
# $\dot Q$, relatively) by up to $\sqrt{2\cdot\text{few}\cdot\varepsilon} \sim 10^{-8}$ but not beyond
# $\sqrt{\varepsilon} \approx 1.5\cdot 10^{-8}$ in $\log_{10}$ after the division by $\pi \ln 10$.

# %%
def lower_end(v):  # the mean minus its 99.9 % half-width
    return v.mean() - halfwidth(v)


def upper_end(v):  # the mean plus its 99.9 % half-width
    return v.mean() + halfwidth(v)


erf_gap = gaps["NTK erf − NNGP erf"]
relu_gap = gaps["NTK relu − NNGP relu"]
relu_d0 = relu_gap.index.get_level_values("d0")
ch.claim("ntk-above-nngp-erf", "correct Erf NTK NC1 > NNGP NC1 at every d0 (smallest lower end of the 99.9 % "
         "interval of the mean log10 gap over d0)", source="paper",
         value=erf_gap.groupby("d0").agg(lower_end).min(), op=">", bound=0.0)
ch.claim("ntk-above-nngp-relu", "ReLU NTK NC1 > NNGP NC1 at every d0 ≥ 2 (smallest lower end of the 99.9 % "
         "interval of the mean log10 gap over d0 ≥ 2)", source="paper",
         value=relu_gap[relu_d0 >= 2].groupby("d0").agg(lower_end).min(), op=">", bound=0.0)
ch.claim("ntk-equals-nngp-relu-d0-1", "ReLU, d0 = 1: NC1(Θ) = NC1(Q) in every draw, to float64 rounding through "
         "arccos (largest |log10 gap|)", source="derived",
         value=relu_gap[relu_d0 == 1].abs().max(), op="<=", bound=np.sqrt(np.finfo(float).eps))

# %% [markdown]
# **The official Erf NTK.** Its derivative kernel is $\dot Q_{\rm code} = \tfrac4\pi (S - 4K_1^2)^{-1/2}$
# with the scalar $S = \sum_i (1 + 2K_{1,ii})^2 \approx N(1+2a)^2 \gg 4K_1^2$: a near-constant $c$, so
# $\Theta_{\rm code} \approx Q + c\,K_1$. NC1 is a ratio of traces linear in the kernel, so NC1 of a sum is
# the *mediant* of the two NC1s (notes §1.3), and $\mathrm{NC1}(K_1) = \mathrm{NC1}(X)$: the official Erf
# NTK's NC1 lies between the NNGP's and the data's. The data NC1 ($\approx 0.06$) is above the Erf NNGP's
# at $d_0 = 1$ and below it from $d_0 \approx 2$ on, so the official NTK sits just above the NNGP at
# $d_0 = 1$ and just *below* it at $d_0 \ge 8$, a gap of about $-0.01$ that shrinks like $c \propto
# N^{-1/2}$. In the paper's figure this reads as "the NTK is as collapsed as the NNGP, and slightly more
# at large $d_0$", the opposite of the main statement.

# %%
official = logs["NTK erf (official, bugged)"]
outside = ((official < np.minimum(logs["NNGP erf"], logs["data"])) |
           (official > np.maximum(logs["NNGP erf"], logs["data"]))).sum()
official_gap = gaps["official NTK erf − NNGP erf"]
official_d0 = official_gap.index.get_level_values("d0")
ch.claim("official-erf-ntk-between", "the official Erf NTK's NC1 lies between the NNGP's and the data's in every "
         "draw, the mediant of Q + c K_1 (draws outside)", source="derived", value=outside, op="==", bound=0)
ch.claim("official-erf-ntk-below-nngp", "official code: its Erf NTK NC1 < NNGP NC1 at every (N, d0 ≥ 8) (largest "
         "upper end of the 99.9 % interval of the mean log10 gap; per N, as the gap shrinks like N^-1/2)",
         source="official-code", value=official_gap[official_d0 >= 8].groupby(["N", "d0"]).agg(upper_end).max(), op="<",
         bound=0.0, not_expected={"smoke": "2 draws per (N, d0): the 99.9 % half-width is 636 standard errors"})
by_cell_gap = gaps.groupby(["N", "d0"]).mean()
ch.claim("official-erf-ntk-nearer-nngp", "official code: its Erf NTK curve is nearer the NNGP's than the correct NTK's "
         "at every (N, d0) (largest |official gap| / correct gap)", source="official-code",
         value=(by_cell_gap["official NTK erf − NNGP erf"].abs() / by_cell_gap["NTK erf − NNGP erf"]).max(), op="<",
         bound=1.0)

# %% [markdown]
# ## Erf against ReLU, and the dependence on $d_0$ and $N$

# %%
# the expected NC1 of the NNGP with n = N/2 samples per class (notes §1.6: Monte Carlo over pairs, its standard
# error in `se`); its change over N is the only dependence on N that the expectation has
NNGP_SPECS = [("nngp", "erf"), ("nngp", "relu")]
expected = []
for d0 in cfg.d0_values:
    for N in cfg.n_values:
        est, _ = expected_log_nc1_map(NNGP_SPECS, [[MU]], [[S]], d0, 20000, seed=seed + 17, n_per_class=N / 2)
        expected += [{"N": N, "d0": d0, "act": a, "log10 E-NC1": est[(k, a)].value.item() / np.log(10),
                      "SE": est[(k, a)].se.item() / np.log(10)} for k, a in NNGP_SPECS]
expected = pd.DataFrame(expected).set_index(["act", "N", "d0"])
print("predicted spread over N of log10 E-NC1(NNGP), largest over d0:",
      expected["log10 E-NC1"].groupby(["act", "d0"]).agg(lambda v: v.max() - v.min()).groupby("act").max().round(4).to_dict())
for act in ("erf", "relu"):
    pred = expected.xs(act, level="act")
    dev = logs[f"NNGP {act}"] - pred["log10 E-NC1"].reindex(logs.index.droplevel("rep")).to_numpy()
    se_pred = pred["SE"].groupby("d0").max()
    z = dev.groupby("d0").agg(lambda v: abs(v.mean()) / halfwidth(v)) / np.sqrt(
        1 + (3.29 * se_pred / dev.groupby("d0").agg(halfwidth)) ** 2)
    ch.claim(f"nngp-follows-expectation-in-N-{act}", f"NNGP NC1 ({act}) at each N is its expected NC1 for n = N/2 "
             "(notes §1.6), so it depends on N only as the expectation does (largest |mean log10 deviation| over "
             "d0, pooled over N and draws, in units of its 99.9 % half-width widened by the expectation's 3.29 SE)",
             source="derived", value=z.max(), op="<=", bound=1.0)
erf = logs["NNGP erf"]
top, one = erf.xs(max(cfg.d0_values), level="d0"), erf.xs(min(cfg.d0_values), level="d0")
ch.claim("erf-nngp-rises-with-d0", f"Erf NNGP NC1 rises with d0 (mean log10 at d0 = {max(cfg.d0_values)} minus at "
         f"d0 = {min(cfg.d0_values)}, pooled over N, minus the 99.9 % half-widths of both means in quadrature)",
         source="derived", value=top.mean() - one.mean() - np.hypot(halfwidth(top), halfwidth(one)), op=">", bound=0.0)
for kind in ("NNGP", "NTK"):
    diff = logs[f"{kind} erf"] - logs[f"{kind} relu"]
    ch.claim(f"erf-below-{kind.lower()}-relu", f"Erf {kind} NC1 < ReLU {kind} NC1 at every d0 (largest upper end of "
             "the 99.9 % interval of the mean log10 difference)", source="paper",
             value=diff.groupby("d0").agg(upper_end).max(), op="<", bound=0.0)

# %% [markdown]
# ## Which of the paper's statements survive the fix
#
# - **"The NTK does not represent more collapsed features than the NNGP"** survives, and with a margin: with
#   the correct kernels the NTK's NC1 is about twice the NNGP's at every $d_0 \ge 2$ for both activations
#   (and equal for ReLU at $d_0 = 1$, an identity). With the official Erf NTK the figure would show no gap,
#   and at $d_0 \ge 8$ a *reversed* one beyond the draws' spread: the paper's own figure, if made with that
#   code, would contradict its theorem.
# - **"Similar values of the expected NC1 for NNGP and NTK even for Erf"** (the summary's quote of §5.3) does
#   *not* survive: it is what the bug produces; the correct Erf NTK is as far above its NNGP as the ReLU NTK.
# - **"Erf yields lower NC1 than ReLU"** survives the fix at $\mu = 2$, $s = 0.5$ for the NNGP (which the bug
#   does not touch) and for the correct NTK, with a margin that shrinks to a few hundredths of a decade at
#   large $d_0$ (the Erf/ReLU chapter maps where it fails at other $\mu, s$).
# - The NNGP curves, the data NC1 and every ReLU curve are unaffected by the bug.

# %%
ch.finish()
