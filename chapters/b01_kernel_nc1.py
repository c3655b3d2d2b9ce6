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
#   Under imbalance **both** of its traces are wrong: its within-class trace subtracts the unweighted
#   $\tfrac1C\sum_c\lVert\mu_c\rVert^2$ where the weighted $\sum_c\tfrac{n_c}{N}\lVert\mu_c\rVert^2$ belongs
#   (error $\sum_c(\tfrac{n_c}{N}-\tfrac1C)\lVert\mu_c\rVert^2$), and its between-class trace centres on the
#   weighted global mean $\mu_G$ without the cross term (error $2\mu_G^\top(\bar\mu-\mu_G)$, $\bar\mu$ the
#   unweighted mean of the class means) — our derivation, checked numerically below.
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
}
pd.Series(balanced, name="NC1")

# %%
ch.claim("balanced-exact", "balanced: kernel NC1 (exact formula, shuffled order) equals the features' NC1 (relative)",
         source="paper", value=abs(balanced["kernel, exact formula"] - reference) / reference, op="<=", bound=1e-10)
ch.claim("balanced-official", "balanced: the official kernel formula equals the features' NC1 (relative)",
         source="official-code", value=abs(balanced["kernel, official formula"] - reference) / reference, op="<=", bound=1e-10)

# %% [markdown]
# ## Imbalanced classes
# With $n_0 < n_1$ the official formula's NC1 *rises* with imbalance while the features' NC1 does not.
# Both of its traces contribute: each is compared with the features' own trace, and with the error our
# derivation predicts from the class means ($\mu_c$, weighted $\mu_G$, unweighted $\bar\mu$).
# For two classes the within-class error is $(\tfrac{n_1}{N}-\tfrac12)(\lVert\mu_1\rVert^2-\lVert\mu_0\rVert^2)$:
# small here, because these clusters (means $\mp\mathbf 1$) have nearly equal norms, and large for classes
# of unequal norms; the between-class error dominates this data, but neither trace is right.

# %%
def official_traces(K: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The official formula's Tr Σ_W = Tr K/N − (1/C)Σ_c 1ᵀK_cc1/n_c², Tr Σ_B = (1/C)Σ_c 1ᵀK_cc1/n_c² − 1ᵀK1/N²."""
    classes = np.unique(y)
    mean_norms = np.mean([K[np.ix_(y == c, y == c)].sum() / np.sum(y == c) ** 2 for c in classes])
    return np.trace(K) / len(y) - mean_norms, mean_norms - K.sum() / len(y) ** 2


rows = []
for sizes in cfg.imbalanced_sizes:
    d = features(sizes, seed + sum(sizes) + sizes[0])
    Kd = d.X @ d.X.T
    means = np.stack([d.X[d.y == c].mean(0) for c in (0, 1)])
    weights = np.array(sizes) / sum(sizes)
    mu_G, mu_bar = weights @ means, means.mean(0)
    within = np.mean(np.sum((d.X - means[d.y]) ** 2, 1))
    between = np.mean(np.sum((means - mu_G) ** 2, 1))
    off_w, off_b = official_traces(Kd, d.y)
    rows.append({"sizes": tuple(sizes), "minority share": sizes[0] / sum(sizes), "features": nc1_trace_ratio(d.X, d.y),
                 "exact formula": nc1_from_kernel(Kd, d.y, exact=True),
                 "official formula": nc1_from_kernel(Kd, d.y, exact=False),
                 "Tr Σ_W official rel. error": (off_w - within) / within,
                 "Tr Σ_W predicted": ((weights - 1 / 2) @ np.sum(means**2, 1)) / within,
                 "Tr Σ_B official rel. error": (off_b - between) / between,
                 "Tr Σ_B predicted": 2 * mu_G @ (mu_bar - mu_G) / between})
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
for trace, name in (("Tr Σ_W", "within"), ("Tr Σ_B", "between")):
    ch.claim(f"imbalanced-official-{name}-trace-wrong", f"imbalanced: the official formula's {trace} is wrong by itself, "
             "far beyond the 1e-10 at which the exact formula agrees (smallest |relative error| over the imbalanced sizes)",
             source="official-code", value=imb[f"{trace} official rel. error"][imb["minority share"] < 0.5].abs().min(),
             op=">=", bound=1e-6)
ch.claim("imbalanced-official-errors-derived", "the two trace errors equal our derivation, Σ_c(n_c/N − 1/C)‖μ_c‖² and "
         "2μ_Gᵀ(μ̄ − μ_G) (largest absolute difference of relative errors)", source="derived",
         value=max((imb["Tr Σ_W official rel. error"] - imb["Tr Σ_W predicted"]).abs().max(),
                   (imb["Tr Σ_B official rel. error"] - imb["Tr Σ_B predicted"]).abs().max()), op="<=", bound=1e-10)

# %%
ch.finish()
