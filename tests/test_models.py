"""ncutils.models: shapes, the NCModel contract, seeded initialisation, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from ncutils.models import build_model


@pytest.mark.parametrize("name,in_shape,n", [("mlp", (1, 8, 8), 32), ("resnet8_w8", (1, 14, 14), 32),
                                             ("resnet20", (3, 16, 16), 64), ("vit_tiny", (1, 14, 14), 16),
                                             ("vit_tiny", (3, 14, 28), 16)])
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


@pytest.mark.parametrize("init", ["flax", "normal_fan_out", "torch"])
def test_vit_inits_act_on_linear_layers_and_leave_layernorm_at_one_and_zero(init: str) -> None:
    model = build_model("vit_tiny", in_shape=(1, 28, 28), init=init, seed=0, widths=(32, 2))
    again = build_model("vit_tiny", in_shape=(1, 28, 28), init=init, seed=0, widths=(32, 2))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
    q = model.body[3].attention.q.weight  # 32 × 32
    expected = 2.0 / 32 if init == "normal_fan_out" else 1.0 / 32
    assert q.var().item() == pytest.approx(expected, rel=0.2)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 5 and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)
    position = model.body[2].offset  # 16 tokens of 7×7 patches, N(0, 0.02²) in every init
    assert position.shape == (16, 32) and position.std().item() == pytest.approx(0.02, rel=0.2)


def test_vit_rejects_images_that_are_not_whole_patches() -> None:
    with pytest.raises(ValueError, match="multiple of 7"):
        build_model("vit_tiny", in_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="two widths"):
        build_model("vit_tiny", in_shape=(1, 14, 14), widths=(16,))
    with pytest.raises(ValueError, match="heads"):
        build_model("vit_tiny", in_shape=(1, 14, 14), widths=(15, 1))


# ----------------------------------------------------------------- VGG11/16 and DenseNet40 (notes §2.3)
# The architectures as the notes describe them, written independently of ncutils.models: the
# classic VGG layer lists ("M" = 2×2 max-pool) and DenseNet40's channel bookkeeping.
VGG_LAYERS = {"vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
              "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]}
VGG_FC = [512, 256]
GROWTH, BOTTLENECK, STEM = 12, 24, 24  # growth k = 12, bn_size·k = 24, stem conv 3×3 to 24 channels


def vgg_parameter_count(name: str, c_in: int, n_classes: int = 10) -> int:
    """conv3×3 with bias + BN(scale, shift) per conv; Linear with bias + BN per fc; classifier."""
    total, c = 0, c_in
    for layer in VGG_LAYERS[name]:
        if layer != "M":
            total += 9 * c * layer + layer + 2 * layer
            c = layer
    for w in VGG_FC:
        total += c * w + w + 2 * w  # 32×32 input: 1×1×512 after five pools
        c = w
    return total + c * n_classes + n_classes


def densenet40_parameter_count(c_in: int, n_classes: int = 10) -> tuple[int, int]:
    """(parameters, feature dimension): stem conv without BN or bias; per bottleneck layer on c channels
    BN(c) + conv1×1 c→24 + BN(24) + conv3×3 24→12; transitions BN(c) + conv1×1 c→c/2; final BN."""
    total, c = 9 * c_in * STEM, STEM
    for block in range(3):
        for _ in range(6):
            total += 2 * c + c * BOTTLENECK + 2 * BOTTLENECK + 9 * BOTTLENECK * GROWTH
            c += GROWTH
        if block < 2:
            total += 2 * c + c * (c // 2)
            c //= 2
    total += 2 * c
    return total + c * n_classes + n_classes, c


_BUILT: dict[tuple, torch.nn.Module] = {}


def official(name: str, in_shape: tuple[int, ...], init: str = "flax") -> torch.nn.Module:
    """The full-size model, built once per module (VGG16 has 15 M parameters)."""
    key = (name, in_shape, init)
    if key not in _BUILT:
        _BUILT[key] = build_model(name, in_shape=in_shape, init=init, seed=0)
    return _BUILT[key]


@pytest.mark.parametrize("name,in_shape,n", [("vgg11", (1, 32, 32), 256), ("vgg11", (3, 32, 32), 256),
                                             ("vgg16", (3, 32, 32), 256), ("densenet40", (1, 28, 28), 132),
                                             ("densenet40", (3, 32, 32), 132)])
def test_official_models_shapes_and_feature_dimension(name: str, in_shape: tuple[int, ...], n: int) -> None:
    model = official(name, in_shape).eval()
    x = torch.randn(2, *in_shape)
    assert model.n_features == n
    assert model.features(x).shape == (2, n)
    assert model(x).shape == (2, 10)
    assert torch.allclose(model(x), model.classifier(model.features(x)))


def test_densenet_features_are_the_real_dimension_not_184() -> None:
    _, n = densenet40_parameter_count(3)
    assert n == 132  # (24 + 6·12)/2 = 48 → (48 + 72)/2 = 60 → 60 + 72 = 132 (bug B3: the script says 184)
    assert official("densenet40", (3, 32, 32)).classifier.in_features == n


@pytest.mark.parametrize("name,in_shape", [("vgg11", (1, 32, 32)), ("vgg11", (3, 32, 32)), ("vgg16", (3, 32, 32)),
                                           ("densenet40", (1, 28, 28)), ("densenet40", (3, 32, 32))])
def test_parameter_counts_match_the_architecture_description(name: str, in_shape: tuple[int, ...]) -> None:
    expected = densenet40_parameter_count(in_shape[0])[0] if name == "densenet40" else vgg_parameter_count(name, in_shape[0])
    assert sum(p.numel() for p in official(name, in_shape).parameters()) == expected


@pytest.mark.parametrize("name,in_shape,momentum,n_bn,n_conv,conv_bias", [
    ("vgg11", (1, 32, 32), 0.1, 8 + 2, 8, True), ("vgg16", (3, 32, 32), 0.1, 13 + 2, 13, True),
    ("densenet40", (1, 28, 28), 0.01, 18 * 2 + 2 + 1, 1 + 18 * 2 + 2, False),
    ("resnet20", (1, 28, 28), 0.01, 1 + 9 * 2, 1 + 9 * 2 + 2, None)])
def test_batchnorm_momentum_eps_and_layer_counts(name, in_shape, momentum, n_bn, n_conv, conv_bias) -> None:
    """torch momentum 0.1 (Flax 0.9) for VGG, 0.01 (Flax 0.99) for ResNet/DenseNet; eps 1e-5; VGG convs
    have biases, DenseNet convs none (ResNet20: only its two shortcut convs)."""
    model = official(name, in_shape)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(bns) == n_bn and len(convs) == n_conv
    assert all(bn.momentum == momentum and bn.eps == 1e-5 for bn in bns)
    if conv_bias is not None:
        assert all((c.bias is not None) == conv_bias for c in convs)


def test_vgg_rejects_28x28_inputs() -> None:
    with pytest.raises(ValueError, match="32×32.*mnist_32"):
        build_model("vgg11", in_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="7 widths"):
        build_model("vgg11", in_shape=(1, 32, 32), widths=[8, 8])
    with pytest.raises(ValueError, match="growth rate"):
        build_model("densenet40", in_shape=(1, 8, 8), widths=[4, 4])


def _weights(model: torch.nn.Module, kind: str) -> list[torch.nn.Module]:
    """Layers by the official initialiser they use: '3x3' (kernel_init_2), '1x1' convs and 'dense' (kernel_init_1)."""
    if kind == "dense":
        return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    k = 3 if kind == "3x3" else 1
    return [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (k, k)]


def _fan_in(layer: torch.nn.Module) -> int:
    return layer.weight[0].numel()


@pytest.mark.parametrize("name,in_shape,kinds", [("vgg11", (1, 32, 32), ("3x3", "dense")),
                                                 ("densenet40", (1, 28, 28), ("3x3", "1x1", "dense"))])
def test_torch_init_bounds_and_scale(name: str, in_shape: tuple[int, ...], kinds: tuple[str, ...]) -> None:
    """U(±√(3·s/fan_in)) with s = 1/9 on 3×3 convs, s = 1 on 1×1 convs and Linear layers: inside the
    bound, and reaching it (so the scale is not smaller)."""
    model = official(name, in_shape, init="torch")
    for kind in kinds:
        layers = _weights(model, kind)
        assert layers, kind
        for layer in layers:
            bound = math.sqrt(3 * (1 / 9 if kind == "3x3" else 1.0) / _fan_in(layer))
            w = layer.weight.detach().abs()
            assert w.max().item() <= bound * (1 + 1e-6)
            if w.numel() >= 1000:
                assert w.max().item() >= 0.95 * bound


def test_torch_init_bias_rules() -> None:
    """One-sided bias U[0, 1/√n): on every conv and Linear layer of VGG, on the classifier only of
    DenseNet (whose convs have no bias); BatchNorm starts at scale 1, shift 0."""
    vgg = official("vgg11", (1, 32, 32), init="torch")
    biased = [m for m in vgg.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(biased) == 8 + 2 + 1
    for m in biased:
        assert m.bias.min().item() >= 0.0 and m.bias.max().item() < 1 / math.sqrt(256)
        assert m.bias.max().item() > 0.5 / math.sqrt(256)  # drawn, not zero
    dense = official("densenet40", (1, 28, 28), init="torch")
    b = dense.classifier.bias
    assert b.min().item() >= 0.0 and 0 < b.max().item() < 1 / math.sqrt(132)
    bns = {name: m for name, m in dense.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    biases = {name for name, _ in dense.named_parameters() if name.endswith("bias")}
    assert biases == {f"{name}.bias" for name in bns} | {"classifier.bias"}
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns.values())


def test_flax_and_normal_fan_out_on_vgg() -> None:
    """flax: truncated normal with variance 1/fan_in, all biases zero; normal_fan_out: N(0, 2/fan_out)
    with fan_out = 9·out for a 3×3 conv, all biases zero."""
    flax = official("vgg11", (1, 32, 32), init="flax")
    conv = _weights(flax, "3x3")[-1]  # 512 → 512
    assert conv.weight.var().item() == pytest.approx(1 / _fan_in(conv), rel=0.02)
    assert conv.weight.abs().max().item() <= 2 * math.sqrt(1 / _fan_in(conv)) / 0.87962566103423978 + 1e-7
    fan_out = official("vgg11", (1, 32, 32), init="normal_fan_out")
    conv = _weights(fan_out, "3x3")[-1]
    assert conv.weight.var().item() == pytest.approx(2 / (9 * 512), rel=0.02)
    for model in (flax, fan_out):
        assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))


TINY = {"vgg11": ((1, 32, 32), [2, 2, 4, 4, 4, 6, 5]), "vgg16": ((3, 32, 32), [2, 2, 4, 4, 4, 6, 5]),
        "densenet40": ((3, 8, 8), [2])}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_variants_are_seeded(name: str) -> None:
    in_shape, widths = TINY[name]
    a, b, c = (build_model(name, in_shape=in_shape, widths=widths, init="torch", seed=s).eval() for s in (1, 1, 2))
    x = torch.randn(3, *in_shape)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert a.n_features == (widths[-1] if name.startswith("vgg") else (((4 + 12) // 2 + 12) // 2 + 12))


@pytest.mark.parametrize("name", sorted(TINY))
def test_one_official_training_step_changes_every_parameter(name: str) -> None:
    from ncutils.paper_a import training as paper_a

    in_shape, widths = TINY[name]
    torch.manual_seed(0)
    model = build_model(name, n_classes=3, in_shape=in_shape, widths=widths, init="flax", seed=0)
    x, y = torch.rand(6, *in_shape), torch.arange(3).repeat_interleave(2)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt, _ = paper_a._optimizer(model, lr=0.1, wd=5e-4, epochs=10)
    model.train()
    loss = paper_a.mse(model(x), y, 3)
    loss.backward()
    opt.step()
    changed = {k: not torch.equal(before[k], v) for k, v in model.state_dict().items() if "num_batches" not in k}
    assert torch.isfinite(loss) and all(changed.values()), [k for k, c in changed.items() if not c]


@pytest.mark.parametrize("name", sorted(TINY))
def test_empirical_ntk_on_tiny_variants_matches_autograd(name: str) -> None:
    """ncutils.kernels.empirical_ntk on 2 samples equals the dot products of per-sample gradients."""
    from ncutils.kernels import empirical_ntk

    in_shape, widths = TINY[name]
    model = build_model(name, n_classes=3, in_shape=in_shape, widths=widths, init="torch", seed=0).double()
    model.train()
    model(torch.rand(6, *in_shape, dtype=torch.float64))  # non-trivial BatchNorm running statistics
    model.eval()
    x = torch.rand(2, *in_shape, dtype=torch.float64)
    K = empirical_ntk(model, x)
    assert K.shape == (2, 2, 3, 3)
    params = [p for p in model.parameters()]
    J = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(x[i : i + 1])[0, a], params)])
                     for i in range(2) for a in range(3)]).reshape(2, 3, -1)
    assert torch.allclose(K, torch.einsum("iap,jbp->ijab", J, J), rtol=1e-10, atol=1e-12)
