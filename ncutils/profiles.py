"""The one table of profile settings: per chapter, the knobs of each profile.

Profiles
--------
``smoke``  CI: every chapter in seconds; some empirical claims are declared as
           not expected to hold here (each says why).
``cpu``    default: the whole book well under an hour on 2 cores, every effect shown.
``paper``  the papers' own settings, meant for a GPU machine with datasets in ``data/``.

Each chapter's ``parameters`` cell names the same knobs (default ``None`` = take
the profile's value); papermill may inject any of them to override the profile.
A knob's type is the type of its value here; an override of another type is an error.
"""

from __future__ import annotations

PROFILE_NAMES: tuple[str, ...] = ("smoke", "cpu", "paper")
DEFAULT_PROFILE = "cpu"

PROFILES: dict[str, dict[str, dict[str, object]]] = {
    # ---------------------------------------------------------------- paper A
    "a01_table1": {
        "smoke": {"n_classes": 10, "m_values": [12, 60]},
        "cpu": {"n_classes": 10, "m_values": [12, 500]},
        "paper": {"n_classes": 10, "m_values": [12, 500]},
    },
    "a02_three_rates": {
        "smoke": {"n_classes": 10, "m_values": [12, 500], "block_values": [1.0, 0.6, 0.1], "n_times": 200},
        "cpu": {"n_classes": 10, "m_values": [12, 5000], "block_values": [1.0, 0.6, 0.1], "n_times": 400},
        "paper": {"n_classes": 10, "m_values": [12, 5000], "block_values": [1.0, 0.6, 0.1], "n_times": 400},
    },
    "a03_invariant": {
        "smoke": {"n_classes": 4, "m": 5, "n_features": 12, "kernel_values": [3.0, 1.2, 0.3], "t_max": 200.0,
                  "weight_decay": 0.01},
        "cpu": {"n_classes": 4, "m": 5, "n_features": 12, "kernel_values": [3.0, 1.2, 0.3], "t_max": 2000.0,
                "weight_decay": 0.01},
        "paper": {"n_classes": 10, "m": 12, "n_features": 32, "kernel_values": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "weight_decay": 0.01},
    },
    "a04_nc_from_e0": {
        "smoke": {"n_classes": 4, "m": 5, "n_features": 12, "kernel_values": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "epsilons": [0.0, 0.3, 1.0], "t_interp": 100.0},
        "cpu": {"n_classes": 4, "m": 5, "n_features": 12, "kernel_values": [3.0, 1.2, 0.3], "t_max": 2000.0,
                "epsilons": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0], "t_interp": 2000.0},
        "paper": {"n_classes": 4, "m": 5, "n_features": 12, "kernel_values": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "epsilons": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], "t_interp": 2000.0},
    },
    "a05_ntk_decomposition": {
        "smoke": {"n_per_class": 2, "widths": [32, 16]},
        "cpu": {"n_per_class": 4, "widths": [64, 32]},
        "paper": {"n_per_class": 6, "widths": [128, 128, 32]},
    },
    "a06_ntk_block_structure": {
        "smoke": {"model": "mlp", "data": "digits", "init": "flax", "lr": 0.3, "epochs": 40, "probe_every": 20,
                  "train_per_class": 150, "test_per_class": 20, "device": "cpu"},
        "cpu": {"model": "mlp", "data": "digits", "init": "flax", "lr": 0.3, "epochs": 1500, "probe_every": 250,
                "train_per_class": 150, "test_per_class": 20, "device": "cpu"},
        # the paper's figure: ResNet20 on the full MNIST, 400 epochs, probes every epoch; init and lr are ours
        "paper": {"model": "resnet20", "data": "mnist", "init": "flax", "lr": 0.1, "epochs": 400,
                  "probe_every": 1, "train_per_class": 5412, "test_per_class": 892, "device": "auto"},
    },
    "a07_nc_vs_invariant": {  # the runs themselves: ncutils.train.paper_a.SWEEPS[profile] (paper: the official
        # grid of architectures × data sets × 3 inits, with our choice of learning rates PAPER_LRS)
        "smoke": {"workers": 2},
        "cpu": {"workers": 2},
        "paper": {"workers": 8},
    },
    # ---------------------------------------------------------------- paper B
    "b01_kernel_nc1": {
        "smoke": {"n_samples": 128, "n_features": 20, "imbalanced_sizes": [[64, 64], [32, 96], [16, 112]]},
        "cpu": {"n_samples": 128, "n_features": 20, "imbalanced_sizes": [[64, 64], [48, 80], [32, 96], [16, 112]]},
        "paper": {"n_samples": 2048, "n_features": 500,
                  "imbalanced_sizes": [[1024, 1024], [768, 1280], [512, 1536], [256, 1792]]},
    },
    "b02_closed_form_kernels": {
        "smoke": {"n_samples": 32, "d0_values": [1, 2, 8, 128]},
        "cpu": {"n_samples": 64, "d0_values": [1, 2, 8, 128]},
        "paper": {"n_samples": 128, "d0_values": [1, 2, 8, 32, 128]},
    },
    "b03_ntk_vs_nngp": {
        "smoke": {"d0_values": [1, 2, 8, 128], "n_per_class": [64, 512], "n_pairs": 20000,
                  "mu_s_grid": [[2.0, 0.5], [1.0, 1.0]], "draw_sizes": [64, 256], "draw_repeats": 2},
        "cpu": {"d0_values": [1, 2, 8, 32, 128], "n_per_class": [64, 512], "n_pairs": 100000,
                "mu_s_grid": [[2.0, 0.5], [1.0, 0.5], [2.0, 1.0], [6.0, 0.5], [1.0, 1.0]],
                "draw_sizes": [64, 256, 1024], "draw_repeats": 3},
        "paper": {"d0_values": [1, 2, 8, 32, 128], "n_per_class": [64, 512], "n_pairs": 300000,
                  "mu_s_grid": [[2.0, 0.5], [1.0, 0.5], [2.0, 1.0], [6.0, 0.5], [1.0, 1.0]],
                  "draw_sizes": [128, 256, 512, 1024], "draw_repeats": 10},
    },
    "b04_erf_vs_relu": {
        "smoke": {"d0_values": [1, 2, 8, 128], "n_pairs": 20000, "grid_size": 8},
        "cpu": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 100000, "grid_size": 16},
        "paper": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 300000, "grid_size": 32},
    },
    "b05_limiting_kernels": {
        "smoke": {"n_values": [128, 256], "d0_values": [1, 2, 8, 32, 128], "repeats": 2},
        "cpu": {"n_values": [128, 256, 512], "d0_values": [1, 2, 8, 32, 128], "repeats": 3},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10},
    },
    "b06_trained_fcn": {
        "smoke": {"n_values": [128], "d0_values": [1, 8, 32], "repeats": 1, "activations": ["erf", "relu"],
                  "epochs": 1000, "workers": 2},
        "cpu": {"n_values": [128, 256], "d0_values": [1, 2, 8, 32, 128], "repeats": 5, "activations": ["erf", "relu"],
                "epochs": 1000, "workers": 2},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10,
                  "activations": ["erf", "relu"], "epochs": 1000, "workers": 8},
    },
    "b07_adaptive_kernel": {
        "smoke": {"n_values": [64], "d0_values": [1, 8], "repeats": 1, "theory_d0_values": [8], "workers": 2},
        "cpu": {"n_values": [128, 256], "d0_values": [1, 2, 8], "repeats": 2, "theory_d0_values": [1, 2, 8], "workers": 2},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10,
                  "theory_d0_values": [1, 2, 8, 32], "workers": 8},
    },
    "b08_imbalanced": {
        "smoke": {"class_sizes": [[64, 64], [32, 96]], "d0_values": [8], "repeats": 1, "workers": 2},
        "cpu": {"class_sizes": [[128, 128], [96, 160], [64, 192], [32, 224]], "d0_values": [1, 8, 32], "repeats": 2,
                "workers": 2},
        "paper": {"class_sizes": [[1024, 1024], [768, 1280], [512, 1536], [256, 1792]], "d0_values": [1, 2, 8, 32, 128],
                  "repeats": 10, "workers": 8},
    },
    # ---------------------------------------------------------------- appendix
    "z01_performance": {  # renders the committed benchmark table; `make bench` measures it again
        "smoke": {"table": "data/bench/empirical_ntk.csv"},
        "cpu": {"table": "data/bench/empirical_ntk.csv"},
        "paper": {"table": "data/bench/empirical_ntk.csv"},
    },
}


def chapter_profile(chapter: str, profile: str) -> dict[str, object]:
    """Return a copy of the knobs of ``chapter`` at ``profile``.

    Raises ``ValueError`` naming the known chapters/profiles when either is unknown.
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {profile!r}: use one of {', '.join(PROFILE_NAMES)}"
        )
    if chapter not in PROFILES:
        raise ValueError(
            f"no profile table for chapter {chapter!r}: add a section to "
            f"ncutils/profiles.py (known: {', '.join(sorted(PROFILES))})"
        )
    return dict(PROFILES[chapter][profile])
