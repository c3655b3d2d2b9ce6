"""Every public measure, kernel and the streaming accumulator refuse bad input with an error that names it.

One table: each case calls a public function with one thing wrong and expects the exception type and a
phrase of its message. Nothing may return a number (or NaN) for such input. The tally of the table is
printed by ``test_tally`` (run with ``-s``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from ncutils import nc
from ncutils.kernels import (
    activation_kernels,
    block_kernel,
    block_spectrum,
    empirical_ntk,
    nngp_fc2,
    ntk_derivative_term_fc2,
    ntk_fc2,
    ntk_fc2_official_erf,
    ntk_probe,
    within_class_basis,
)
from ncutils.paper_a import invariant, invariant_alignment, invariant_alpha, invariant_norm, invariant_relative_norm

RNG = np.random.default_rng(0)
Y = np.repeat([0, 1, 2], 4)
H = 3.0 * np.eye(3, 5)[Y] + RNG.standard_normal((12, 5))
W, B = RNG.standard_normal((3, 5)), np.zeros(3)
K = H @ H.T
KAPPA = (3.0, 1.2, 0.3)

CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = []


def case(name: str, call: Callable[[], object], exc: type[Exception], phrase: str) -> None:
    CASES.append((name, call, exc, phrase))


def with_nan(a: np.ndarray, value: float = np.nan) -> np.ndarray:
    a = a.astype(float).copy()
    a.flat[3] = value
    return a


# ---------------------------------------------------------------- features and labels, for every measure of (H, y)
MEASURES = {"nc1": nc.nc1, "nc1_trace_ratio": nc.nc1_trace_ratio, "nc1_std": nc.nc1_std, "nc1_rel": nc.nc1_rel,
            "nc2": nc.nc2, "nc2_equinorm": nc.nc2_equinorm, "nc2_equiangularity": nc.nc2_equiangularity,
            "class_means": nc.class_means, "class_stats": nc.class_stats,
            "nc3": lambda h, y: nc.nc3(h, y, W), "nc4": lambda h, y: nc.nc4(h, y, W, B),
            "invariant": lambda h, y: invariant(W, h, y, KAPPA),
            "invariant_alignment": lambda h, y: invariant_alignment(W, h, y, KAPPA)}
BAD_FEATURES = [
    ("H None", lambda: None, Y, TypeError, "H is None"),
    ("H complex", lambda: H + 1j, Y, TypeError, "complex"),
    ("H strings", lambda: H.astype(str), Y, TypeError, "real numbers"),
    ("H boolean", lambda: H > 0, Y, TypeError, "boolean"),
    ("H 1-D", lambda: H[:, 0], Y, ValueError, "(N samples, p features)"),
    ("H empty", lambda: H[:0], Y[:0], ValueError, "empty"),
    ("H NaN", lambda: with_nan(H), Y, ValueError, "NaN or inf"),
    ("H inf", lambda: with_nan(H, np.inf), Y, ValueError, "NaN or inf"),
    ("H huge", lambda: H * 1e200, Y, ValueError, "float64's range"),
    ("H tiny", lambda: H * 1e-200, Y, ValueError, "float64's range"),
    ("H ragged", lambda: [[1.0, 2.0], [3.0]], Y[:2], ValueError, "rectangular"),
    ("y None", lambda: H, None, TypeError, "labels"),
    ("y too short", lambda: H, Y[:-1], ValueError, "one label per sample"),
    ("y NaN", lambda: H, with_nan(Y), ValueError, "NaN or inf labels"),
    ("y complex", lambda: H, Y + 1j, TypeError, "class labels"),
    ("y one class", lambda: H, np.zeros(12), ValueError, "at least 2 classes"),
    ("y 2-D", lambda: H, Y[:, None], ValueError, "one label per sample"),
    ("y mixed objects", lambda: H, np.array([0, "a"] * 6, dtype=object), TypeError, "class labels"),
]
for measure, f in MEASURES.items():
    for what, h, y, exc, phrase in BAD_FEATURES:
        case(f"{measure}: {what}", lambda f=f, h=h, y=y: f(h(), y), exc, phrase)

# ---------------------------------------------------------------- measure-specific problems
SINGLETON = np.r_[Y[:-1], 9]
case("nc1_std: a class of one sample", lambda: nc.nc1_std(H, SINGLETON), ValueError, "at least 2 per class")
case("nc1_rel: a class of one sample", lambda: nc.nc1_rel(H, SINGLETON), ValueError, "at least 2 per class")
for name, f in [("nc1", nc.nc1), ("nc1_trace_ratio", nc.nc1_trace_ratio), ("nc1_rel", nc.nc1_rel), ("nc2", nc.nc2),
                ("nc2_equinorm", nc.nc2_equinorm), ("nc2_equiangularity", nc.nc2_equiangularity)]:
    case(f"{name}: all class means coincide", lambda f=f: f(np.ones((12, 5)), Y), ValueError, "coincide")
case("nc2_equiangularity: a class mean at the global mean",
     lambda: nc.nc2_equiangularity(np.array([[-1.0, 0], [-1, 0], [0, 0], [0, 0], [1, 0], [1, 0]]), np.repeat([0, 1, 2], 2)),
     ValueError, "equals the global mean")
case("nc3: no W", lambda: nc.nc3(H, Y), TypeError, "needs the classifier W")
case("nc3: W zero", lambda: nc.nc3(H, Y, np.zeros((3, 5))), ValueError, "W is zero")
case("nc3: W wrong shape", lambda: nc.nc3(H, Y, np.ones((2, 5))), ValueError, "W must be (C, p)")
case("nc3: W NaN", lambda: nc.nc3(H, Y, with_nan(W)), ValueError, "W contains NaN")
case("nc3: W complex", lambda: nc.nc3(H, Y, W + 1j), TypeError, "complex")
case("nc3: W 1-D", lambda: nc.nc3(H, Y, W[0]), ValueError, "W must be (C, p)")
case("nc4: b None", lambda: nc.nc4(H, Y, W, None), TypeError, "b is None")
case("nc4: b wrong length", lambda: nc.nc4(H, Y, W, np.zeros(2)), ValueError, "b must have C = 3")
case("nc4: b NaN", lambda: nc.nc4(H, Y, W, np.array([0, np.nan, 0])), ValueError, "b contains NaN")
case("nc1 of stats without scatter", lambda: nc.nc1(nc.class_stats(H, Y)), ValueError, "scatter=True")
case("nc2 of stats with labels", lambda: nc.nc2(nc.class_stats(H, Y), Y), TypeError, "not with ClassStats")
case("nc2 of H without labels", lambda: nc.nc2(H), TypeError, "labels y are needed")
case("nc_metrics without scatter", lambda: nc.nc_metrics(nc.class_stats(H, Y)), ValueError, "scatter=True")

# ---------------------------------------------------------------- kernels given to the kernel measures
KERNEL_MEASURES = {"nc1_from_kernel": nc.nc1_from_kernel, "kernel_alignment": nc.kernel_alignment,
                   "block_values": nc.block_values, "block_values_official": nc.block_values_official,
                   "kernel_alignment_official": nc.kernel_alignment_official}
BAD_KERNELS = [
    ("K None", None, Y, TypeError, "K is None"),
    ("K not square", K[:, :-1], Y, ValueError, "square"),
    ("K 1-D", K[0], Y, ValueError, "square"),
    ("K 4-D", K[None, None], Y, ValueError, "square"),
    ("K not symmetric", np.triu(K), Y, ValueError, "not symmetric"),
    ("K negative diagonal (-HHᵀ)", -K, Y, ValueError, "not a Gram matrix"),
    ("K NaN", with_nan(K), Y, ValueError, "NaN or inf"),
    ("K complex", K + 1j, Y, TypeError, "complex"),
    ("K huge", K * 1e200, Y, ValueError, "float64's range"),
    ("K empty", K[:0, :0], Y[:0], ValueError, "empty"),
    ("y wrong length", K, Y[:-1], ValueError, "one label per sample"),
    ("y NaN", K, with_nan(Y), ValueError, "NaN or inf labels"),
    ("y one class", K, np.zeros(12), ValueError, "at least 2 classes"),
]
for measure, f in KERNEL_MEASURES.items():
    for what, k, y, exc, phrase in BAD_KERNELS:
        case(f"{measure}: {what}", lambda f=f, k=k, y=y: f(k, y), exc, phrase)
case("nc1_from_kernel: a stack", lambda: nc.nc1_from_kernel(np.stack([K, K]), Y), ValueError, "single (N, N) kernel")
case("nc1_from_kernel: indefinite with a positive diagonal",
     lambda: nc.nc1_from_kernel(np.eye(12) - 0.5 * (Y[:, None] == Y[None]), Y),
     ValueError, "not a Gram matrix")
case("nc1_from_kernel: identical features", lambda: nc.nc1_from_kernel(np.ones((12, 12)), Y), ValueError,
     "between-class trace")
case("kernel_alignment: zero kernel", lambda: nc.kernel_alignment(np.zeros((12, 12)), Y), ValueError, "K is zero")
case("kernel_alignment_official: zero kernel", lambda: nc.kernel_alignment_official(np.zeros((12, 12)), Y), ValueError,
     "K is zero")
case("block_values: no class of two", lambda: nc.block_values(np.eye(3), [0, 1, 2]), ValueError, "no class has 2 samples")
case("block_values_official: unsorted", lambda: nc.block_values_official(K, Y[::-1]), ValueError, "class-sorted")
case("block_values_official: unbalanced", lambda: nc.block_values_official(K, np.repeat([0, 1], [5, 7])), ValueError,
     "equally many")
case("block_values_official: one per class", lambda: nc.block_values_official(np.eye(3), [0, 1, 2]), ValueError,
     "at least 2 samples per class")

# ---------------------------------------------------------------- the streaming accumulator


def stream(H_, y_, W_=None, b_=None, C=3, p=5):
    return nc.streaming_nc_metrics(lambda: [(H_, y_)], C, p, W_, b_)


def pass_two_only():
    acc = nc.NCAccumulator(3, 5)
    acc.add_covariance(H, Y)


def result_before_pass_two():
    acc = nc.NCAccumulator(3, 5)
    acc.add_means(H, Y)
    acc.finish_means()
    return acc.result()


def unseen_label_in_pass_two():
    acc = nc.NCAccumulator(3, 5)
    acc.add_means(H, Y)
    acc.finish_means()
    acc.add_covariance(H, np.r_[Y[:-1], 7])


case("NCAccumulator: one class", lambda: nc.NCAccumulator(1, 5), ValueError, "n_classes must be at least 2")
case("NCAccumulator: C not an integer", lambda: nc.NCAccumulator(2.5, 5), TypeError, "n_classes must be an integer")
case("NCAccumulator: p zero", lambda: nc.NCAccumulator(3, 0), ValueError, "n_features must be at least 1")
case("NCAccumulator: p a bool", lambda: nc.NCAccumulator(3, True), TypeError, "n_features must be an integer")
case("streaming: NaN batch", lambda: stream(with_nan(H), Y), ValueError, "NaN or inf")
case("streaming: complex batch", lambda: stream(H + 1j, Y), TypeError, "complex")
case("streaming: huge batch", lambda: stream(H * 1e200, Y), ValueError, "float64's range")
case("streaming: wrong p", lambda: stream(H[:, :4], Y), ValueError, "p = 5 features")
case("streaming: 1-D batch", lambda: stream(H[:, 0], Y), ValueError, "(N samples, p features)")
case("streaming: labels too short", lambda: stream(H, Y[:-1]), ValueError, "one label per sample")
case("streaming: NaN label", lambda: stream(H, with_nan(Y)), ValueError, "NaN or inf labels")
case("streaming: no labels", lambda: stream(H, None), TypeError, "is None")
case("streaming: fewer classes than C", lambda: stream(H, Y, C=4), ValueError, "not n_classes = 4")
case("streaming: W wrong shape", lambda: stream(H, Y, np.ones((3, 4)), B), ValueError, "W must be (C, p)")
case("streaming: W without b", lambda: stream(H, Y, W), TypeError, "b is None")
case("streaming: W NaN", lambda: stream(H, Y, with_nan(W), B), ValueError, "W contains NaN")
case("streaming: W zero", lambda: stream(H, Y, np.zeros((3, 5)), B), ValueError, "W is zero")
case("streaming: pass 2 before pass 1", pass_two_only, ValueError, "finish_means")
case("streaming: result before pass 2", result_before_pass_two, ValueError, "feed the same data twice")
case("streaming: a label unseen in pass 1", unseen_label_in_pass_two, ValueError, "not seen in pass 1")
case("streaming: a class of one sample", lambda: stream(H, SINGLETON, C=4), ValueError, "at least 2 samples")

# ---------------------------------------------------------------- block kernels
case("block_kernel: NaN value", lambda: block_kernel(3, 4, np.nan, 1.0, 0.0), ValueError, "d is nan")
case("block_kernel: inf value", lambda: block_kernel(3, 4, 2.0, np.inf, 0.0), ValueError, "c is inf")
case("block_kernel: a string value", lambda: block_kernel(3, 4, 2.0, 1.0, "0"), TypeError, "n must be a real number")
case("block_kernel: one class", lambda: block_kernel(1, 4, 2.0, 1.0, 0.0), ValueError, "C (classes) must be at least 2")
case("block_kernel: m a float", lambda: block_kernel(3, 2.5, 2.0, 1.0, 0.0), TypeError, "m (samples per class) must be")
case("block_kernel: C a bool", lambda: block_kernel(True, 4, 2.0, 1.0, 0.0), TypeError, "C (classes) must be an integer")
case("block_spectrum: NaN value", lambda: block_spectrum(3, 4, 2.0, 1.0, np.nan), ValueError, "n is nan")
case("block_spectrum: m = 1", lambda: block_spectrum(3, 1, 2.0, 1.0, 0.0), ValueError, "at least 2")
case("within_class_basis: m = 1", lambda: within_class_basis(1), ValueError, "at least 2")
case("within_class_basis: m a float", lambda: within_class_basis(4.0), TypeError, "must be an integer")

# ---------------------------------------------------------------- closed-form 2-layer kernels
X = RNG.standard_normal((6, 3))
for name, f in [("nngp_fc2", nngp_fc2), ("ntk_fc2", ntk_fc2), ("ntk_derivative_term_fc2", ntk_derivative_term_fc2)]:
    case(f"{name}: NaN input", lambda f=f: f(with_nan(X)), ValueError, "x1 contains NaN")
    case(f"{name}: complex input", lambda f=f: f(X + 1j), TypeError, "complex")
    case(f"{name}: 1-D input", lambda f=f: f(X[0]), ValueError, "(N, d0) inputs")
    case(f"{name}: no input", lambda f=f: f(None), TypeError, "x1 is None")
    case(f"{name}: x2 of another d0", lambda f=f: f(X, X[:, :2]), ValueError, "same d0")
    case(f"{name}: NaN sigma_w", lambda f=f: f(X, sigma_w=np.nan), ValueError, "sigma_w is nan")
    case(f"{name}: inf sigma_w", lambda f=f: f(X, sigma_w=np.inf), ValueError, "sigma_w is inf")
    case(f"{name}: negative sigma_w", lambda f=f: f(X, sigma_w=-1.0), ValueError, "sigma_w must be > 0")
    case(f"{name}: negative sigma_b", lambda f=f: f(X, sigma_b=-0.1), ValueError, "sigma_b must be >= 0")
    case(f"{name}: unknown activation", lambda f=f: f(X, activation="tanh"), ValueError, "unknown activation")
    case(f"{name}: huge input", lambda f=f: f(X * 1e200), ValueError, "float64's range")
case("nngp_fc2: ReLU of a zero input", lambda: nngp_fc2(np.zeros((2, 3))), ValueError, "K_1(x, x) = 0")
case("ntk_fc2_official_erf: NaN sigma_b", lambda: ntk_fc2_official_erf(X, sigma_b=np.nan), ValueError, "sigma_b is nan")
case("ntk_fc2_official_erf: NaN input", lambda: ntk_fc2_official_erf(with_nan(X)), ValueError, "NaN")
case("activation_kernels: NaN", lambda: activation_kernels(np.array([np.nan]), 1.0, 1.0, "erf"), ValueError,
     "k12 contains NaN")

# ---------------------------------------------------------------- the empirical NTK
MLP = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
XT = torch.randn(3, 4)
case("empirical_ntk: NaN input", lambda: empirical_ntk(MLP, torch.full((3, 4), float("nan"))), ValueError,
     "x1 contains NaN")
case("empirical_ntk: chunk_size a float", lambda: empirical_ntk(MLP, XT, chunk_size=2.5), TypeError,
     "chunk_size (samples held at once) must be an integer")
case("empirical_ntk: chunk_size 1", lambda: empirical_ntk(MLP, XT, chunk_size=1), ValueError, "at least 2")
case("empirical_ntk: empty batch", lambda: empirical_ntk(MLP, XT[:0]), ValueError, "non-empty batch")
case("empirical_ntk: 1-D batch", lambda: empirical_ntk(MLP, XT[0]), ValueError, "non-empty batch")
case("empirical_ntk: integer inputs", lambda: empirical_ntk(MLP, torch.ones(3, 4, dtype=torch.long)), TypeError,
     "floating-point")
case("empirical_ntk: numpy inputs", lambda: empirical_ntk(MLP, XT.numpy()), TypeError, "must be a torch tensor")
case("empirical_ntk: output_fn returns a tuple", lambda: empirical_ntk(MLP, XT, output_fn=lambda m, x: (m(x), m(x))),
     TypeError, "output_fn must return a tensor")
case("empirical_ntk: unknown outputs", lambda: empirical_ntk(MLP, XT, outputs="half"), ValueError, "outputs='half'")
case("empirical_ntk: unknown method", lambda: empirical_ntk(MLP, XT, method="magic"), ValueError, "method='magic'")
case("empirical_ntk: output chunks of the full kernel", lambda: empirical_ntk(MLP, XT, output_chunk_size=1), ValueError,
     "output_chunk_size needs")
case("empirical_ntk: output_chunk_size 0", lambda: empirical_ntk(MLP, XT, outputs="trace", output_chunk_size=0),
     ValueError, "at least 1")
case("empirical_ntk: not a model", lambda: empirical_ntk(lambda x: x, XT), TypeError, "torch.nn.Module")
case("empirical_ntk: x2 of another shape", lambda: empirical_ntk(MLP, XT, torch.randn(2, 5)), ValueError,
     "same sample shape")


def nan_weights_ntk():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    return empirical_ntk(model, XT)


case("empirical_ntk: NaN weights", nan_weights_ntk, ValueError, "not finite")
case("ntk_probe: no features", lambda: ntk_probe(MLP, XT), ValueError, "needs a model with .features")

# ---------------------------------------------------------------- paper A's invariant
YB = np.repeat([0, 1, 2], 4)
case("invariant: NaN kappa", lambda: invariant(W, H, YB, (3.0, np.nan, 0.3)), ValueError, "kappa_c is nan")
case("invariant: two kappa values", lambda: invariant(W, H, YB, (3.0, 1.2)), ValueError, "three block values")
case("invariant: kappa None", lambda: invariant(W, H, YB, None), ValueError, "three block values")
case("invariant: non-positive eigenvalues", lambda: invariant(W, H, YB, (1.0, 1.2, 0.3)), ValueError, "non-positive")
case("invariant: unbalanced", lambda: invariant(W, H, np.repeat([0, 1, 2], [3, 4, 5]), KAPPA), ValueError, "equally many")
case("invariant_alignment: W zero", lambda: invariant_alignment(np.zeros((3, 5)), H, YB, KAPPA), ValueError, "W is zero")
case("invariant_norm: W wrong shape", lambda: invariant_norm(np.ones((2, 5)), H, YB, KAPPA), ValueError, "W must be")
case("invariant_relative_norm: NaN H", lambda: invariant_relative_norm(W, with_nan(H), YB, KAPPA), ValueError, "NaN")
case("invariant_alpha: one class", lambda: invariant_alpha(KAPPA, 1, 4), ValueError, "C must be at least 2")
case("invariant_alpha: inf kappa", lambda: invariant_alpha((np.inf, 1.0, 0.0), 3, 4), ValueError, "kappa_d is inf")


@pytest.mark.parametrize("name,call,exc,phrase", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_named_error(name, call, exc, phrase) -> None:
    with pytest.raises(exc) as info:
        call()
    assert phrase in str(info.value), f"{name}: the message does not say {phrase!r}: {info.value}"


def test_tally() -> None:
    """At least 100 bad inputs, every public function of the measures, kernels and accumulator among them."""
    print(f"\n{len(CASES)} bad inputs tried")
    assert len(CASES) >= 100


def test_the_accumulator_and_the_in_memory_measures_accept_the_same_labels() -> None:
    for labels in (Y, Y + 0.5, np.array(["a", "b", "c"])[Y], Y.astype(np.int8)):
        streamed = stream(H, labels, W, B)
        for key, f in (("nc1", nc.nc1), ("nc1_rel", nc.nc1_rel), ("nc2", nc.nc2)):
            assert streamed[key] == pytest.approx(f(H, labels), rel=1e-10), (labels.dtype, key)
        assert streamed["nc4"] == nc.nc4(H, labels, W, B)


def test_a_large_but_representable_scale_is_measured_not_refused() -> None:
    assert nc.nc1(H * 1e90, Y) == pytest.approx(nc.nc1(H, Y), rel=1e-9)
    assert nc.nc1_trace_ratio(H * 1e-90, Y) == pytest.approx(nc.nc1_trace_ratio(H, Y), rel=1e-9)


def test_a_kernel_is_symmetric_to_its_round_off_against_its_largest_entry() -> None:
    """Round-off asymmetry (1e-13 of the largest entry) passes; one entry off by 1e-6 of it is refused."""
    from ncutils.core.checks import square_kernel

    rng = np.random.default_rng(0)
    H = rng.normal(size=(3, 12, 5)) * 1e3
    K = H @ np.swapaxes(H, -1, -2)
    noisy = K + 1e-13 * np.abs(K).max() * rng.normal(size=K.shape)
    assert square_kernel(noisy) is not None
    off = K.copy()
    off[1, 2, 7] += 1e-6 * np.abs(K).max()
    with pytest.raises(ValueError, match="not symmetric"):
        square_kernel(off)
