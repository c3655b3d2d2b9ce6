"""ncutils.kernels.empirical: both engines equal brute-force per-pair gradient products (float64, BatchNorm)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from ncutils.kernels import NotLayerwise, empirical_ntk, feature_kernel, layerwise, ntk_probe, output_gradient_numel
from ncutils.kernels.layerwise import LearnedOffset
from ncutils.models import build_model
from tests.devices import CUDA


def small_cnn() -> nn.Module:
    """Conv with bias, stride and dilation, conv without bias, BatchNorm, pooling, a Linear head."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(inplace=True),
                         nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 2 * 2, 4)).double()


def strided_cnn(pooled: bool = True) -> nn.Module:
    """Two stride-2 convs, 8×8 → 4×4 → 2×2, then global average pooling (the second conv's gradients factorise per
    channel: held as :class:`ChannelRankOne`) or, with ``pooled=False``, a dense layer on the flattened 2×2 map (they
    do not: the second conv, 4 positions, is held for the structured route of the diagonal kernel); the first conv
    (16 positions) as its Jacobian."""
    torch.manual_seed(4)
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)] if pooled else [nn.Flatten(), nn.Linear(32, 4)]
    return nn.Sequential(nn.Conv2d(1, 12, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(12, 8, 3, stride=2, padding=1),
                         nn.ReLU(), *head).double()


def pooled_cnn() -> nn.Module:
    """One conv (64 positions) before global average pooling and a dense layer: its gradients factorise per channel
    and it is held as the parts of its Jacobian would be (weight, bias: two :class:`ChannelRankOne` slots)."""
    torch.manual_seed(5)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(6, 4)).double()


def convs_frozen(model: nn.Module, weight: bool, bias: bool) -> nn.Module:
    """The model in eval mode, its conv layers' weights trainable only if ``weight``, their biases removed unless
    ``bias``."""
    for module in model:
        if isinstance(module, nn.Conv2d):
            module.weight.requires_grad_(weight)
            if not bias:
                module.bias = None
    return model.eval()


def with_bn_statistics(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give BatchNorm non-trivial running statistics, then switch to eval mode."""
    model.train()
    with torch.no_grad():
        model(x + 0.5)
    return model.eval()


def brute_force(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor, output_fn=None) -> torch.Tensor:
    """Θ[i, j, a, b] = ⟨∂f_a(x1_i)/∂θ, ∂f_b(x2_j)/∂θ⟩ by autograd, one sample at a time."""
    params = [p for p in model.parameters() if p.requires_grad]
    forward = output_fn or (lambda m, x: m(x))

    def grads(x):
        out = forward(model, x.unsqueeze(0)).reshape(-1)
        rows = []
        for o in out:
            gs = torch.autograd.grad(o, params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(gs, params)]))
        return torch.stack(rows)

    G1 = [grads(x) for x in x1]
    G2 = [grads(x) for x in x2]
    return torch.stack([torch.stack([g1 @ g2.T for g2 in G2]) for g1 in G1])


class TokenMixer(nn.Module):
    """A Linear on (B, T, d) inputs, then BatchNorm1d over channels: the layer-wise engine's other cases."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(3, 5)
        self.norm = nn.BatchNorm1d(4)
        self.head = nn.Linear(20, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.norm(self.mix(x.reshape(-1, 4, 3)))).flatten(1))


class PerToken(nn.Module):
    """A bare Linear applied per token, LayerNorm over the last dimension and a position embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(3, 5)
        self.position = LearnedOffset(4, 5)
        self.norm = nn.LayerNorm(5)
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.norm(torch.tanh(self.position(self.embed(x.reshape(-1, 4, 3)))))
        return self.head(z).sum(1)


@pytest.fixture(params=["mlp", "cnn", "strided", "pooled", "resnet", "tokens", "per-token", "vit"])
def model_and_inputs(request):
    torch.manual_seed(1)
    if request.param == "mlp":
        x = torch.randn(7, 12, dtype=torch.float64)
        model = build_model("mlp", n_classes=3, in_shape=(12,), widths=(9, 5), init="torch").double()
    elif request.param == "cnn":
        x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
        model = small_cnn()
    elif request.param == "strided":
        x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
        model = strided_cnn()
    elif request.param == "pooled":
        x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
        model = pooled_cnn()
    elif request.param == "resnet":  # BasicBlocks with the official 1×1 shortcut conv (with bias)
        x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
        model = build_model("resnet8_w8", n_classes=3, in_shape=(1, 8, 8), init="normal_fan_out").double()
    elif request.param == "tokens":
        x = torch.randn(6, 12, dtype=torch.float64)
        torch.manual_seed(3)
        model = TokenMixer().double()
    elif request.param == "per-token":
        x = torch.randn(5, 12, dtype=torch.float64)
        torch.manual_seed(6)
        model = PerToken().double()
        with torch.no_grad():  # LayerNorm's scale and shift away from 1 and 0
            model.norm.weight.uniform_(0.5, 1.5)
            model.norm.bias.uniform_(-0.5, 0.5)
    else:  # the ViT: per-token Linear layers, attention, LayerNorm, a position embedding
        x = torch.rand(4, 1, 14, 14, dtype=torch.float64)
        model = build_model("vit_tiny", n_classes=3, in_shape=(1, 14, 14), widths=(4, 1), init="torch").double()
    return with_bn_statistics(model, x), x


@pytest.mark.parametrize("method", ["layerwise", "jacobian"])
def test_full_trace_and_diagonal_equal_brute_force(model_and_inputs, method) -> None:
    model, x = model_and_inputs
    x1, x2 = x[:4], x[3:]
    reference = brute_force(model, x1, x2)
    full = empirical_ntk(model, x1, x2, outputs="full", method=method)
    torch.testing.assert_close(full, reference, rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(empirical_ntk(model, x1, x2, outputs="trace", method=method),
                               reference.diagonal(dim1=2, dim2=3).sum(-1), rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(empirical_ntk(model, x1, x2, outputs="diagonal", method=method),
                               reference.diagonal(dim1=2, dim2=3), rtol=1e-6, atol=1e-10)
    assert not model.training


@pytest.mark.parametrize("method", ["layerwise", "jacobian"])
def test_chunk_sizes_give_identical_kernels(model_and_inputs, method) -> None:
    model, x = model_and_inputs
    whole = empirical_ntk(model, x, outputs="full", method=method)
    cross = empirical_ntk(model, x[:3], x[2:], outputs="diagonal", method=method)
    for c in (2, 3, 5):
        torch.testing.assert_close(empirical_ntk(model, x, outputs="full", chunk_size=c, method=method), whole,
                                   rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(empirical_ntk(model, x[:3], x[2:], outputs="diagonal", chunk_size=c, method=method),
                                   cross, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["layerwise", "jacobian"])
def test_output_chunks_give_identical_kernels(model_and_inputs, method) -> None:
    model, x = model_and_inputs
    diagonal = empirical_ntk(model, x, outputs="diagonal", method=method)
    trace = empirical_ntk(model, x[:3], x[2:], outputs="trace", method=method)
    for k in (1, 2):
        torch.testing.assert_close(empirical_ntk(model, x, outputs="diagonal", output_chunk_size=k, chunk_size=3,
                                                 method=method), diagonal, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(empirical_ntk(model, x[:3], x[2:], outputs="trace", output_chunk_size=k,
                                                 method=method), trace, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", [CUDA])
@pytest.mark.parametrize("method", ["layerwise", "jacobian"])
def test_kernels_on_a_device_equal_those_on_the_cpu(model_and_inputs, method, device) -> None:
    model, x = model_and_inputs
    on_cpu = empirical_ntk(model, x[:4], x[3:], outputs="full", method=method)
    moved, xd = model.to(device), x.to(device)
    try:
        full = empirical_ntk(moved, xd[:4], xd[3:], outputs="full", method=method)
        chunked = empirical_ntk(moved, xd, outputs="diagonal", chunk_size=3, output_chunk_size=2, method=method)
    finally:
        model.to("cpu")
    assert full.device.type == device
    torch.testing.assert_close(full.cpu(), on_cpu, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(chunked.cpu(), empirical_ntk(model, x, outputs="diagonal", method=method),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", [CUDA])
def test_probe_on_a_device_equals_the_cpu_probe(device) -> None:
    torch.manual_seed(6)
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
    model = with_bn_statistics(build_model("resnet8_w8", n_classes=3, in_shape=(1, 8, 8)).double(), x)
    theta, theta_h = ntk_probe(model, x)
    theta_d, theta_hd = ntk_probe(model.to(device), x.to(device))
    torch.testing.assert_close(theta_d.cpu(), theta, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(theta_hd.cpu(), theta_h, rtol=1e-10, atol=1e-12)


def test_frozen_parameters_are_left_out() -> None:
    torch.manual_seed(4)
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    model = with_bn_statistics(small_cnn(), x)
    for p in (model[0].bias, model[1].weight, model[7].weight):
        p.requires_grad_(False)
    reference = brute_force(model, x, x)
    torch.testing.assert_close(empirical_ntk(model, x, method="layerwise"), reference, rtol=1e-6, atol=1e-10)


class Tied(nn.Module):
    """The same Linear applied twice (shared weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.inner(torch.tanh(self.inner(x)))))


class SideUse(nn.Module):
    """A Linear whose weight is also used outside the layer: only the autograd check can see it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.fc(x)) + x @ self.fc.weight)


class BareParameter(nn.Module):
    """A position embedding held as a bare Parameter of the model, not in a LearnedOffset."""

    def __init__(self) -> None:
        super().__init__()
        self.position = nn.Parameter(torch.randn(4))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(x + self.position))


def group_norm() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.GroupNorm(1, 3), nn.Linear(3, 2))


@pytest.mark.parametrize("make, match", [(group_norm, "GroupNorm"), (BareParameter, "BareParameter"),
                                         (Tied, "called 2 times"), (SideUse, "differs from autograd")])
def test_layerwise_refuses_what_it_does_not_cover_and_auto_falls_back_loudly(make, match) -> None:
    torch.manual_seed(5)
    model = make().double()
    x = torch.randn(4, 4, dtype=torch.float64)
    with pytest.raises(NotLayerwise, match=match):
        empirical_ntk(model, x, method="layerwise")
    with pytest.warns(UserWarning, match=match):
        auto = empirical_ntk(model, x, method="auto")
    torch.testing.assert_close(auto, brute_force(model, x, x), rtol=1e-6, atol=1e-10)


def test_the_vit_probe_takes_the_layerwise_route_without_a_warning() -> None:
    torch.manual_seed(7)
    x = torch.rand(4, 1, 14, 14, dtype=torch.float64)
    model = build_model("vit_tiny", n_classes=3, in_shape=(1, 14, 14), widths=(4, 2)).double()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theta, theta_h = ntk_probe(model, x)
    torch.testing.assert_close(theta, ntk_probe(model, x, method="jacobian")[0], rtol=1e-9, atol=1e-12)
    features = brute_force(model, x, x, output_fn=lambda m, xx: m.features(xx)).diagonal(dim1=2, dim2=3)
    torch.testing.assert_close(theta_h, features, rtol=1e-9, atol=1e-12)


def test_probe_and_feature_kernel_match_output_fns() -> None:
    torch.manual_seed(2)
    x = torch.randn(6, 10, dtype=torch.float64)
    model = with_bn_statistics(build_model("mlp", n_classes=3, in_shape=(10,), widths=(8, 4)).double(), x)
    theta, theta_h = ntk_probe(model, x)
    torch.testing.assert_close(theta, empirical_ntk(model, x, outputs="diagonal"))
    features = brute_force(model, x, x, output_fn=lambda m, xx: m.features(xx)).diagonal(dim1=2, dim2=3)
    torch.testing.assert_close(theta_h, features, rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(feature_kernel(model, x, layer="body", outputs="diagonal"), features, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(("weight", "bias"), [(True, True), (True, False), (False, True)])
def test_the_two_routes_of_a_conv_layer_agree_and_the_cost_model_picks_by_positions(bias, weight) -> None:
    """The cost model holds the strided CNN's 16-position conv as its Jacobian and its 4-position conv as
    patches and gradients (a bias alone, whose Jacobian is Σ_p g_p: always as the Jacobian); for the
    latter the structured route (Grams over sample-position pairs) gives the Θ_aa of its Jacobian, between
    a batch and itself and between two batches, also with a frozen weight or without bias."""
    model = convs_frozen(strided_cnn(pooled=False), weight, bias)
    x = torch.randn(7, 1, 8, 8, dtype=torch.float64)
    kinds = [type(f).__name__ for f in layerwise.layer_factors(model, x)]
    first = ["Dense"] * (weight + bias)
    assert kinds == first + (["Patches"] if weight else ["Dense"]) + ["Outer"]

    def held_patches(xb: torch.Tensor) -> list[layerwise.Patches]:
        return [f for f in layerwise.layer_factors(model, xb) if isinstance(f, layerwise.Patches)]

    whole, head, tail = held_patches(x), held_patches(x[:3]), held_patches(x[3:])
    for fa, fb in [(f, f) for f in whole] + list(zip(head, tail)):
        assert fa.g.shape[3] == 4
        by_jacobian = sum(torch.einsum("iak,jak->aij", a.j, b.j) for a, b in zip(fa.jacobian(), fb.jacobian()))
        torch.testing.assert_close(layerwise._structured_diagonal(fa, fb), by_jacobian, rtol=1e-12, atol=1e-12)


def test_the_structured_route_is_taken_for_wide_layers_with_few_positions_not_for_narrow_ones() -> None:
    """The contraction's cost model (shapes only): a ViT token layer with 4 tokens and 32 channels (1000 samples, 26
    outputs), where a count of multiply-adds alone picked the structured route and it took 6–10× as long as the
    Jacobian route, takes the Jacobian route; a 512-channel 3×3 conv at 2×2 positions (60 samples, 266 outputs), where
    it took 0.2 s against 53 s, takes the structured route."""
    def layer(B: int, O: int, C: int, P: int, C_in: int, kernel: int) -> layerwise.Patches:
        x = torch.empty(B, C_in, P, 1, device="meta")
        return layerwise.Patches(x, layerwise.ConvGeometry((kernel, kernel)), torch.empty(B, O, C, P, device="meta"),
                                 True)

    tokens = layer(1000, 26, 32, 4, 16, 1)
    conv = layer(60, 266, 512, 4, 512, 3)
    assert not layerwise.structured_is_cheaper(tokens, tokens, True)
    assert layerwise.structured_is_cheaper(conv, conv, True)


@pytest.mark.parametrize(("weight", "bias"), [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("build", [strided_cnn, pooled_cnn])
def test_a_conv_before_global_pooling_is_held_rank_one_per_channel(build, weight, bias) -> None:
    """The last conv before global pooling and a dense layer factorises per channel: one slot where its Jacobian
    would not be formed (4 positions), one per part of its Jacobian otherwise (64 positions); a conv followed by
    another conv does not factorise. Its Θ equals brute force between a batch and itself and between two batches,
    also against a batch whose factors were not factorised (its Jacobian's parts, slot by slot)."""
    model = convs_frozen(build(), weight, bias)
    x = torch.randn(7, 1, 8, 8, dtype=torch.float64)
    kinds = [type(f).__name__ for f in layerwise.layer_factors(model, x)]
    parts = weight + bias
    expected = ["Dense"] * parts + ["ChannelRankOne"] if build is strided_cnn else ["ChannelRankOne"] * parts
    assert kinds == expected + ["Outer"]
    head, tail = layerwise.layer_factors(model, x[:3]), layerwise.layer_factors(model, x[3:])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layerwise, "channel_rank_one", lambda factor, workspace=None: None)
        patch.setattr(layerwise, "_rank_one_jacobian", lambda factor: None)
        plain = layerwise.layer_factors(model, x[3:])
    assert "ChannelRankOne" not in [type(f).__name__ for f in plain]
    reference = brute_force(model, x[:3], x[3:])
    for other in (tail, plain):
        full = layerwise.contract(head, other, "full")
        torch.testing.assert_close(full, reference, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(layerwise.contract(head, other, "diagonal"), reference.diagonal(dim1=2, dim2=3),
                                   rtol=1e-10, atol=1e-12)
    whole = layerwise.layer_factors(model, x)
    same = layerwise.contract(whole, whole, "full")
    torch.testing.assert_close(same, brute_force(model, x, x), rtol=1e-10, atol=1e-12)
    flat = same.permute(0, 2, 1, 3).reshape(7 * 4, 7 * 4)
    assert torch.equal(flat, flat.T)


def test_a_conv_whose_jacobian_outgrows_its_gradients_is_held_as_gradients_and_input() -> None:
    """A conv with many input channels and few positions (16): the Jacobian route is cheaper for it, but its Jacobian
    (O·(C·k_in + C) = 1752 numbers per sample) is larger than its gradients and input (O·C·P + C_in·H·W = 512), so it
    is held as those (one slot) and its Jacobian is formed only while the kernel is contracted; Θ equals brute force
    between a batch and itself and between two batches."""
    torch.manual_seed(10)
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(128, 3)).double().eval()
    x = torch.randn(5, 8, 4, 4, dtype=torch.float64)
    factors = layerwise.layer_factors(model, x)
    assert [type(f).__name__ for f in factors] == ["Patches", "Outer"]
    f = factors[0]
    _, O, C, P = f.g.shape
    assert layerwise._jacobian_is_cheaper(O, C, P, f.k_in, f.width)
    assert not layerwise._jacobian_is_smaller(O, C, P, f.width, f.x[0].numel())
    torch.testing.assert_close(empirical_ntk(model, x), brute_force(model, x, x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(empirical_ntk(model, x[:2], x[2:]), brute_force(model, x[:2], x[2:]), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("columns", [1, 5, 40])
def test_two_batches_are_contracted_a_group_of_channels_at_a_time(model_and_inputs, columns) -> None:
    """Between two batches a layer's Jacobian is formed a group of output channels at a time, at most
    ``BLOCK_COLUMNS`` columns (one channel when a channel alone has more): with blocks of one or a few channels the full
    and diagonal kernels equal brute force."""
    model, x = model_and_inputs
    x1, x2 = x[:4], x[3:]
    reference = brute_force(model, x1, x2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layerwise, "BLOCK_COLUMNS", columns)
        full = empirical_ntk(model, x1, x2, outputs="full", method="layerwise")
        diagonal = empirical_ntk(model, x1, x2, outputs="diagonal", method="layerwise")
    torch.testing.assert_close(full, reference, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(diagonal, reference.diagonal(dim1=2, dim2=3), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("build", [strided_cnn, pooled_cnn])
def test_a_factorised_slot_meets_an_unfactorised_one_block_by_block(build) -> None:
    """One batch's conv layer factorised per channel, the other's not (held as gradients and input, or as its
    Jacobian formed per pass): their blocks of channels line up, and Θ equals brute force."""
    model = build().eval()
    x = torch.randn(7, 1, 8, 8, dtype=torch.float64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layerwise, "BLOCK_COLUMNS", 5)
        head = layerwise.layer_factors(model, x[:3])
        patch.setattr(layerwise, "channel_rank_one", lambda factor, workspace=None: None)
        patch.setattr(layerwise, "_rank_one_jacobian", lambda factor: None)
        plain = layerwise.layer_factors(model, x[3:])
        assert "ChannelRankOne" in [type(f).__name__ for f in head]
        assert "ChannelRankOne" not in [type(f).__name__ for f in plain]
        for fa, fb in ((head, plain), (plain, head)):
            reference = brute_force(model, *((x[:3], x[3:]) if fa is head else (x[3:], x[:3])))
            torch.testing.assert_close(layerwise.contract(fa, fb, "full"), reference, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(layerwise.contract(fa, fb, "diagonal"), reference.diagonal(dim1=2, dim2=3),
                                       rtol=1e-10, atol=1e-12)


def test_outputs_are_copied_only_when_an_operation_after_a_layer_changes_them_in_place() -> None:
    """A layer's output is held as it is (one forward pass for the batch, besides the check's on its first samples);
    when what follows changes it in place (ReLU(inplace=True) after a conv) the forward pass runs again with copies,
    and the kernel equals brute force either way."""
    torch.manual_seed(2)
    x = torch.randn(10, 1, 8, 8, dtype=torch.float64)
    calls: list[int] = []

    def counting(m: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        calls.append(xb.shape[0])
        return m(xb)

    for inplace, forwards in ((False, 1), (True, 2)):
        model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(inplace=inplace), nn.Flatten(),
                              nn.Linear(3 * 36, 2)).double().eval()
        calls.clear()
        factors = layerwise.layer_factors(model, x, counting)
        assert calls == [layerwise.CHECK_SAMPLES] + [10] * forwards
        torch.testing.assert_close(layerwise.contract(factors, factors, "full"), brute_force(model, x, x),
                                   rtol=1e-10, atol=1e-12)


def test_a_workspace_slot_is_reused_until_a_larger_or_other_tensor_is_asked_for() -> None:
    workspace = layerwise.Workspace()
    like = torch.zeros(1, dtype=torch.float64)
    first = workspace.take("jacobian", (4, 6), like)
    smaller = workspace.take("jacobian", (2, 3, 2), like)
    assert smaller.shape == (2, 3, 2) and smaller.data_ptr() == first.data_ptr()
    assert workspace.take("patches", (4, 6), like).data_ptr() != first.data_ptr()  # each slot its own buffer
    assert workspace.take("jacobian", (5, 6), like).data_ptr() != first.data_ptr()  # grown
    assert workspace.take("jacobian", (2,), like.float()).dtype == torch.float32


def test_gradients_that_do_not_factorise_per_channel_are_not_held_rank_one() -> None:
    """A conv followed by another conv, gradients of rank one but for one entry off by 1e-9 (relative), and bfloat16
    gradients (whose rounding is too coarse to tell): no factorisation; the same gradients exactly of rank one in
    float64: factorised, and its Jacobian is the layer's."""
    torch.manual_seed(3)
    B, O, C, P, K = 4, 3, 5, 6, 7
    u = torch.randn(B, K, P, 1, dtype=torch.float64)  # the input of a 1×1 conv: its own patches

    def patches(u: torch.Tensor, g: torch.Tensor) -> layerwise.Patches:
        return layerwise.Patches(u, layerwise.ConvGeometry((1, 1)), g, True)

    alpha, m = torch.randn(O, C, dtype=torch.float64), torch.randn(B, C, P, dtype=torch.float64)
    g = alpha[None, :, :, None] * m[:, None]
    factor = layerwise.channel_rank_one(patches(u, g))
    assert factor is not None and factor.parts == (K, 1)
    for a, b in zip(factor.jacobian(), patches(u, g).jacobian()):
        torch.testing.assert_close(a.j, b.j, rtol=1e-12, atol=1e-12)
    g_off = g.clone()
    g_off[1, 2, 3, 4] *= 1 + 1e-9
    assert layerwise.channel_rank_one(patches(u, g_off)) is None
    assert layerwise.channel_rank_one(patches(u.bfloat16(), g.bfloat16())) is None  # not decidable
    with pytest.MonkeyPatch.context() as patch:  # the layers' factors as built, before they are held
        patch.setattr(layerwise, "_held", lambda factor, workspace: [factor])
        weight, bias, second, _ = layerwise.layer_factors(strided_cnn(), torch.randn(5, 1, 8, 8, dtype=torch.float64))
    assert weight.channels == bias.channels == 12  # the first conv, held as its Jacobian
    assert layerwise._rank_one_jacobian(weight) is None and layerwise._rank_one_jacobian(bias) is None
    assert layerwise.channel_rank_one(second) is not None


def test_a_linear_on_tokens_is_held_as_a_1x1_conv_over_its_tokens() -> None:
    """A Linear applied per token is held as its input (a view of the layer's own, no copy) and its gradients with the
    tokens last, (B, O, d_out, T); the Jacobian formed from them is autograd's per-sample gradient of each output, and
    a 1×1 kernel with stride 1 unfolds to its input itself."""
    torch.manual_seed(6)
    model = PerToken().double().eval()
    x = torch.randn(5, 12, dtype=torch.float64)
    embed = layerwise.layer_factors(model, x)[0]
    assert isinstance(embed, layerwise.Patches) and embed.g.shape == (5, 3, 5, 4)
    assert embed.x.data_ptr() == x.data_ptr() and embed.u().data_ptr() == x.data_ptr()
    weight, bias = embed.jacobian()
    for i in range(5):
        out = model(x[i : i + 1])[0]
        for a in range(3):
            gw, gb = torch.autograd.grad(out[a], [model.embed.weight, model.embed.bias], retain_graph=True)
            torch.testing.assert_close(weight.j[i, a], gw.reshape(-1), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(bias.j[i, a], gb, rtol=1e-12, atol=1e-12)
    images = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    unfolded = layerwise.ConvGeometry((1, 1)).unfold(images)
    assert unfolded.data_ptr() == images.data_ptr() and torch.equal(unfolded, torch.nn.functional.unfold(images, 1))


def test_output_gradient_numel_counts_the_gradients_layer_factors_holds() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 5 * 5, 4), nn.ReLU(), nn.Linear(4, 2)).double().eval()
    x = torch.randn(6, 2, 5, 5, dtype=torch.float64)
    # the conv, held as its Jacobian (25 positions, 2·9 entries per patch), 3·2·9 + 3; BatchNorm's sums over
    # positions for its scale and shift 2·3; then 4 and 2: the sizes of g per sample and output
    assert output_gradient_numel(model, x[:1]) == 3 * 18 + 3 + 2 * 3 + 4 + 2
    model[1].bias.requires_grad_(False)
    assert output_gradient_numel(model, x[:1]) == 3 * 18 + 3 + 3 + 4 + 2
    model[1].requires_grad_(False)  # a frozen layer's output gradient is not held
    assert output_gradient_numel(model, x[:1]) == 3 * 18 + 3 + 4 + 2
    wide = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(128, 3)).double().eval()
    assert output_gradient_numel(wide, torch.randn(1, 8, 4, 4, dtype=torch.float64)) == 8 * 16 + 3  # its gradients
    with pytest.raises(ValueError, match="batch of one"):
        output_gradient_numel(model, x)


def test_bad_input() -> None:
    model = build_model("mlp", n_classes=2, in_shape=(4,), widths=(3,))
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="outputs"):
        empirical_ntk(model, x, outputs="sum")
    with pytest.raises(ValueError, match="same sample shape"):
        empirical_ntk(model, x, torch.randn(3, 5))
    with pytest.raises(ValueError, match="no submodule"):
        feature_kernel(model, x, layer="nope")
    with pytest.raises(ValueError, match="chunk_size"):
        empirical_ntk(model, x, chunk_size=1)
    with pytest.raises(ValueError, match="method"):
        empirical_ntk(model, x, method="fast")
    with pytest.raises(ValueError, match="output_chunk_size"):
        empirical_ntk(model, x, outputs="full", output_chunk_size=1)


@pytest.mark.parametrize("method", ["auto", "jacobian"])
def test_the_probe_gives_the_full_kernel_of_the_outputs_from_its_own_factors(method) -> None:
    """ntk_probe(full=True): the same diagonal kernels as without, and the full kernel of the outputs that
    empirical_ntk computes on its own (a ResNet8 whose last stage has 4 positions: conv layers held both ways)."""
    torch.manual_seed(9)
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
    model = with_bn_statistics(build_model("resnet8_w8", n_classes=3, in_shape=(1, 8, 8)).double(), x)
    theta, theta_h, full = ntk_probe(model, x, full=True, method=method)
    reference, reference_h = ntk_probe(model, x, method=method)
    torch.testing.assert_close(theta, reference, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(theta_h, reference_h, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(full, empirical_ntk(model, x, outputs="full", method=method), rtol=1e-10, atol=1e-12)
    assert full.shape == (6, 6, 3, 3)
    with pytest.raises(ValueError, match="no chunk_size or output_chunk_size"):
        ntk_probe(model, x, full=True, output_chunk_size=2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rows", [1, 5, 37])
def test_the_symmetric_gram_is_a_aT_exactly_symmetric(dtype, rows) -> None:
    """The Gram a aᵀ of a batch with itself from its upper block triangle (fewer rows than blocks, a block of one row,
    blocks of uneven sizes): a aᵀ to rounding (of the largest entry: the GEMM's blocking, hence each entry's rounding,
    differs between routes and CPUs), symmetric to the last bit."""
    a = torch.randn(rows, 300, dtype=dtype, generator=torch.Generator().manual_seed(8))
    gram = layerwise._gram(a)
    reference = a.double() @ a.double().T
    tol = {torch.float32: 1e-5, torch.float64: 1e-12}[dtype] * float(reference.abs().max())
    torch.testing.assert_close(gram.double(), reference, rtol=0, atol=tol)
    assert torch.equal(gram, gram.T) and gram.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_the_symmetric_gram_sum_is_the_sum_of_its_grams(dtype) -> None:
    """Σ_k a_k a_kᵀ of matrices of different widths (the layers of a model), added into one buffer in place: the sum
    to rounding and symmetric to the last bit."""
    generator = torch.Generator().manual_seed(9)
    parts = [torch.randn(29, width, generator=generator).to(dtype) for width in (1, 40, 300)]
    total = layerwise.SymmetricGramSum(29, parts[0])
    buffer = total.total
    for a in parts:
        total.add(a)
    assert total.total is buffer
    gram = total.result()
    reference = sum(a.double() @ a.double().T for a in parts)
    tol = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 3e-2}[dtype] * float(reference.abs().max())
    torch.testing.assert_close(gram.double(), reference, rtol=0, atol=tol)
    assert gram.dtype == dtype and torch.equal(gram, gram.T)


def test_the_self_check_sums_over_the_first_samples_and_still_sees_a_side_use() -> None:
    """A batch larger than the check's samples: the check compares their sum, and catches the side use."""
    torch.manual_seed(3)
    x = torch.randn(3 * layerwise.CHECK_SAMPLES, 4, dtype=torch.float64)
    with pytest.raises(NotLayerwise, match="differs from autograd"):
        empirical_ntk(SideUse().double(), x, method="layerwise")
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    torch.testing.assert_close(empirical_ntk(model, x, method="layerwise"), brute_force(model, x, x), rtol=1e-9, atol=1e-12)
