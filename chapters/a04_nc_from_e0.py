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
# # Neural Collapse from $E = 0$
#
# Assume the last-layer features are centred, $\bar h = 0$, and the invariant vanishes, $E = 0$.
# Then the gradient flow (D) of the previous chapter leads to Neural Collapse.
#
# :::{admonition} Whose is what
# - **Paper:** the statement (§5.3, according to the summary we had; its wording was not available).
# - **Ours:** the version checked, our derivation: with $E = 0$, $W^\top W \succeq H_2H_2^\top/\mu_\text{single}$, and
#   since $\dot H_2 = -\mu_\text{single}W^\top W H_2$ the within-class variability $H_2 = HQ_2$ decays at
#   least like $O(1/t)$ in squared norm (**NC1**); at a zero-loss limit with centred features,
#   $b = \mathbf 1/C$, $M^\top M = \sqrt{\mu_\text{class}/m}\,(I_C - \mathbf 1\mathbf 1^\top/C)$ (a simplex
#   ETF, **NC2**) and $W = \sqrt{m/\mu_\text{class}}\,M^\top$ (self-duality, **NC3**), approached like $t^{-1/2}$. Also ours: the
#   random-initialisation control ($E \ne 0$: zero loss without collapse) and the interpolation between
#   the two initialisations (an extension mirroring the paper's empirical claim). The metrics are the
#   official code's (NC1 as mean within-class standard deviation, NC2 and NC3 as Frobenius distances).
# - **Scaled down:** nothing; $C = 4$, $m = 5$, $n = 12$ and $\kappa = (3, 1.2, 0.3)$ are our notes'
#   settings; `smoke` integrates the interpolation runs to a shorter time.
# :::
#
# **A pitfall.** With $E = 0$ the remaining within-class variation is orthogonal to the class means,
# so Papyan's $\mathrm{NC1} = \operatorname{Tr}(\Sigma_W\Sigma_B^+)/C$ is (numerically) zero while the
# within-class variability is still large. We plot the official NC1 (standard deviation) and the
# scale-free ratio $\lVert H_2\rVert^2/N \,/\, \lVert\tilde M\rVert^2/C$ beside Papyan's.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_classes = None  # C
m = None  # samples per class
n_features = None  # n
kappa = None  # block values (kappa_d, kappa_c, kappa_n) of the feature kernel
t_max = None  # end of the two main runs
epsilons = None  # interpolation strengths eps of the noise added to H_E0
t_interp = None  # end of the interpolation runs

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ncutils.book import explore, progress, start
from ncutils.kernels import block_spectrum
from ncutils.nc import nc1, nc1_rel, nc1_std, nc2, nc3
from ncutils.paper_a import (
    BlockOperator,
    FlowState,
    fitted_log_slope,
    integrate_last_layer_flow,
    invariant_alignment,
    invariant_matrix,
    random_init,
    residual_components,
    zero_invariant_init,
)

ch = start("a04_nc_from_e0", profile=profile, seed=seed, n_classes=n_classes, m=m, n_features=n_features, kappa=kappa,
           t_max=t_max, epsilons=epsilons, t_interp=t_interp)
cfg = ch.cfg
C, m, p = cfg.n_classes, cfg.m, cfg.n_features
K = BlockOperator(C, m, cfg.kappa)
mu_class = block_spectrum(C, m, *cfg.kappa).class_
y = np.repeat(np.arange(C), m)
rng = np.random.default_rng(seed)
times = np.concatenate([[0.0], np.logspace(-2, np.log10(cfg.t_max), 40)])


def state_metrics(s: FlowState) -> dict[str, float]:
    """The official NC metrics (features as rows) and the invariant's alignment of one state."""
    H = s.H.T
    return {"NC1 (std, official)": nc1_std(H, y), "NC1 rel (‖H2‖²/‖M̃‖²)": nc1_rel(H, y),
            "NC1 Papyan": nc1(H, y), "NC2": nc2(H, y), "NC3": nc3(H, y, s.W),
            "invariant alignment": invariant_alignment(s.W, H, y, cfg.kappa)}


# %% [markdown]
# ## The $E = 0$ run and the random control

# %%
e0 = zero_invariant_init(C, m, p, K, rng)
rand = random_init(C, m, p, rng)
# E = 0 run: tighter than the default, and the solver's end points (not its dense output), as conserved
# quantities are checked to 1e-10
TOL = {"rtol": 1e-12, "atol": 1e-14, "end_points": True}
runs = {"E = 0, centred": integrate_last_layer_flow(e0, K, times, **TOL),
        "random (E ≠ 0)": integrate_last_layer_flow(rand, K, times)}
history = {name: pd.DataFrame([state_metrics(s) for s in sol.states], index=times) for name, sol in runs.items()}
e0_hist, rnd_hist = history["E = 0, centred"], history["random (E ≠ 0)"]
e0_hist.iloc[[0, 10, 20, 30, -1]]

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, (name, df) in zip(axes[:2], history.items()):
    for col in ["NC1 (std, official)", "NC1 rel (‖H2‖²/‖M̃‖²)", "NC1 Papyan", "NC2", "NC3"]:
        ax.loglog(times[1:], np.maximum(df[col].values[1:], 1e-16), label=col)
    ax.set(title=name, xlabel="t", ylim=(1e-16, 10))
axes[0].legend(fontsize=8)
for name, sol in runs.items():
    axes[2].loglog(times[1:], sol.losses()[1:], label=name)
axes[2].set(title="loss", xlabel="t")
axes[2].legend()
plt.tight_layout()
plt.show()

# %%
nc1_e0 = e0_hist["NC1 (std, official)"].values
h2_e0 = np.array([np.linalg.norm(residual_components(s.H, C, m)["single"]) for s in runs["E = 0, centred"].states])
t1 = int(np.argmin(np.abs(times - 1.0)))
ch.claim("E0-stays-zero", "with E(0) = 0 the invariant stays 0 (max ‖E(t)‖_F)", source="paper",
         value=max(np.linalg.norm(invariant_matrix(s.W, s.H, K)) for s in runs["E = 0, centred"].states),
         op="<=", bound=1e-10)
ch.claim("centring-preserved", "the global feature mean stays 0 (max ‖h̄(t)‖)", source="derived",
         value=max(np.linalg.norm(s.H.mean(axis=1)) for s in runs["E = 0, centred"].states), op="<=", bound=1e-10)
ch.claim("bias-stays", "b stays 1/C (max deviation)", source="derived",
         value=max(np.abs(s.b - 1.0 / C).max() for s in runs["E = 0, centred"].states), op="<=", bound=1e-10)
ch.claim("h2-monotone", "‖H₂‖_F = ‖H P_s‖_F (within-class variability) never increases (largest increase between "
         "saved times, relative to ‖H₂(0)‖)", source="derived", value=float(np.max(np.diff(h2_e0)) / h2_e0[0]), op="<=",
         bound=0.0)
ch.claim("nc1-drop", f"official NC1 at t={cfg.t_max:g} is below 1 % of its initial value (ratio)", source="paper",
         value=nc1_e0[-1] / nc1_e0[0], op="<", bound=0.01)
ch.claim("nc2", f"NC2 at t={cfg.t_max:g} (simplex ETF)", source="paper", value=e0_hist["NC2"].iloc[-1], op="<", bound=1e-6)
ch.claim("random-zero-loss", "random init: the loss still goes to 0", source="derived",
         value=runs["random (E ≠ 0)"].losses()[-1], op="<", bound=1e-10)
ch.claim("random-no-nc3", "random init: no self-duality (final NC3)", source="derived", value=rnd_hist["NC3"].iloc[-1],
         op=">", bound=0.5)
ch.claim("random-misaligned", "random init: the invariant is misaligned (final alignment)", source="derived",
         value=rnd_hist["invariant alignment"].iloc[-1], op="<", bound=0.5)
ch.claim("random-nc1-stalls", "random init: official NC1 keeps ≥ 50 % of its value at t = 1 (ratio)", source="derived",
         value=rnd_hist["NC1 (std, official)"].iloc[-1] / rnd_hist["NC1 (std, official)"].iloc[t1], op=">=", bound=0.5)

# %% [markdown]
# ## The limit of the $E = 0$ run, and how fast it is approached
# The class means settle exponentially fast; what is left decays with the within-class part $H_2$, whose
# norm falls like $t^{-1/2}$ (from $\tfrac{d}{dt}\lVert H_2\rVert^2 \le -\tfrac2r\lVert H_2\rVert^4$, with equality
# when the remaining singular values are equal). The deviations from self-duality are linear in the
# within-class part of $W$, which $E = 0$ ties to $H_2/\sqrt{\mu_\text{single}}$, so NC3 and
# $\lVert W - \sqrt{m/\mu_\text{class}}M^\top\rVert/\lVert W\rVert$ should decay like $t^{-1/2}$ too (our derivation).
# We fit the exponent on $t \ge t_\text{max}/10$. Its tolerance: three standard errors of the fit plus
# the difference between the exponents fitted on the two halves of the window (in log t), a bound on how
# far the fit still is from the asymptote (corrections to the power law fall like $1/t$).


# %%
def decay_exponent(values: np.ndarray) -> tuple[float, float]:
    """Exponent of a power law fitted on t ≥ t_max/10 and its tolerance (3 SE + the two halves' difference)."""
    late = times >= cfg.t_max / 10
    logt, logv = np.log(times[late]), np.log(values[late])
    (slope, _), cov = np.polyfit(logt, logv, 1, cov=True)
    half = len(logt) // 2
    halves = [fitted_log_slope(logt[sl], np.exp(logv[sl])) for sl in (slice(None, half + 1), slice(half, None))]
    return float(slope), float(3 * np.sqrt(cov[0, 0]) + abs(halves[0] - halves[1]))



# %%
final = runs["E = 0, centred"].states[-1]
M = final.H.reshape(p, C, m).mean(axis=2)
etf = np.sqrt(mu_class / m) * (np.eye(C) - np.ones((C, C)) / C)
etf_error = np.linalg.norm(M.T @ M - etf) / np.linalg.norm(etf)
self_dual = np.array([np.linalg.norm(s.W - np.sqrt(m / mu_class) * s.H.reshape(p, C, m).mean(axis=2).T)
                      / np.linalg.norm(s.W) for s in runs["E = 0, centred"].states])
exponents = {name: decay_exponent(v) for name, v in
             (("NC3", e0_hist["NC3"].values), ("self-duality error", self_dual), ("‖H₂‖", h2_e0))}
print(f"at t = {cfg.t_max:g}: ‖W − √(m/μ_c) Mᵀ‖/‖W‖ = {self_dual[-1]:.2e}, NC3 = {e0_hist['NC3'].iloc[-1]:.2e}, "
      f"‖MᵀM − ETF‖/‖ETF‖ = {etf_error:.2e}")
pd.DataFrame(exponents, index=["fitted exponent", "tolerance"]).T

# %%
for cid, name in (("nc3-exponent", "NC3"), ("self-duality-exponent", "self-duality error")):
    slope, tol = exponents[name]
    ch.claim(cid, f"{name} decays to 0 like t^(−1/2) (|fitted exponent + 1/2| on t ≥ {cfg.t_max / 10:g})",
             source="derived", value=abs(slope + 0.5), op="<=", bound=tol)
ch.claim("etf-gram", "MᵀM = √(μ_class/m)(I − 11ᵀ/C) (relative error)", source="derived", value=etf_error,
         op="<=", bound=1e-6)

# %% [markdown]
# ## Interpolating between the two initialisations
# $H(0) = H_{E=0} + \varepsilon\,\Xi$ with a fixed Gaussian $\Xi$ (same $W$, $b = \mathbf 1/C$), centred
# over the samples ($\Xi\mathbf 1 = 0$) so that only the hypothesis $E = 0$ is broken while the features
# stay centred: as $\varepsilon$ grows, $\lVert E(0)\rVert$ grows, the invariant alignment falls, and so
# does the collapse.

# %%
noise = 0.5 * rng.standard_normal(e0.H.shape)
noise -= noise.mean(axis=1, keepdims=True)  # centred: h̄(0) stays 0
rows = []
for eps in progress(cfg.epsilons, desc="interpolation"):
    s0 = FlowState(e0.W.copy(), e0.H + eps * noise, e0.b.copy())
    sol = integrate_last_layer_flow(s0, K, np.array([0.0, cfg.t_interp]))
    end = state_metrics(sol.states[-1])
    rows.append({"epsilon": eps, "‖E(0)‖": np.linalg.norm(invariant_matrix(s0.W, s0.H, K)),
                 "alignment": end["invariant alignment"], "final NC1 (std)": end["NC1 (std, official)"],
                 "final NC1 rel": end["NC1 rel (‖H2‖²/‖M̃‖²)"], "final NC3": end["NC3"],
                 "final loss": sol.losses()[-1]})
interp = pd.DataFrame(rows)

# %%
interp

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for col, marker in [("final NC1 rel", "o"), ("final NC3", "s")]:
    axes[0].plot(interp["‖E(0)‖"] + 1e-16, interp[col], marker=marker, label=col)
    axes[1].plot(interp["alignment"], interp[col], marker=marker, ls="", label=col)
axes[0].set_xscale("symlog", linthresh=1e-3)
axes[0].set(yscale="log", xlabel="‖E(0)‖_F", title=f"NC at t = {cfg.t_interp:g}")
axes[1].set(yscale="log", xlabel="invariant alignment at the end", title="NC against the invariant alignment")
axes[0].legend()
plt.tight_layout()
plt.show()

# %%
ch.claim("interpolation-trend", "NC3 at the end grows with ‖E(0)‖ (Spearman correlation over ε)", source="extension",
         value=interp[["‖E(0)‖", "final NC3"]].corr(method="spearman").iloc[0, 1], op=">=", bound=0.8,
         not_expected={"smoke": "three interpolation runs to t = 100 only"})


# %% [markdown]
# ## Explore
# NC3 and the invariant's alignment along the flow from $H(0) = H_{E=0} + \varepsilon\,\Xi$ (the book: $\varepsilon = 0.1$).


# %%
def draw_interpolation(epsilon: float, t_end: float) -> None:
    ts = np.concatenate([[0.0], np.logspace(-2, np.log10(t_end), 25)])
    sol = integrate_last_layer_flow(FlowState(e0.W.copy(), e0.H + epsilon * noise, e0.b.copy()), K, ts)
    hist = pd.DataFrame([state_metrics(s) for s in sol.states], index=ts)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.loglog(ts[1:], hist["NC3"].values[1:], label="NC3")
    ax.loglog(ts[1:], hist["NC1 rel (‖H2‖²/‖M̃‖²)"].values[1:], label="NC1 rel")
    ax.semilogx(ts[1:], hist["invariant alignment"].values[1:], label="invariant alignment")
    ax.set(xlabel="t", title=f"ε = {epsilon}")
    ax.legend()
    plt.show()


explore(draw_interpolation, epsilon=(0.1, 0.0, 3.0, 0.05), t_end=(100.0, 10.0, 2000.0, 10.0))

# %%
ch.finish()
