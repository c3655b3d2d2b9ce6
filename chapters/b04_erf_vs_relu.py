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
# # Erf against ReLU
#
# Paper B (abstract): *"the choice of nonlinear activation function affects NC1 (with ERF yielding lower
# values than ReLU)"*, shown theoretically and empirically on the Gaussian mixture with $\mu = 2$,
# $s = 0.5$. Expected NC1 as in the previous chapter ($n\to\infty$).
#
# :::{admonition} Whose is what
# - **Paper:** the claim; the conditions of its theorem were not available to us.
# - **Ours:** the check where the paper states it (its setting, every $d_0$, both kernels) and a map of
#   where it holds over $(\mu, s)$ — an **extension**. It is not universal: Erf saturates when
#   $\lVert x\rVert^2/d_0 = \mu^2 + s^2$ is large, and at $\mu = 6$ its NNGP is *less* collapsed than
#   ReLU's for large $d_0$, its NTK already at $d_0 = 2$. ReLU's kernels are positively homogeneous, so
#   their NC1 depends only on $\mu/s$; Erf's depends on the scale.
# - **Scaled down:** the profiles change the map's resolution and the Monte Carlo pairs only.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
d0_values = None  # input dimensions at the paper's setting
n_pairs = None  # Monte Carlo pairs per moment
grid_size = None  # points per axis of the (mu, s) map

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import explore, start
from ncutils.data import paper_seed
from ncutils.paper_b.expected_nc1 import expected_nc1, limit_nc1, monte_carlo_moments, sample_pairs

ch = start("b04_erf_vs_relu", profile=profile, seed=seed, d0_values=d0_values, n_pairs=n_pairs, grid_size=grid_size)
cfg = ch.cfg
KERNELS = ("nngp", "ntk")


def erf_relu_table(mu: float, s: float) -> pd.DataFrame:
    """Expected NC1 of both kernels and activations for each d0 (Monte Carlo) and d0 → ∞ (closed form)."""
    rows = []
    for d0 in cfg.d0_values:
        pairs = sample_pairs(mu, s, d0, cfg.n_pairs, seed=paper_seed(seed, d0, int(100 * mu)))
        rows.append({"d0": d0, **{f"{k} {a}": expected_nc1(monte_carlo_moments(pairs, k, a))
                                  for k in KERNELS for a in ("erf", "relu")}})
    rows.append({"d0": np.inf, **{f"{k} {a}": limit_nc1(k, a, mu, s) for k in KERNELS for a in ("erf", "relu")}})
    table = pd.DataFrame(rows)
    for k in KERNELS:
        table[f"{k}: erf/relu"] = table[f"{k} erf"] / table[f"{k} relu"]
    return table


# %% [markdown]
# ## The paper's setting, $\mu = 2$, $s = 0.5$

# %%
paper = erf_relu_table(2.0, 0.5)
paper.round(4)

# %%
for k in KERNELS:
    ch.claim(f"erf-below-relu-{k}", f"μ=2, s=0.5: Erf NC1 < ReLU NC1 for the {k.upper()} at every d0 and d0 → ∞ (largest ratio)",
             source="paper", value=paper[f"{k}: erf/relu"].max(), op="<", bound=1.0)

# %% [markdown]
# ## A counterexample, $\mu = 6$, $s = 0.5$

# %%
counter = erf_relu_table(6.0, 0.5)
counter.round(4)

# %%
ch.claim("counterexample-nngp", "μ=6, s=0.5, d0 → ∞: the Erf NNGP is less collapsed than ReLU's (ratio)",
         source="extension", value=counter["nngp: erf/relu"].iloc[-1], op=">", bound=1.0)
ch.claim("counterexample-ntk", "μ=6, s=0.5: the Erf NTK is less collapsed than ReLU's already at the smallest d0 > 1 (ratio)",
         source="extension", value=counter[counter.d0 > 1]["ntk: erf/relu"].iloc[0], op=">", bound=1.0)

# %% [markdown]
# ## Where Erf < ReLU holds: a map over $(\mu, s)$
# $\log_{10}(\mathrm{NC1}_\text{erf}/\mathrm{NC1}_\text{relu})$ as $d_0\to\infty$; blue means Erf is more
# collapsed (the paper's claim holds), red that it is not. The black contour is the border, the star the
# paper's setting.

# %%
mus = np.linspace(0.5, 8.0, cfg.grid_size)
ss = np.linspace(0.25, 2.0, cfg.grid_size)
maps = {k: np.array([[np.log10(limit_nc1(k, "erf", mu, s) / limit_nc1(k, "relu", mu, s)) for mu in mus] for s in ss])
        for k in KERNELS}
holds_share = {k: float(np.mean(maps[k] < 0)) for k in KERNELS}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, k in zip(axes, KERNELS):
    lim = np.abs(maps[k]).max()
    im = ax.pcolormesh(mus, ss, maps[k], cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
    ax.contour(mus, ss, maps[k], levels=[0.0], colors="k")
    ax.plot([2.0], [0.5], "k*", ms=12)
    ax.set(xlabel="μ", ylabel="s", title=f"{k.upper()}: log10 NC1(erf)/NC1(relu), d0 → ∞; Erf < ReLU on "
           f"{holds_share[k]:.0%}")
    fig.colorbar(im, ax=ax)
plt.tight_layout()
plt.show()

# %%
ch.claim("not-universal", "the claim fails on part of the (μ, s) map (share of the NNGP map where Erf ≥ ReLU)",
         source="extension", value=1 - holds_share["nngp"], op=">", bound=0.0)


# %% [markdown]
# ## Explore
# NC1(Erf) / NC1(ReLU) of both kernels against $d_0$ for any $(\mu, s)$ (the book: the counterexample $\mu = 6$, $s = 0.5$).


# %%
def draw_ratio(mu: float, s: float) -> None:
    table = erf_relu_table(mu, s)
    finite = table[np.isfinite(table.d0)]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in KERNELS:
        ax.semilogx(finite.d0, finite[f"{k}: erf/relu"], "o-", label=k.upper())
        ax.axhline(table[f"{k}: erf/relu"].iloc[-1], ls=":", color="gray")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xlabel="d0", ylabel="NC1(erf) / NC1(relu)", title=f"μ={mu}, s={s} (dotted: d0 → ∞; below 1: Erf more collapsed)")
    ax.legend()
    plt.show()


explore(draw_ratio, mu=(6.0, 0.25, 8.0, 0.25), s=(0.5, 0.1, 2.0, 0.05))

# %%
ch.finish()
