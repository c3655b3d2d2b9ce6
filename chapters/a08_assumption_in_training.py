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
# # The assumption and the theory, measured in training
#
# Paper A's theory rests on an assumption: the NTK and the feature kernel are block structured,
# $\Theta(x_i^c, x_j^{c'}) = \gamma_\bullet I_C$ and $\Theta^h(x_i^c, x_j^{c'}) = \kappa_\bullet I_n$, with
# values that do not change in time. From it follow the three phases of the residual (chapter a02) and the
# invariant $E = W^\top W - H(K^h)^{-1}H^\top$ (chapter a03). Chapter a06 checks only the ordering
# $\gamma_d > \gamma_c > \gamma_n$, which already holds at initialisation. Here we measure, at 40 or more probes per
# run (log-spaced epochs), how far trained networks are from the assumption and whether the theory's
# predictions hold in them.
#
# :::{admonition} Whose is what
# - **Paper:** the assumption (block structure, isotropic outputs, constant values), the three phases with rates
#   $\lambda_\text{global} \ge \lambda_\text{class} \ge \lambda_\text{single}$, and the conservation of $E$ under
#   the assumption. The training recipe and the official probe (12 samples per class, eval mode) are the official
#   code's.
# - **Ours (derived):** every measurement of whether the assumption holds in training. The best block fit and
#   its relative residual, the output isotropy $\lVert\Theta_{ab}\rVert/\lVert\Theta_{aa}\rVert$ ($a \ne b$), the
#   settling test, the conversion of SGD epochs to gradient-flow time
#   $\tau = \eta/((1-\beta)BC)$ per epoch (`ncutils/paper_a/assumption.py`), the full-training-set invariant
#   (features of all training samples, $\kappa$ from the probe batch: under the assumption $\kappa$ does not depend
#   on the samples), and the thresholds of the claims (from theory, or $k$ standard errors of the measured spread).
# - **Extension:** the decay law $\lVert E\rVert \propto e^{-2\lambda t}$ under weight decay (chapter a03's
#   extension, not in the paper), translated to SGD steps.
# - **Scaled down:** at `cpu` the notes' MLP on scikit-learn digits (150 per class, 1 500 epochs) at lr 0.3
#   (Neural Collapse in chapter a07) and lr 0.01 (no NC), each with weight decay $5\cdot10^{-4}$ and 0, and a
#   ResNet8 of width 8 on 14×14 MNIST (400 per class) at lr 0.3, with and without weight decay, for 60 epochs
#   (a07 trains it for 200; 60 keeps this chapter within its time budget). The paper's networks train 400 epochs
#   on full data sets. `smoke` trains the lr-0.3 MLP for 20 epochs and the ResNet for 2 (on 24 images per
#   class): its claims are not expected to hold.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
workers = None  # Dask LocalCluster workers
runs = None  # the parts: model, data, init, epochs, probe_every, probe_log, sizes, lrs × weight_decays each

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import linregress

from ncutils.book import start
from ncutils.paper_a.assumption import (
    block_fit,
    cumulative_decay,
    epoch_flow_time,
    epoch_learning_rates,
    wd_log_decay,
)
from ncutils.paper_a.training import DEFAULTS, history_frame

ch = start("a08_assumption_in_training", profile=profile, seed=seed, workers=workers, runs=runs)
(result,) = ch.run().values()
lost = [r for r in result.records if r["status"] != "ok"]
if lost:
    raise RuntimeError(f"{len(lost)} training runs did not finish: {[(r['config'], r['error']) for r in lost]}")
SMOKE = {"smoke": "20 epochs (MLP) and 2 (ResNet): no terminal phase"}
# claims that failed at cpu as first stated: there the finding is stated instead (negated, id "not-…"; see
# "What the measurements say"); whether the paper's wider networks, trained longer on full data sets, behave
# differently is a question of scale this chapter cannot answer
FINDING = "at `cpu` (narrow networks, small data): "

# %% [markdown]
# ## The runs and what the theory predicts for them
# One epoch of the recipe (batches of $B = 12C$ samples, MSE as ½·mean over batch and classes, momentum
# $\beta = 0.9$, learning rate $\eta_k$ in epoch $k$) is the gradient-flow time $\tau_k = \eta_k/((1-\beta)BC)$
# of $\dot R = -R\Gamma$ on the full training set. So the theory predicts that the residual component $\bullet$
# has decayed by $e^{-\Lambda_\bullet(e)}$ at epoch $e$, with $\Lambda_\bullet(e) = \sum_{k \le e}\tau_k
# \lambda_\bullet(k)$ and $\lambda_\bullet(k)$ the eigenvalues of the block NTK on the full training set
# ($m$ = training samples per class) with the $\gamma$ measured at the last probe before epoch $k$. Weight
# decay $\omega$ on $W$ and (by the extension's assumption) on $H$ shrinks $\lVert E\rVert$ by
# $e^{-2\omega S\eta_k/(1-\beta)}$ per epoch of $S$ steps. Both ignore what the theory leaves out: the
# kernel's change between probes, train-mode BatchNorm, and discrete steps.

# %%
runs_ = []
for rec in result.records:
    cfg = {**DEFAULTS, **rec["config"]}
    h = history_frame(rec["result"])
    C = 10  # every data set of this chapter has 10 classes
    m, batch = cfg["train_per_class"], cfg["batch_per_class"] * C
    lr_epochs = epoch_learning_rates(cfg["lr"], cfg["epochs"])
    decay = cumulative_decay(h.index, list(h["gamma"]), epoch_flow_time(lr_epochs, batch, C), C, m)
    for part, lam in decay.items():
        h[f"Lambda_{part}"] = lam
    steps = cfg["train_per_class"] // cfg["batch_per_class"]
    h["wd_decay"] = np.concatenate([[0.0], np.cumsum(wd_log_decay(lr_epochs, cfg["weight_decay"], steps))])[h.index]
    label = f"{cfg['model']} lr={cfg['lr']:g} wd={cfg['weight_decay']:g}"
    runs_.append(dict(label=label, cfg=cfg, h=h, train_acc=rec["result"]["train_accuracy"]))
n_probes = min(len(r["h"]) for r in runs_)
print(f"{len(runs_)} runs, at least {n_probes} probes each")
pd.DataFrame([{"run": r["label"], "probes": len(r["h"]), "train acc": r["train_acc"],
               "NC1_rel (end)": r["h"]["NC1_rel"].iloc[-1], "invariant alignment (end)":
               r["h"]["invariant_alignment"].iloc[-1]} for r in runs_]).round(4)

# %% [markdown]
# ## The assumption over training
# - **Contrast ratios** $\gamma_c/\gamma_n$ and $\kappa_c/\kappa_n$ (official block estimates).
# - **Best block fit:** the projection $P(K)$ replaces every diagonal, within-class and between-class entry by
#   the mean of its kind (over all outputs) and every cross-output block $\Theta_{ab}$, $a\ne b$, by 0; we plot
#   $\lVert K - P(K)\rVert_F/\lVert K\rVert_F$ for $\Theta$ (output-diagonal blocks, and the full kernel with its
#   cross-output blocks) and $\Theta^h$ (feature-diagonal blocks). 0 exactly under the assumption.
# - **Output isotropy:** $\lVert\Theta_{ab}\rVert_F/\lVert\Theta_{aa}\rVert_F$ over $a \ne b$ (0 under it), from
#   the full kernel on the probe batch.
# - **Settling:** $\gamma_\bullet$ and $\kappa_\bullet$ relative to their final values.

# %%
def curves(keys: list[tuple[str, str]], log: bool = True, relative: bool = False) -> None:
    """One panel per (column, title), one line per run, epochs on a symlog axis."""
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.8))
    for ax, (key, title) in zip(np.atleast_1d(axes), keys):
        for r in runs_:
            y = r["h"][key] / r["h"][key].iloc[-1] if relative else r["h"][key]
            ax.plot(r["h"].index, y, ".-", ms=3, label=r["label"])
        ax.set(xscale="symlog", xlabel="epoch", title=title, yscale="log" if log else "linear")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    plt.tight_layout()
    plt.show()


curves([("gamma_ratio", "γ_c / γ_n"), ("kappa_ratio", "κ_c / κ_n"), ("output_isotropy", "output isotropy")])
curves([("block_residual_ntk", "block-fit residual, Θ (diagonal blocks)"),
        ("block_residual_ntk_full", "block-fit residual, Θ (full)"),
        ("block_residual_feature", "block-fit residual, Θʰ (diagonal blocks)")], log=False)
curves([("gamma_d", "γ_d / final"), ("gamma_n", "γ_n / final"), ("kappa_d", "κ_d / final")], relative=True)


# %%
def ends(key: str) -> pd.Series:
    """Per run, the last probe's value over the first's."""
    return pd.Series({r["label"]: r["h"][key].iloc[-1] / r["h"][key].iloc[0] for r in runs_})


table = pd.DataFrame({k: ends(k) for k in ("gamma_ratio", "kappa_ratio", "block_residual_ntk_full",
                                            "block_residual_feature", "output_isotropy")})
table.round(3)

# %% [markdown]
# The per-output residual counts two departures from the assumption: entries of one block that differ, and
# per-output kernels $\Theta_{aa}$ that differ between outputs $a$ (the assumption has one $\gamma_\bullet$ for
# all). The trace kernel $\sum_a\Theta_{aa}$, kept at the first and last probe, has only the first: its best block
# fit's residual at the start and the end of each run.

# %%
trace_fit = {}
for r in runs_:
    y_probe = np.repeat(np.arange(10), r["cfg"]["batch_per_class"])  # the probe batch, class-sorted
    trace = r["h"]["trace_ntk"]
    trace_fit[r["label"]] = {when: block_fit(np.asarray(trace.iloc[i]), y_probe)[1]
                             for when, i in (("start", 0), ("end", -1))}
pd.DataFrame(trace_fit).T.round(3)

# %% [markdown]
# The paper assumes the kernels *become* aligned with the classes: the within/between contrast should grow and
# the block fit improve. We claim it for every run (the end over the start of training, threshold 1 from the
# statement itself).

# %%
for key, what in (("gamma_ratio", "the NTK's contrast γ_c/γ_n rises"), ("kappa_ratio", "the feature kernel's contrast "
                  "κ_c/κ_n rises")):
    ch.claim(key.replace("_", "-") + "-rises", f"in every run {what} (smallest end/start)", source="derived",
             value=float(table[key].min()), op=">", bound=1.0, not_expected=SMOKE)
for key, what in (("block_residual_ntk_full", "Θ (full, with the cross-output blocks)"),
                  ("block_residual_feature", "Θʰ")):
    ch.claim(key.replace("_", "-") + "-falls", f"in every run the block-fit residual of {what} falls (largest end/start)",
             source="derived", value=float(table[key].max()), op="<", bound=1.0,
             not_expected=SMOKE, found_otherwise={"cpu": FINDING + "the kernels become class-aligned but less block-constant"})
ch.claim("output-isotropy-falls", "in every run the cross-output blocks shrink relative to the diagonal ones "
         "(largest end/start of the output isotropy)", source="derived", value=float(table["output_isotropy"].max()),
         op="<", bound=1.0, not_expected=SMOKE, found_otherwise={"cpu": FINDING + "the ResNet's cross-output blocks grow"})


# %% [markdown]
# **Do $\gamma$ and $\kappa$ settle?** The invariant's conservation needs constant kernel values in the terminal
# phase. We compare, per run, the largest relative change $\max_\bullet|\log(x_\bullet(\text{end})/x_\bullet(0.6T))|$
# over the last 40 % of the epochs (learning rate ≤ 1 % of its start) with the same over the first 30 %
# (constant learning rate): settled means the first is smaller.

# %%
def log_change(h: pd.DataFrame, a: int, b: int) -> float:
    """Largest |log(x(b)/x(a))| over the six block values, between the probes at epochs a and b."""
    cols = [f"{k}_{p}" for k in ("gamma", "kappa") for p in "dcn"]
    return float(np.max(np.abs(np.log(np.abs(h.loc[b, cols] / h.loc[a, cols]).astype(float)))))


settle = {}
for r in runs_:
    h, T = r["h"], r["cfg"]["epochs"]
    first, late = h.index[h.index <= 0.3 * T][-1], h.index[h.index >= 0.6 * T][0]
    settle[r["label"]] = (log_change(h, late, T), log_change(h, 0, first))
settle = pd.DataFrame(settle, index=["terminal change", "early change"]).T
print(settle.round(3))
ch.claim("kernels-settle", "in every run the block values change less over the last 40 % of the epochs than over "
         "the first 30 % (largest ratio of the log-changes)", source="derived",
         value=float((settle["terminal change"] / settle["early change"]).max()), op="<", bound=1.0, not_expected=SMOKE)

# %% [markdown]
# ## The three phases in training
# The residual $R = f(X) - Y$ on the full training set (eval mode), split as in chapter a02 into its global,
# class and single components. Solid: measured; dashed: the theory's $\lVert R_\bullet(e_0)\rVert
# e^{-(\Lambda_\bullet(e) - \Lambda_\bullet(e_0))}$ from the first probe after initialisation, $e_0 = 1$.

# %%
parts = ("global", "class", "single")
fig, axes = plt.subplots(1, len(runs_), figsize=(4 * len(runs_), 3.8), sharey=True)
for ax, r in zip(np.atleast_1d(axes), runs_):
    h = r["h"]
    floor = min(h[f"residual_{p}"].min() for p in parts) / 10
    for i, p in enumerate(parts):
        ax.plot(h.index, h[f"residual_{p}"], "-", color=f"C{i}", label=f"‖R_{p}‖")
        after = h.loc[1:]
        pred = after[f"residual_{p}"].iloc[0] * np.exp(-(after[f"Lambda_{p}"] - after[f"Lambda_{p}"].iloc[0]))
        ax.plot(after.index, np.maximum(pred, floor), "--", color=f"C{i}")
    ax.set(xscale="symlog", yscale="log", xlabel="epoch", title=r["label"], ylim=(floor, None))
np.atleast_1d(axes)[0].legend(fontsize=7)
plt.tight_layout()
plt.show()


# %% [markdown]
# **Phase order** (the paper's reading of the three rates): the global component is fitted first, then the class
# means, then the within-class deviations. The epoch of each phase is the first probe after the component's
# largest value where it is below 10 % of that value (a component may grow first: the within-class deviations
# of the outputs do).

# %%
def phase_epoch(h: pd.DataFrame, part: str) -> float:
    """First probed epoch after the maximum of ‖R_part‖ with ‖R_part‖ ≤ 0.1 · that maximum (inf if never)."""
    x = h[f"residual_{part}"]
    x = x.loc[x.idxmax():]
    below = x.index[x <= 0.1 * x.iloc[0]]
    return int(below[0]) if len(below) else np.inf


phases = pd.DataFrame({r["label"]: {p: phase_epoch(r["h"], p) for p in parts} for r in runs_}).T
print(phases)
out_of_order = int(sum(not (row["global"] <= row["class"] <= row["single"]) for _, row in phases.iterrows()))
ch.claim("phase-order", "in every run the global component is fitted no later than the class component, and that no "
         "later than the single component (runs out of order)", source="derived", value=out_of_order, op="==", bound=0,
         not_expected=SMOKE)

# %% [markdown]
# **Rates.** From the class phase's epoch to the end (the global and class components fitted; $\Lambda$ follows
# the learning-rate drops), the theory says $\log\lVert R_\text{single}\rVert = \text{const} -
# \Lambda_\text{single}$: a slope of $-1$ against the predicted $\Lambda_\text{single}$. We fit the slope by least
# squares over the window's probes and claim it equals $-1$ within two of its standard errors.

# %%
rates = {}
for r in runs_:
    h = r["h"]
    w = h[h.index >= phases.loc[r["label"], "class"]]
    if len(w) >= 3 and np.ptp(w["Lambda_single"]) > 0:
        fit = linregress(w["Lambda_single"], np.log(w["residual_single"]))
        rates[r["label"]] = {"probes": len(w), "slope": fit.slope, "stderr": fit.stderr,
                             "z = |slope + 1| / stderr": abs(fit.slope + 1) / fit.stderr,
                             "measured log-decay": np.log(w["residual_single"].iloc[0] / w["residual_single"].iloc[-1]),
                             "predicted": w["Lambda_single"].iloc[-1] - w["Lambda_single"].iloc[0]}
rates = pd.DataFrame(rates).T
rates.round(4) if len(rates) else print("no run has 3 probes in its window")

# %%
ch.claim("single-rate-matches-gamma", "in every run the within-class residual decays at the rate λ_single = γ_d − γ_c "
         "of the measured NTK (largest |slope + 1| in standard errors of the fit)", source="derived",
         **({"value": float(rates["z = |slope + 1| / stderr"].max())} if len(rates) == len(runs_) else
            {"value": None, "no_data": f"{len(runs_) - len(rates)} runs have fewer than 3 probes in their window"}),
         op="<=", bound=2.0,
         not_expected=SMOKE, found_otherwise={"cpu": FINDING + "the within-class residual decays 2.5 to 30 times slower than predicted"})

# %% [markdown]
# ## The invariant in training
# Beside the official batch estimate (12 samples per class, $m = 12$ in $\mu_\text{class}$ and $\alpha$) we
# compute $E$ with the features of all training samples ($m$ = training samples per class), the quantity the
# theory conserves. Dotted: the extension's decay law with weight decay, from the epoch where the class
# component is fitted.

# %%
fig, axes = plt.subplots(1, len(runs_), figsize=(4 * len(runs_), 3.8), sharey=True)
for ax, r in zip(np.atleast_1d(axes), runs_):
    h = r["h"]
    ax.plot(h.index, h["invariant_norm_full"], "-", label="‖E‖, full training set")
    ax.plot(h.index, h["invariant_norm_batch"], "-", label="‖E‖, batch (official)")
    ax.plot(h.index, h["classifier_gram_norm"], ":", color="gray", label="‖WᵀW‖")
    start_ = phases.loc[r["label"], "class"]
    if np.isfinite(start_) and r["cfg"]["weight_decay"] > 0:
        w = h.loc[int(start_):]
        ax.plot(w.index, w["invariant_norm_full"].iloc[0] * np.exp(-(w["wd_decay"] - w["wd_decay"].iloc[0])), "k--",
                label="e^(−2λt) law")
    ax.set(xscale="symlog", yscale="log", xlabel="epoch", title=r["label"])
np.atleast_1d(axes)[0].legend(fontsize=7)
plt.tight_layout()
plt.show()


# %% [markdown]
# The claims below compare log-norms of $E$ with a tolerance from the measured spread: $\sigma$ is the standard
# deviation of $\log\lVert E_\text{full}\rVert$ about its least-squares line over the last 40 % of the epochs (the
# probe-to-probe scatter, which comes from the batch estimate of $\kappa$), and a difference of two probes is
# compared with $3\sqrt2\,\sigma$.

# %%
def terminal(h: pd.DataFrame, T: int) -> pd.DataFrame:
    return h[h.index >= 0.6 * T]


e_rows = {}
for r in runs_:
    h, T = r["h"], r["cfg"]["epochs"]
    w = terminal(h, T)
    logE = np.log(w["invariant_norm_full"])
    sigma = float(np.std(logE - np.polyval(np.polyfit(w.index, logE, 1), w.index), ddof=2)) if len(w) >= 4 else np.nan
    d = np.log(w["invariant_norm_full"]) - np.log(w["invariant_norm_batch"])
    start_ = phases.loc[r["label"], "class"]
    fitted = np.isfinite(start_)
    measured_decay = np.log(h.loc[int(start_), "invariant_norm_full"] / h["invariant_norm_full"].iloc[-1]) if fitted \
        else np.nan
    predicted = h["wd_decay"].iloc[-1] - h.loc[int(start_), "wd_decay"] if fitted else np.nan
    e_rows[r["label"]] = {"wd": r["cfg"]["weight_decay"], "sigma": sigma, "from epoch": start_,
                          "log-decay measured": measured_decay, "log-decay predicted": predicted,
                          "z decay": abs(measured_decay - predicted) / (np.sqrt(2) * sigma),
                          "log(full/batch), terminal mean": float(d.mean()),
                          "z full vs batch": abs(float(d.mean())) / (float(d.std(ddof=1)) / np.sqrt(len(d)))
                          if len(d) >= 3 else np.nan}
e_table = pd.DataFrame(e_rows).T
e_table.round(4)


# %%
def worst(col: str, rows: pd.DataFrame, why: str) -> dict:
    """The largest value of ``col`` over ``rows`` as a claim's value, or no data (with ``why``) if any is missing."""
    vals = rows[col].astype(float)
    if len(vals) == 0 or not np.all(np.isfinite(vals)):
        return {"value": None, "no_data": why}
    return {"value": float(vals.max())}


short = "a run has fewer than 4 probes in its last 40 %, or its class component is never fitted"
ch.claim("invariant-full-matches-batch", "the full-set invariant and the official batch estimate (m = 12) agree in the "
         "terminal phase (largest |mean log-ratio| in standard errors over the probes of the last 40 %)",
         source="derived", **worst("z full vs batch", e_table, short), op="<=", bound=3.0,
         not_expected=SMOKE, found_otherwise={"cpu": FINDING + "the two agree only where the within-class features have collapsed"})
ch.claim("invariant-conserved-without-wd", "without weight decay ‖E‖ (full set) is conserved after the class means are "
         "fitted (largest |log-change| in units of √2σ)", source="derived",
         **worst("z decay", e_table[e_table["wd"] == 0], short), op="<=", bound=3.0, not_expected=SMOKE)
ch.claim("invariant-decays-with-wd", "with weight decay ‖E‖ (full set) decays as the extension's law e^(−2λt) predicts "
         "(largest |measured − predicted log-decay| in units of √2σ)", source="extension",
         **worst("z decay", e_table[e_table["wd"] > 0], short), op="<=", bound=3.0,
         not_expected=SMOKE, found_otherwise={"cpu": FINDING + "the law holds at lr 0.01 and in the ResNet, not at the MLP's lr 0.3"})

# %% [markdown]
# ## Alignment is set early, NC keeps improving
# Our notes observed, at 7 probes, that the invariant alignment is reached early while NC keeps improving. With
# dense probes: the epoch at which the alignment first reaches 90 % of its final value, against the epoch at
# which $\mathrm{NC1}_\text{rel}$ first comes within a factor 10 of its final value.

# %%
curves([("invariant_alignment", "invariant alignment"), ("NC1_rel", "NC1_rel"), ("accuracy", "batch accuracy")],
       log=False)
early = {}
for r in runs_:
    h = r["h"]
    a, nc1 = h["invariant_alignment"], h["NC1_rel"]
    early[r["label"]] = {"alignment at 90 %": float(a.index[a >= 0.9 * a.iloc[-1]][0]),
                         "NC1_rel within ×10": float(nc1.index[nc1 <= 10 * nc1.iloc[-1]][0])}
early = pd.DataFrame(early).T
print(early)
recipe = [r["label"] for r in runs_ if r["cfg"]["weight_decay"] > 0
          and r["cfg"]["lr"] == max(q["cfg"]["lr"] for q in runs_ if q["cfg"]["model"] == r["cfg"]["model"])]
ch.claim("alignment-before-nc", "in the runs of the NC recipe (each model's largest lr, weight decay) the invariant "
         "alignment settles before NC1_rel (largest difference of the two epochs)", source="derived",
         value=float((early.loc[recipe, "alignment at 90 %"] - early.loc[recipe, "NC1_rel within ×10"]).max()),
         op="<", bound=0.0, not_expected={**SMOKE, "cpu": "scale: the ResNet trains 60 epochs and ends without NC "
                                                           "(NC1_rel 0.09); the MLP's NC run holds"})

# %% [markdown]
# ## What the measurements say
# At `cpu` (one seed; the claims stated as findings, ids `not-…`, failed there as first stated):
# - **Contrast rises, block form does not.** $\gamma_c/\gamma_n$ and $\kappa_c/\kappa_n$ rise in every run (in the MLP's
#   NC run 86- and 65-fold), and $\gamma$, $\kappa$ settle: over the last 40 % of the epochs they change by under
#   16 % of their early change. But the best block fit gets *worse* (Θ's relative residual grows 1.1- to 2.1-fold,
#   1.6-fold in the MLP's NC run), the trace kernel's too (0.23 → 0.31–0.44 in the MLP, 0.07 → 0.17–0.24 in the
#   ResNet), and the output isotropy falls only a little in the MLP (to 0.64–0.99 of its start) and grows 1.7- and
#   2.4-fold in the ResNet: the kernels align with the classes, but not as $\gamma_\bullet I_C$.
# - **Three phases, not three rates.** The phase order (global, then class, then single) holds in every run, but
#   the within-class residual decays 2.5 to 30 times slower than $\lambda_\text{single} = \gamma_d - \gamma_c$
#   predicts (slopes −0.06 to −0.40 instead of −1); at lr 0.3 the predicted rates $\tau\lambda$ exceed one per epoch,
#   where discrete steps no longer follow the flow.
# - **The invariant.** Without weight decay $\lVert E\rVert$ (full set) is conserved after the class means are
#   fitted, within the probe-to-probe scatter, in all three runs. With weight decay the extension's law
#   $e^{-2\lambda t}$ holds at lr 0.01 and in the 60-epoch ResNet but not in the MLP's NC run, where from its class
#   phase (epoch 487) it predicts 1.65 e-folds of decay and $\lVert E\rVert$ instead grows by 14 % (its
#   probe-to-probe scatter σ is 0.001 there). The official batch estimate ($m = 12$) and the full-set invariant differ by a
#   factor $e^{1.3}$–$e^{2}$ without NC ($e^{0.16}$ in the ResNet with weight decay), and agree to 0.1 % in the
#   MLP's NC run: the
#   within-class term $H_2H_2^\top/\mu_\text{single}$ grows with $m$ and vanishes only with collapse.
# - **Alignment early, NC later** holds in the MLP's NC run (90 % of the final alignment at epoch 158, NC1_rel within
#   a factor 10 of its end only at 487); the 60-epoch ResNet ends without NC.
#
# These figures are from the machine that built this page; on the machine of the first runs (another CPU, which
# rounds floating-point sums differently) they differed in the second digit and the same claims held.

# %%
ch.finish()
