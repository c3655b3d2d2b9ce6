"""ncutils.models: shapes, the NCModel contract, seeded initialisation, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from ncutils.models import build_model


@pytest.mark.parametrize("name,in_shape,n", [("mlp", (1, 8, 8), 32), ("resnet8_w8", (1, 14, 14), 32),
                                             ("resnet20", (3, 16, 16), 64)])
def test_features_and_forward_shapes(name: str, in_shape: tuple[int, ...], n: int) -> None:
    model = build_model(name, in_shape=in_shape, seed=0).eval()
    x = torch.randn(5, *in_shape)
    assert model.n_features == n
    assert model.features(x).shape == (5, n)
    assert torch.allclose(model(x), model.classifier(model.features(x)))
    assert model(x).shape == (5, 10)


def test_same_seed_same_weights_other_seed_differs() -> None:
    a, b, c = (build_model("mlp", in_shape=(64,), seed=s) for s in (3, 3, 4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_flax_init_has_variance_one_over_fan_in() -> None:
    model = build_model("mlp", in_shape=(512,), init="flax", seed=0, widths=[512])
    w = model.body[1].weight
    assert w.var().item() == pytest.approx(1.0 / 512, rel=0.05)
    assert torch.all(model.body[1].bias == 0)


def test_normal_fan_out_init_variance() -> None:
    model = build_model("mlp", in_shape=(256,), init="normal_fan_out", seed=0, widths=[400])
    assert model.body[1].weight.var().item() == pytest.approx(2.0 / 400, rel=0.05)


def test_torch_classifier_bias_is_one_sided() -> None:
    model = build_model("mlp", in_shape=(64,), init="torch", seed=0, widths=[64, 16], n_classes=200)
    b = model.classifier.bias
    assert b.min().item() >= 0.0 and b.max().item() < 1.0 / math.sqrt(16)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        build_model("alexnet", in_shape=(64,))
    with pytest.raises(ValueError, match="unknown init"):
        build_model("mlp", in_shape=(64,), init="xavier")
    with pytest.raises(ValueError, match="image inputs"):
        build_model("resnet8_w8", in_shape=(64,))
