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
# # The NTK of the last layer (Lemma 0)
#
# For a network $f(x) = W h(x) + b$ the NTK splits by the parameters it differentiates — the
# classifier weights $W$, the bias $b$, and the parameters $\theta_h$ of the feature map:
#
# $$\Theta(x, x') = \big(h(x)^\top h(x') + 1\big)\, I_C + W\,\Theta^h(x, x')\,W^\top,
# \qquad \Theta^h(x,x') = J_{\theta_h}h(x)\,J_{\theta_h}h(x')^\top .$$
#
# This is how paper A connects the block structure of the feature kernel $\Theta^h$ with that of the
# NTK $\Theta$, and why the dynamics of the previous chapters close on $W$, $H$ and $b$.
#
# :::{admonition} Whose is what
# - **Paper:** the decomposition, standard and almost surely in the paper in some form (its exact
#   statement was not available to us).
# - **Ours:** the check: every $C\times C$ block of the empirical NTK of a small network (an MLP with
#   BatchNorm in eval mode, on class-sorted scikit-learn digits, float64) equals the right-hand side.
# - **Scaled down:** nothing; the identity is exact, the profiles change the sizes only.
# :::

# %% tags=["parameters"]
profile = "cpu"
seed = 0
n_per_class = None  # digits per class in the batch
widths = None  # hidden widths of the MLP (the last is n)

# %%
import matplotlib.pyplot as plt
import torch

from ncutils.book import start
from ncutils.data import balanced_subset, load_offline
from ncutils.kernels import empirical_ntk
from ncutils.models import build_model

ch = start("a05_ntk_decomposition", profile=profile, seed=seed, n_per_class=n_per_class, widths=widths)
cfg = ch.cfg
torch.manual_seed(seed)
data = load_offline("digits")
x, y = balanced_subset(data.x, data.y, cfg.n_per_class, seed=seed)
x = torch.as_tensor(x, dtype=torch.float64)
model = build_model("mlp", n_classes=10, in_shape=tuple(x.shape[1:]), widths=cfg.widths, init="flax", seed=seed).double()
model.train()
with torch.no_grad():  # give BatchNorm non-trivial running statistics, then evaluate in eval mode
    model(x)
_ = model.eval()

# %% [markdown]
# ## Both sides of the identity

# %%
theta = empirical_ntk(model, x, outputs="full")  # (N, N, C, C)
theta_h = empirical_ntk(model, x, outputs="full", output_fn=lambda m, xb: m.features(xb))  # (N, N, n, n)
with torch.no_grad():
    h = model.features(x)
W = model.classifier.weight.detach()
C = W.shape[0]
last_layer = (h @ h.T + 1.0)[:, :, None, None] * torch.eye(C, dtype=torch.float64)
through_features = torch.einsum("ak,ijkl,bl->ijab", W, theta_h, W)
error = ((theta - last_layer - through_features).abs().max() / theta.abs().max()).item()
print(f"N = {x.shape[0]}, C = {C}, n = {h.shape[1]}: max |Θ − RHS| / max |Θ| = {error:.2e}")

# %%
ch.claim("lemma0", "Θ = (hᵀh′ + 1) I_C + W Θʰ Wᵀ for every pair (max error relative to max |Θ|, float64)",
         source="paper", value=error, op="<=", bound=1e-10)

# %% [markdown]
# ## The three terms
# Traced over the outputs, on the class-sorted batch.

# %%
panels = {"Θ (trace over outputs)": theta.diagonal(dim1=2, dim2=3).sum(-1),
          "(hᵀh′ + 1)·C  (W and b)": last_layer.diagonal(dim1=2, dim2=3).sum(-1),
          "tr(W Θʰ Wᵀ)  (feature map)": through_features.diagonal(dim1=2, dim2=3).sum(-1)}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for ax, (title, K) in zip(axes, panels.items()):
    im = ax.imshow(K.numpy(), cmap="viridis")
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(im, ax=ax, shrink=0.8)
plt.show()

# %%
ch.finish()
