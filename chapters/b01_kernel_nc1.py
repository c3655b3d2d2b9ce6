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
# # NC1 through the Gram matrix
#
# Paper B measures the variability collapse of features $h(x)$ by
# $\mathrm{NC1} = \operatorname{Tr}\Sigma_W/\operatorname{Tr}\Sigma_B$ with
# $\Sigma_W = \frac1N\sum_{c,i}(h_{c,i}-\mu_c)(h_{c,i}-\mu_c)^\top$ and
# $\Sigma_B = \frac1C\sum_c(\mu_c-\mu_G)(\mu_c-\mu_G)^\top$ ($\mu_G$ the sample-weighted global mean).
# Both traces depend on the features only through their Gram matrix $K_{ij} = \langle h(x_i), h(x_j)\rangle$,
# so NC1 can be computed for any kernel, including infinite-width ones whose features are never formed.
# For any class sizes (our derivation):
#
# $$\operatorname{Tr}\Sigma_W = \tfrac1N\Big[\operatorname{Tr}K - \sum_c\tfrac{\mathbf 1^\top K_{cc}\mathbf 1}{n_c}\Big],\qquad
#   \operatorname{Tr}\Sigma_B = \tfrac1C\sum_c\tfrac{\mathbf 1^\top K_{cc}\mathbf 1}{n_c^2} - \tfrac{2}{CN}\sum_c\tfrac{\mathbf 1^\top K_{c,:}\mathbf 1}{n_c} + \tfrac{\mathbf 1^\top K\mathbf 1}{N^2}.$$
#
# :::{admonition} Whose is what
# - **Paper:** the idea and the metric.
# - **Official code:** the formula
#   $\operatorname{Tr}\Sigma_W = \tfrac1N\operatorname{Tr}K - \tfrac1C\sum_c \tfrac{\mathbf 1^\top K_{cc}\mathbf 1}{n_c^2}$,
#   $\operatorname{Tr}\Sigma_B = \tfrac1C\sum_c \tfrac{\mathbf 1^\top K_{cc}\mathbf 1}{n_c^2} - \tfrac{\mathbf 1^\top K\mathbf 1}{N^2}$,
#   exact only when all classes have the same size — yet used for the official imbalanced-kernel figures.
# - **Ours:** the exact formula above; both are `ncutils.nc.nc1_from_kernel(K, y, exact=True|False)`.
#   The features are random Gaussian clusters (our choice).
# - **Scaled down:** nothing of the paper.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_samples = None  # N for the balanced check
n_features = None  # feature dimension n
imbalanced_sizes = None  # list of (n_0, n_1) class sizes

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import start
from ncutils.data import gaussian_mixture
from ncutils.nc import nc1_from_kernel, nc1_trace_ratio

ch = start("b01_kernel_nc1", profile=profile, seed=seed, n_samples=n_samples, n_features=n_features,
           imbalanced_sizes=imbalanced_sizes)
cfg = ch.cfg


def features(sizes, seed_):
    """Gaussian class clusters in n dimensions (means ∓1, std 1): sorted by class."""
    return gaussian_mixture(sizes, cfg.n_features, mu=1.0, s=1.0, seed=seed_)


# %% [markdown]
# ## Balanced classes, labels in any order
# The Gram matrix is shuffled together with the labels: the kernel formulas do not need a
# class-sorted order.

# %%
bal = features([cfg.n_samples // 2] * 2, seed)
perm = np.random.default_rng(seed).permutation(cfg.n_samples)
K = bal.X @ bal.X.T
reference = nc1_trace_ratio(bal.X, bal.y)
balanced = {
    "features (Tr Σ_W / Tr Σ_B)": reference,
    "kernel, exact formula": nc1_from_kernel(K[perm][:, perm], bal.y[perm], exact=True),
    "kernel, official formula": nc1_from_kernel(K[perm][:, perm], bal.y[perm], exact=False),
    "kernel ×7.3 (scale invariance)": nc1_from_kernel(7.3 * K, bal.y),
}
pd.Series(balanced, name="NC1")

# %%
ch.claim("balanced-exact", "balanced: kernel NC1 (exact formula, shuffled order) equals the features' NC1 (relative)",
         source="paper", value=abs(balanced["kernel, exact formula"] - reference) / reference, op="<=", bound=1e-10)
ch.claim("balanced-official", "balanced: the official kernel formula equals the features' NC1 (relative)",
         source="official-code", value=abs(balanced["kernel, official formula"] - reference) / reference, op="<=", bound=1e-10)
ch.claim("scale-invariant", "NC1(aK) = NC1(K) (relative difference, a = 7.3)", source="derived",
         value=abs(balanced["kernel ×7.3 (scale invariance)"] - reference) / reference, op="<=", bound=1e-12)

# %% [markdown]
# ## Imbalanced classes
# With $n_0 < n_1$ the official formula's between-class trace uses the unweighted mean of the class
# means where $\mu_G$ is the weighted one: its NC1 *rises* with imbalance while the features' NC1 does not.

# %%
rows = []
for sizes in cfg.imbalanced_sizes:
    d = features(sizes, seed + sum(sizes) + sizes[0])
    Kd = d.X @ d.X.T
    rows.append({"sizes": tuple(sizes), "minority share": sizes[0] / sum(sizes), "features": nc1_trace_ratio(d.X, d.y),
                 "exact formula": nc1_from_kernel(Kd, d.y, exact=True),
                 "official formula": nc1_from_kernel(Kd, d.y, exact=False)})
imb = pd.DataFrame(rows)
imb["exact rel. error"] = (imb["exact formula"] - imb["features"]).abs() / imb["features"]
imb["official rel. error"] = (imb["official formula"] - imb["features"]).abs() / imb["features"]
imb

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for col, style in [("features", "ko-"), ("exact formula", "C0x--"), ("official formula", "C3s-")]:
    ax.plot(imb["minority share"], imb[col], style, label=col)
ax.set(xlabel="share of the minority class n_0 / N", ylabel="NC1", title="Kernel NC1 under class imbalance")
ax.invert_xaxis()
ax.legend()
plt.show()

# %%
ch.claim("imbalanced-exact", "imbalanced: the exact formula equals the features' NC1 (largest relative error)",
         source="derived", value=imb["exact rel. error"].max(), op="<=", bound=1e-10)
ch.claim("imbalanced-official-wrong", "imbalanced: the official formula is off (relative error at the largest imbalance)",
         source="official-code", value=imb["official rel. error"].iloc[-1], op=">=", bound=0.1)

# %%
ch.finish()
