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
# # Closed-form NNGP and NTK of a 2-layer network
#
# Paper B studies the 2-layer network $f(x) = W_2\,\phi(W_1x + b_1) + b_2$ with
# $W_1\sim\mathcal N(0, \sigma_w^2/d_0)$ at infinite width. With the pre-activation kernel
# $K_1(x,x') = \sigma_b^2 + \sigma_w^2 x^\top x'/d_0$, the kernel of the hidden post-activations (the
# **NNGP** kernel on which NC1 is measured) and its derivative kernel are
#
# $$Q(x,x') = \mathbb E[\phi(u)\phi(v)],\qquad \dot Q(x,x') = \mathbb E[\phi'(u)\phi'(v)],\qquad
# (u,v)\sim\mathcal N\Big(0,\begin{pmatrix}K_1(x,x) & K_1(x,x')\\ K_1(x,x') & K_1(x',x')\end{pmatrix}\Big),$$
#
# and the **NTK** of the scalar output is $\Theta = \sigma_b^2 + \sigma_w^2 Q + \sigma_w^2 K_1\odot\dot Q$.
# ReLU gives the arc-cosine kernel, Erf Williams' formula.
#
# :::{admonition} Whose is what
# - **Paper:** the kernels, the standard ones (as in its official code, with $\sigma_w = 1$, $\sigma_b = 0$).
# - **Official code:** its Erf NTK has a bug: the derivative kernel uses `v @ v.T` on a 1-D vector
#   $v = 1 + 2\,\mathrm{diag}(K_1)$, a scalar $\sum_i v_i^2$ instead of the outer product $vv^\top$, so $\dot Q$ is
#   almost constant and the official Erf NTK is close to the NNGP. The book uses the correct kernel; the
#   official variant (`ntk_fc2_official_erf`) appears only here, to show the size of the error. Its ReLU
#   kernels are correct.
# - **Ours:** the check against neural-tangents.
# - **Scaled down:** nothing.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_samples = None  # N: balanced two-class Gaussian mixture with mu 2 and s 0.5
d0_values = None  # input dimensions

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import explore, start
from ncutils.data import gaussian_mixture, paper_seed
from ncutils.kernels import import_neural_tangents, nngp_fc2, ntk_fc2, ntk_fc2_official_erf

ch = start("b02_closed_form_kernels", profile=profile, seed=seed, n_samples=n_samples, d0_values=d0_values)
cfg = ch.cfg
stax = import_neural_tangents().stax
LAYERS = {"relu": stax.Relu, "erf": stax.Erf}


def stax_kernels(X: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """neural-tangents' infinite-width (NNGP of the hidden layer's readout, NTK), float64."""
    _, _, kernel_fn = stax.serial(stax.Dense(1, W_std=1.0, b_std=None), LAYERS[activation](),
                                  stax.Dense(1, W_std=1.0, b_std=None))
    k = kernel_fn(X, None, ("nngp", "ntk"))
    return np.asarray(k.nngp, dtype=np.float64), np.asarray(k.ntk, dtype=np.float64)


# %% [markdown]
# ## Agreement with neural-tangents
# With $\sigma_b = 0$ the readout's NNGP equals $\sigma_w^2 Q = Q$, so neural-tangents' `nngp` is directly
# comparable with $Q$, and its `ntk` with $\Theta$. Relative error $\max|K_\text{ours} - K_\text{nt}| / \max|K_\text{nt}|$.

# %%
rows = []
for d0 in cfg.d0_values:
    N = cfg.n_samples
    X = gaussian_mixture([N // 2, N // 2], d0, seed=paper_seed(seed, d0, N)).X
    for act in ("relu", "erf"):
        nngp_nt, ntk_nt = stax_kernels(X, act)
        row = {"d0": d0, "activation": act,
               "NNGP rel. error": np.abs(nngp_fc2(X, activation=act) - nngp_nt).max() / np.abs(nngp_nt).max(),
               "NTK rel. error": np.abs(ntk_fc2(X, activation=act) - ntk_nt).max() / np.abs(ntk_nt).max()}
        if act == "erf":
            row["official Erf NTK max abs error"] = np.abs(ntk_fc2_official_erf(X) - ntk_nt).max()
            row["max |NTK|"] = np.abs(ntk_nt).max()
        rows.append(row)
agreement = pd.DataFrame(rows)
agreement

# %%
for r in rows:
    ch.claim(f"nngp-{r['activation']}-d{r['d0']}", f"closed-form NNGP equals neural-tangents ({r['activation']}, d0={r['d0']})",
             source="derived", value=r["NNGP rel. error"], op="<=", bound=1e-6)
    ch.claim(f"ntk-{r['activation']}-d{r['d0']}", f"closed-form NTK equals neural-tangents ({r['activation']}, d0={r['d0']})",
             source="derived", value=r["NTK rel. error"], op="<=", bound=1e-6)
ch.claim("official-erf-ntk-wrong", "the official Erf NTK differs from the correct one (smallest max abs error over d0)",
         source="official-code", value=agreement["official Erf NTK max abs error"].min(), op=">", bound=0.5)

# %% [markdown]
# ## What the official Erf bug does
# The correct Erf NTK, the official one and the NNGP on a class-sorted sample ($d_0 = 8$): the official
# NTK keeps almost only the NNGP part.

# %%
X8 = gaussian_mixture([cfg.n_samples // 2] * 2, 8, seed=paper_seed(seed, 8, cfg.n_samples)).X
panels = {"NNGP Q (Erf)": nngp_fc2(X8, activation="erf"), "NTK Θ (Erf, correct)": ntk_fc2(X8, activation="erf"),
          "NTK (official code, Erf bug)": ntk_fc2_official_erf(X8)}
vmax = max(np.abs(p).max() for p in panels.values())
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, (title, K) in zip(axes, panels.items()):
    im = ax.imshow(K, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set(title=title, xticks=[], yticks=[])
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()


# %% [markdown]
# ## Explore
# The NNGP, the NTK and the official Erf NTK on a class-sorted draw, for any $d_0$ and activation (the book: $d_0 = 8$, Erf).


# %%
def draw_kernels(d0: int, activation: str) -> None:
    X = gaussian_mixture([cfg.n_samples // 2] * 2, d0, seed=paper_seed(seed, d0, cfg.n_samples)).X
    panels = {f"NNGP ({activation})": nngp_fc2(X, activation=activation), f"NTK ({activation})": ntk_fc2(X, activation=activation)}
    if activation == "erf":
        panels["NTK (official code, Erf bug)"] = ntk_fc2_official_erf(X)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8))
    for ax, (title, K) in zip(np.atleast_1d(axes), panels.items()):
        ax.imshow(K, cmap="RdBu_r", vmin=-np.abs(K).max(), vmax=np.abs(K).max())
        ax.set(title=f"{title}, d0={d0}", xticks=[], yticks=[])
    plt.show()


explore(draw_kernels, d0=(8, 1, 128, 1), activation=["erf", "relu"])

# %%
ch.finish()
