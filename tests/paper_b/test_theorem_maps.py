"""ncutils.paper_b.theorem_maps: Monte Carlo maps with error bars, per-draw NC1, traces over draws."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data import gaussian_mixture
from ncutils.kernels import nngp_fc2, ntk_derivative_term_fc2, ntk_fc2, ntk_fc2_official_erf
from ncutils.nc import nc1_from_kernel
from ncutils.paper_b.expected_nc1 import expected_nc1, limit_nc1, monte_carlo_moments, sample_pairs
from ncutils.paper_b.theorem_maps import (
    Estimate,
    contrast_map,
    draw_traces,
    expected_log_nc1_map,
    log_nc1_from_traces,
    map_grid,
    per_draw_log_nc1,
    plot_contrast_maps,
    plot_log_ratio_map,
    sign_resolved,
    z_scores,
)

ERF = [("nngp", "erf"), ("ntk", "erf")]
BOTH = [("nngp", "erf"), ("ntk", "erf"), ("nngp", "relu"), ("ntk", "relu")]


def test_limit_map_is_the_closed_form() -> None:
    mu, s = map_grid([0.5, 4.0], [0.5, 2.0])
    est, con = expected_log_nc1_map(BOTH, mu, s, np.inf, contrasts=[(BOTH[1], BOTH[0])])
    for i in range(2):
        for j in range(2):
            for sp in BOTH:
                assert np.exp(est[sp].value[i, j]) == pytest.approx(limit_nc1(*sp, mu[i, j], s[i, j]), rel=1e-12)
    assert np.all(con[(BOTH[1], BOTH[0])].se == 0)


def test_monte_carlo_agrees_with_pair_sampler() -> None:
    """Same estimator as sample_pairs + monte_carlo_moments (other draws): within a few standard errors."""
    est, _ = expected_log_nc1_map(ERF, [[1.0]], [[1.0]], 2, n_pairs=50000, seed=1, n_per_class=64)
    pairs = sample_pairs(1.0, 1.0, 2, 50000, seed=2)
    for sp in ERF:
        other = np.log(expected_nc1(monte_carlo_moments(pairs, *sp), 64))
        assert abs(est[sp].value.item() - other) < 5 * np.sqrt(2) * est[sp].se.item()


@pytest.mark.parametrize("d0", [1, 8])
def test_standard_errors_cover(d0: int) -> None:
    """About 95 % of the estimates with 2 000 pairs lie within 1.96 SE of a 400 000-pair reference."""
    spec = [("nngp", "erf"), ("ntk", "erf"), ("nngp", "relu")]
    contrasts = [(spec[1], spec[0]), (spec[0], spec[2])]
    _, ref = expected_log_nc1_map(spec, [[1.0]], [[1.0]], d0, n_pairs=400000, seed=10**6, contrasts=contrasts)
    est_ref, _ = expected_log_nc1_map(spec, [[1.0]], [[1.0]], d0, n_pairs=400000, seed=10**6)
    inside = {key: [] for key in [*spec, *contrasts]}
    for seed in range(200):
        est, con = expected_log_nc1_map(spec, [[1.0]], [[1.0]], d0, n_pairs=2000, seed=seed, contrasts=contrasts)
        for sp in spec:
            inside[sp].append(abs(est[sp].value - est_ref[sp].value).item() <= 1.96 * est[sp].se.item())
        for c in contrasts:
            inside[c].append(abs(con[c].value - ref[c].value).item() <= 1.96 * con[c].se.item())
    for key, hits in inside.items():
        assert 0.9 <= np.mean(hits) <= 0.99, (key, np.mean(hits))


def test_relu_depends_only_on_ratio_erf_does_not() -> None:
    mu, s = map_grid([0.5, 2.0, 4.0], [0.5])
    for d0 in (1, 8, np.inf):
        small = expected_log_nc1_map(BOTH, mu, s, d0, n_pairs=5000, seed=3)[0]
        large = expected_log_nc1_map(BOTH, 3 * mu, 3 * s, d0, n_pairs=5000, seed=3)[0]
        for k in ("nngp", "ntk"):
            assert np.allclose(small[(k, "relu")].value, large[(k, "relu")].value, atol=1e-10)
            assert np.max(np.abs(small[(k, "erf")].value - large[(k, "erf")].value)) > 0.01
    draws_small = per_draw_log_nc1(BOTH, mu, s, 8, 16, 3, seed=4)
    draws_large = per_draw_log_nc1(BOTH, 3 * mu, 3 * s, 8, 16, 3, seed=4)
    assert np.allclose(draws_small[("ntk", "relu")], draws_large[("ntk", "relu")], atol=1e-10)


def test_relu_d0_1_equality() -> None:
    mu, s = map_grid([0.3, 1.0, 5.0], [0.2, 2.0])
    _, con = expected_log_nc1_map(BOTH, mu, s, 1, n_pairs=5000, seed=0, contrasts=[(BOTH[3], BOTH[2])])
    assert np.abs(con[(BOTH[3], BOTH[2])].value).max() < 1e-6
    assert not sign_resolved(con[(BOTH[3], BOTH[2])], 3.0).any()


def test_per_draw_matches_gram_matrices() -> None:
    mu, s, d0, N, repeats, seed = 1.5, 0.7, 3, 12, 2, 5
    out = per_draw_log_nc1(BOTH, [[mu]], [[s]], d0, N, repeats, seed=seed)
    z = np.random.default_rng(seed).standard_normal((repeats, N, d0))
    y = np.repeat([0, 1], N // 2)
    for r in range(repeats):
        X = np.where(y == 0, -mu, mu)[:, None] + s * z[r]
        for k, a in BOTH:
            K = (nngp_fc2 if k == "nngp" else ntk_fc2)(X, activation=a)
            tol = 1e-10 if a == "erf" else 1e-7  # arccos at ±1 limits ReLU's precision
            assert out[(k, a)][0, 0, r] == pytest.approx(np.log(nc1_from_kernel(K, y)), abs=tol)


def test_traces_over_draws() -> None:
    kernels = {"nngp": lambda X: nngp_fc2(X, activation="erf"), "official": ntk_fc2_official_erf}
    tr = draw_traces(kernels, 2.0, 0.5, 8, 32, 40, seed=0)
    assert tr["nngp"].shape == (40, 2) and np.all(tr["nngp"] > 0)
    est = log_nc1_from_traces(tr["nngp"])
    pairs = sample_pairs(2.0, 0.5, 8, 50000, seed=1)
    reference = np.log(expected_nc1(monte_carlo_moments(pairs, "nngp", "erf"), 16))
    assert abs(est.value - reference) < 5 * est.se + 0.01
    assert log_nc1_from_traces(tr["nngp"], tr["nngp"]).value == pytest.approx(0.0, abs=1e-14)
    assert log_nc1_from_traces(tr["official"], tr["nngp"]).se > 0


def test_nc1_scale_invariance_and_mediant() -> None:
    """Identities of the kernel NC1 used in b01 and b03: NC1(aK) = NC1(K); NC1(Θ) between NC1(Q), NC1(K1⊙Q̇)."""
    for d0, mu, s in ((1, 1.0, 1.0), (8, 2.0, 0.5)):
        data = gaussian_mixture([16, 16], d0, mu=mu, s=s, seed=d0)
        for act in ("erf", "relu"):
            q = nc1_from_kernel(nngp_fc2(data.X, activation=act), data.y)
            t = nc1_from_kernel(ntk_fc2(data.X, activation=act), data.y)
            dq = nc1_from_kernel(ntk_derivative_term_fc2(data.X, activation=act), data.y)
            assert min(q, dq) * (1 - 1e-9) <= t <= max(q, dq) * (1 + 1e-9)
            assert nc1_from_kernel(7.3 * nngp_fc2(data.X, activation=act), data.y) == pytest.approx(q, rel=1e-12)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        map_grid([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="same shape"):
        expected_log_nc1_map(ERF, [[1.0, 2.0]], [[1.0]], 1)
    with pytest.raises(ValueError, match="unknown"):
        expected_log_nc1_map([("rbf", "erf")], [[1.0]], [[1.0]], 1)
    with pytest.raises(ValueError, match="not in specs"):
        expected_log_nc1_map(ERF, [[1.0]], [[1.0]], 1, contrasts=[(("ntk", "relu"), ERF[0])])
    with pytest.raises(ValueError, match="integer"):
        expected_log_nc1_map(ERF, [[1.0]], [[1.0]], 2.5)
    with pytest.raises(ValueError, match="n_per_class"):
        expected_log_nc1_map(ERF, [[1.0]], [[1.0]], 1, n_per_class=1)
    with pytest.raises(ValueError, match="even"):
        per_draw_log_nc1(ERF, [[1.0]], [[1.0]], 1, 7, 2)
    with pytest.raises(ValueError, match="n_pairs"):
        expected_log_nc1_map(ERF, [[1.0]], [[1.0]], 1, n_pairs=1)
    with pytest.raises(ValueError, match="the same draws"):
        log_nc1_from_traces(np.ones((4, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="> 0"):
        log_nc1_from_traces(-np.ones((4, 2)))


def test_plot_log_ratio_map_draws_border_and_unresolved_marks() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios, scales = np.array([0.5, 1.0, 2.0]), np.array([0.5, 1.0])
    est = Estimate(np.array([[-0.5, 0.001, 0.5], [-0.2, 0.1, 0.3]]), np.full((2, 3), 0.01))
    fig, ax = plt.subplots()
    plot_log_ratio_map(ax, ratios, scales, est, 3.0, "t", vmax=0.5)
    assert len(ax.collections) >= 2  # the map and the border
    marks = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 1  # only 0.001 ± 0.01 is unresolved
    plt.close(fig)


def test_contrast_map_is_the_labelled_contrast_of_the_map() -> None:
    ratios, scales = [0.5, 2.0, 4.0], [0.25, 1.0]
    contrasts = {"erf": (("ntk", "erf"), ("nngp", "erf"))}
    got = contrast_map(ERF, contrasts, 8, ratios, scales, 2000, seed=3)
    mu, s = map_grid(ratios, scales)
    _, con = expected_log_nc1_map(ERF, mu, s, 8, 2000, seed=3, contrasts=list(contrasts.values()))
    assert list(got) == ["erf"]
    np.testing.assert_array_equal(got["erf"].value, con[contrasts["erf"]].value)
    np.testing.assert_array_equal(got["erf"].se, con[contrasts["erf"]].se)
    with pytest.raises(ValueError, match="not in specs"):
        contrast_map(ERF, {"relu": (("ntk", "relu"), ("nngp", "relu"))}, 8, ratios, scales, 100)


def test_z_scores_nan_where_exact() -> None:
    z = z_scores(Estimate(np.array([0.3, -0.2, 0.1]), np.array([0.1, 0.0, 0.05])))
    np.testing.assert_allclose(z[[0, 2]], [3.0, 2.0])
    assert np.isnan(z[1])


def test_plot_contrast_maps_one_panel_per_label_and_d0() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios, scales = np.array([0.5, 1.0, 2.0]), np.array([0.5, 1.0])
    est = Estimate(np.array([[-0.5, 0.001, 0.5], [-0.2, 0.1, 0.3]]), np.full((2, 3), 0.01))
    maps = {(d0, a): est for d0 in (1, np.inf) for a in ("erf", "relu")}
    fig = plot_contrast_maps(maps, ratios, scales, ["erf", "relu"], [1, np.inf], 3.0, "log ratio")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["erf, d0 = 1", "erf, d0 = inf", "relu, d0 = 1", "relu, d0 = inf"]
    plt.close(fig)
