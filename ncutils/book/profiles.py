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
Experiments are planned from these settings alone (:mod:`ncutils.book.experiments`), so every
run of the book is made here: chapter a07's sweep plan included.
"""

from __future__ import annotations

from typing import Any

PROFILE_NAMES: tuple[str, ...] = ("smoke", "cpu", "paper")
DEFAULT_PROFILE = "cpu"

# ---------------------------------------------------------------- paper A's sweep (chapter a07)
PAPER_A_LRS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]  # our choice (notes §4): the paper's grid is unknown
# the official architecture per data set (notes §2.3); VGG reads MNIST/FashionMNIST resized to 32×32
PAPER_A_RUNS = (("resnet20", "mnist"), ("resnet20", "fashion_mnist"), ("resnet20", "cifar10"),
                ("vgg11", "mnist_32"), ("vgg11", "fashion_mnist_32"), ("vgg16", "cifar10"),
                ("densenet40", "mnist"), ("densenet40", "fashion_mnist"), ("densenet40", "cifar10"))
# per class: the official truncation of the train split (5412 is the official code's MNIST figure,
# B12), and our balanced subset of the test split (MNIST's smallest test class has 892 images)
_MNIST, _FASHION = dict(train_per_class=5412, test_per_class=892), dict(train_per_class=6000, test_per_class=1000)
PAPER_A_SIZES = {"mnist": _MNIST, "mnist_32": _MNIST, "fashion_mnist": _FASHION, "fashion_mnist_32": _FASHION,
                 "cifar10": dict(train_per_class=5000, test_per_class=1000)}
_MLP_CPU = dict(model="mlp", data="digits", epochs=1500, probe_every=50, train_per_class=150, test_per_class=20)
# the CNN of a07 at `cpu`: ResNet8-w8 on 200 MNIST images per class at 14×14, 400 epochs, lr 0.3, the flax init
# (chosen in a07's section "How the CNN setting was chosen" from the trials in data/a07_cnn_trials/)
# a08's ResNet8 (a07's first CNN setting, 400 per class; a08 shortens its training)
_RESNET_A08 = dict(model="resnet8_w8", data="mnist5k_14", train_per_class=400, test_per_class=100)
_CNN_CPU = dict(model="resnet8_w8", data="mnist5k_14", epochs=400, probe_every=50, train_per_class=200,
                test_per_class=100, inits=["flax"])
# chapter a06's ResNet20 at `cpu`: the paper's architecture, init and lr on 14×14 MNIST-5k (60 epochs of 100 images
# per class fit it: train accuracy 1.0; lr 0.3 did not train)
_RESNET20_A06 = dict(model="resnet20", data="mnist5k_14", init="flax", lr=0.1)
# chapter e01's MLP: a07's on digits, 140 train images per majority class (divisible by 20/10/4/2 per batch)
_MLP_E01 = dict(model="mlp", data="digits", train_per_class=140, test_per_class=20, batch_per_class=20, n_classes=10)
# chapter e01's CNN: a07's (_CNN_CPU) at the ratios 1 and 5, 10 per majority class in a batch: divisible by both
# ratios, each class ≥ 2 per batch (the probe's estimators need 2 per class) and 20 steps per epoch, 8 000 in all
# (a07: 16 batches of 12 per class, 6 400). Ratio 10 would need ≥ 20 per majority class: 4 000 steps in 400 epochs,
# fewer than a07's trials needed for NC (4 800 reached the groups' edge), or 640 epochs, about the whole cpu budget
# (8 minutes cold; estimated from 20-epoch timings)
_CNN_E01 = dict(_CNN_CPU, batch_per_class=10, n_classes=10, ratios=[1, 5])
# its smoke twin: 2 epochs of 20 images per majority class (4 per minority class, 2 batches per epoch)
_CNN_E01_SMOKE = dict(_CNN_E01, epochs=2, probe_every=2, train_per_class=20, test_per_class=10)

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # ---------------------------------------------------------------- paper A
    "a01_table1": {
        "smoke": {"n_classes": 10, "m_values": [12, 60]},
        "cpu": {"n_classes": 10, "m_values": [12, 500]},
        "paper": {"n_classes": 10, "m_values": [12, 500]},
    },
    "a02_three_rates": {
        "smoke": {"n_classes": 10, "m_values": [12, 500], "gamma": [1.0, 0.6, 0.1], "n_times": 200},
        "cpu": {"n_classes": 10, "m_values": [12, 5000], "gamma": [1.0, 0.6, 0.1], "n_times": 400},
        "paper": {"n_classes": 10, "m_values": [12, 5000], "gamma": [1.0, 0.6, 0.1], "n_times": 400},
    },
    "a03_invariant": {
        "smoke": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "t_max": 200.0,
                  "weight_decay": 0.01},
        "cpu": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "t_max": 2000.0,
                "weight_decay": 0.01},
        "paper": {"n_classes": 10, "m": 12, "n_features": 32, "kappa": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "weight_decay": 0.01},
    },
    "a04_nc_from_e0": {
        "smoke": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "epsilons": [0.0, 0.3, 1.0], "t_interp": 100.0},
        "cpu": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "t_max": 2000.0,
                "epsilons": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0], "t_interp": 2000.0},
        "paper": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "t_max": 2000.0,
                  "epsilons": [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], "t_interp": 2000.0},
    },
    "a05_ntk_decomposition": {
        "smoke": {"n_per_class": 2, "widths": [32, 16]},
        "cpu": {"n_per_class": 4, "widths": [64, 32]},
        "paper": {"n_per_class": 6, "widths": [128, 128, 32]},
    },
    # resnet: a second run, the paper's ResNet20 on 14×14 MNIST-5k at a scale the profile affords (probes at the
    # start and the end only: one probe of a ResNet20 costs ~20 s on one core); {} at paper, whose run is the paper's
    "a06_ntk_block_structure": {
        "smoke": {"model": "mlp", "data": "digits", "init": "flax", "lr": 0.3, "epochs": 40, "probe_every": 20,
                  "train_per_class": 150, "test_per_class": 20, "device": "cpu", "workers": 2,
                  "resnet": dict(_RESNET20_A06, epochs=1, probe_every=1, train_per_class=8, test_per_class=4,
                                batch_per_class=4)},
        "cpu": {"model": "mlp", "data": "digits", "init": "flax", "lr": 0.3, "epochs": 1500, "probe_every": 250,
                "train_per_class": 150, "test_per_class": 20, "device": "cpu", "workers": 2,
                "resnet": dict(_RESNET20_A06, epochs=60, probe_every=60, train_per_class=100, test_per_class=50)},
        # the paper's figure: ResNet20 on the full MNIST, 400 epochs, probes every epoch; init and lr are ours
        "paper": {"model": "resnet20", "data": "mnist", "init": "flax", "lr": 0.1, "epochs": 400,
                  "probe_every": 1, "train_per_class": 5412, "test_per_class": 892, "device": "auto", "workers": 1,
                  "resnet": {}},
    },
    "a07_nc_vs_invariant": {
        # sweep: the parts of the NC-vs-invariant sweep (notes §4, chapter 6); each part's list of
        # learning rates is crossed with the three initialisations and run with the seeds s, …, s+k−1
        # (s the chapter's seed, k the part's ``seeds``, default 1); ``inits`` (default all three) narrows
        # the initialisations; other keys go to every run.
        # The ``-wd0`` parts are the weight-decay ablation (the same runs without weight decay).
        "smoke": {"workers": 2, "sweep": {
            "mlp": dict(model="mlp", data="digits", epochs=40, probe_every=20, train_per_class=150, test_per_class=20,
                        lrs=[0.03, 0.3], seeds=2),
            "mlp-wd0": dict(model="mlp", data="digits", epochs=40, probe_every=20, train_per_class=150,
                            test_per_class=20, weight_decay=0.0, lrs=[0.3], seeds=2),
            "resnet": dict(model="resnet8_w8", data="mnist5k_14", epochs=1, probe_every=1, train_per_class=12,
                           test_per_class=10, lrs=[0.3])}},
        "cpu": {"workers": 2, "sweep": {
            "mlp": dict(**_MLP_CPU, lrs=[0.01, 0.03, 0.1, 0.3, 1.0], seeds=3),
            "mlp-wd0": dict(**_MLP_CPU, weight_decay=0.0, lrs=[0.3], seeds=3),
            "resnet": dict(**_CNN_CPU, lrs=[0.3], seeds=3),
            "resnet-wd0": dict(**_CNN_CPU, weight_decay=0.0, lrs=[0.3], seeds=3),
            # the other two initialisations at the same learning rate and weight decay (the chapter's seed)
            "resnet-inits": dict(_CNN_CPU, inits=["normal_fan_out", "torch"], lrs=[0.3])}},
        # the official grid: 400 epochs, metrics every epoch (EPOCH_STEP = 1), batches of 12 per class
        # on CUDA when available; the probe holds the Jacobian factors of 120 samples × a group of outputs
        # (VGG's ~10 M parameters: 4 outputs ≈ 20–30 GB in float32; the others ≤ 0.3 M parameters)
        "paper": {"workers": 8, "sweep": {
            f"{model}-{data}": dict(model=model, data=data, epochs=400, probe_every=1, **PAPER_A_SIZES[data],
                                    lrs=PAPER_A_LRS, device="auto", probe_output_chunk=4 if model.startswith("vgg") else 32)
            for model, data in PAPER_A_RUNS}},
    },
    "a08_assumption_in_training": {
        # runs: parts, each run as its lrs × weight_decays with the chapter's seed, dense probes (probe_log
        # log-spaced epochs besides the multiples of probe_every) and the assumption's extras at every probe
        "smoke": {"workers": 2, "runs": {
            "mlp": dict(model="mlp", data="digits", init="flax", epochs=20, probe_every=10, probe_log=8,
                        train_per_class=150, test_per_class=20, lrs=[0.3], weight_decays=[5e-4, 0.0]),
            "resnet": dict(model="resnet8_w8", data="mnist5k_14", init="flax", epochs=2, probe_every=2, probe_log=2,
                           train_per_class=24, test_per_class=10, lrs=[0.3], weight_decays=[5e-4])}},
        "cpu": {"workers": 2, "runs": {
            "mlp": dict(_MLP_CPU, init="flax", probe_every=250, probe_log=40, lrs=[0.3, 0.01], weight_decays=[5e-4, 0.0]),
            "resnet": dict(_RESNET_A08, init="flax", epochs=60, probe_every=10, probe_log=40, lrs=[0.3],
                           weight_decays=[5e-4, 0.0])}},
        "paper": {"workers": 8, "runs": {
            "resnet20-mnist": dict(model="resnet20", data="mnist", init="flax", epochs=400, probe_every=10, probe_log=60,
                                   **PAPER_A_SIZES["mnist"], lrs=[0.1, 0.01], weight_decays=[5e-4, 0.0],
                                   device="auto")}},
    },
    # ---------------------------------------------------------------- extensions
    "e02_cross_entropy": {
        # sweep: parts as in a07 (lrs × the three inits × ``seeds`` seeds from the chapter's); each run twice, MSE
        # and CE. The MSE twins are a07's own configs (shared through the store: at `cpu` a07's first two seeds;
        # its third does not fit e02's own budget, 8 minutes cold); the CNN part only at paper
        "smoke": {"workers": 2, "sweep": {"mlp": dict(model="mlp", data="digits", epochs=40, probe_every=20,
                                                      train_per_class=150, test_per_class=20, lrs=[0.03, 0.3])}},
        "cpu": {"workers": 2, "sweep": {"mlp": dict(**_MLP_CPU, lrs=[0.01, 0.03, 0.1, 0.3, 1.0], seeds=2)}},
        "paper": {"workers": 2, "sweep": {"mlp": dict(**_MLP_CPU, lrs=[0.01, 0.03, 0.1, 0.3, 1.0]),
                                          "resnet": dict(**_CNN_CPU, lrs=[0.03, 0.3])}},
    },
    "e03_attention_block_structure": {
        # sweep: as in a07 (each part's lrs × the three inits, the chapter's seed); vit_tiny's widths are
        # (d, depth): 7×7 patches, 2 heads. No paper setting exists; `paper` is a larger ViT of ours
        "smoke": {"workers": 2, "sweep": {"vit": dict(model="vit_tiny", data="mnist5k_14", epochs=4, probe_every=2,
                                                      train_per_class=24, test_per_class=10, lrs=[0.03],
                                                      probe_parts=["attention"])}},
        "cpu": {"workers": 2, "sweep": {"vit": dict(model="vit_tiny", data="mnist5k_14", epochs=1500, probe_every=50,
                                                    train_per_class=100, test_per_class=50, lrs=[0.03, 0.1, 0.3],
                                                    probe_parts=["attention"])}},
        "paper": {"workers": 8, "sweep": {"vit": dict(model="vit_tiny", data="mnist", widths=[64, 4], epochs=400,
                                                      probe_every=10, **PAPER_A_SIZES["mnist"], lrs=PAPER_A_LRS,
                                                      device="auto", probe_parts=["attention"])}},
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
        "smoke": {"d0_values": [1, 8, 32, 128], "n_pairs": 4000, "n_pairs_paper": 20000, "grid_size": 5,
                  "map_d0": [1, 8], "draw_size": 32, "draw_repeats": 2, "official_size": 64, "official_draws": 8},
        "cpu": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 20000, "n_pairs_paper": 100000, "grid_size": 12,
                "map_d0": [1, 8], "draw_size": 64, "draw_repeats": 8, "official_size": 128, "official_draws": 100},
        "paper": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 100000, "n_pairs_paper": 300000, "grid_size": 24,
                  "map_d0": [1, 8, 32], "draw_size": 128, "draw_repeats": 20, "official_size": 128,
                  "official_draws": 400},
    },
    "b04_erf_vs_relu": {
        "smoke": {"d0_values": [1, 2, 8, 128], "n_pairs": 4000, "n_pairs_paper": 20000, "grid_size": 5,
                  "map_d0": [1, 8]},
        "cpu": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 20000, "n_pairs_paper": 100000, "grid_size": 12,
                "map_d0": [1, 8]},
        "paper": {"d0_values": [1, 2, 8, 32, 128], "n_pairs": 100000, "n_pairs_paper": 300000, "grid_size": 24,
                  "map_d0": [1, 8, 32]},
    },
    "b05_limiting_kernels": {
        "smoke": {"n_values": [128, 256], "d0_values": [1, 2, 8, 32, 128], "repeats": 2},
        "cpu": {"n_values": [128, 256, 512], "d0_values": [1, 2, 8, 32, 128], "repeats": 3},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10},
    },
    "b06_trained_fcn": {
        "smoke": {"n_values": [128], "d0_values": [1, 8, 32], "repeats": 1, "activations": ["erf", "relu"],
                  "epochs": 1000, "workers": 2,
                  "single_run": {"N": 128, "d0": 1, "width": 2000, "lr": 1e-4, "epochs": 300}},
        "cpu": {"n_values": [128, 256], "d0_values": [1, 2, 8, 32, 128], "repeats": 5, "activations": ["erf", "relu"],
                "epochs": 1000, "workers": 2,
                "single_run": {"N": 1024, "d0": 1, "width": 2000, "lr": 1e-4, "epochs": 1000}},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10,
                  "activations": ["erf", "relu"], "epochs": 1000, "workers": 8,
                  "single_run": {"N": 1024, "d0": 1, "width": 2000, "lr": 1e-4, "epochs": 1000}},
    },
    "b07_adaptive_kernel": {
        "smoke": {"n_values": [64], "d0_values": [1, 8], "repeats": 2, "theory_n_values": [64], "theory_d0_values": [8],
                  "workers": 2},
        "cpu": {"n_values": [128, 256, 512], "d0_values": [1, 2, 8, 32], "repeats": 3, "theory_n_values": [128, 256],
                "theory_d0_values": [1, 2, 8, 32], "workers": 2},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10,
                  "theory_n_values": [128, 256, 512, 1024], "theory_d0_values": [1, 2, 8, 32], "workers": 8},
    },
    "b08_imbalanced": {
        "smoke": {"class_sizes": [[64, 64], [32, 96]], "d0_values": [8], "repeats": 2, "workers": 2},
        "cpu": {"class_sizes": [[128, 128], [96, 160], [64, 192], [32, 224]], "d0_values": [1, 8, 32], "repeats": 2,
                "workers": 2},
        "paper": {"class_sizes": [[1024, 1024], [768, 1280], [512, 1536], [256, 1792]], "d0_values": [1, 2, 8, 32, 128],
                  "repeats": 10, "workers": 8},
    },
    "b09_four_class_mixture": {
        # repeats: draws of the closed-form kernels (in the chapter); fit_repeats: draws of the adaptive kernel
        # and of the networks (a grid); the AK's theory variant runs only at theory_n_values (its solver is slow)
        "smoke": {"n_values": [64], "d0_values": [1, 8], "repeats": 2, "fit_repeats": 1, "theory_n_values": [64],
                  "activations": ["erf", "relu"], "epochs": 100, "workers": 2},
        "cpu": {"n_values": [128, 256], "d0_values": [1, 2, 8, 32], "repeats": 5, "fit_repeats": 2,
                "theory_n_values": [128], "activations": ["erf", "relu"], "epochs": 1000, "workers": 2},
        "paper": {"n_values": [128, 256, 512, 1024], "d0_values": [1, 2, 8, 32, 128], "repeats": 10, "fit_repeats": 10,
                  "theory_n_values": [128, 256, 512, 1024], "activations": ["erf", "relu"], "epochs": 1000, "workers": 8},
    },
    # ---------------------------------------------------------------- appendix
    "b10_beyond_lazy": {
        "smoke": {"n": 64, "d0_values": [8], "repeats": 2, "datasets": ["gaussian", "digits"], "lazy_epochs": 200,
                  "mf_epochs": 200, "mf_lr": 0.1, "workers": 2},
        "cpu": {"n": 128, "d0_values": [8, 32, 64], "repeats": 5, "datasets": ["gaussian", "digits"], "lazy_epochs": 1000,
                "mf_epochs": 500, "mf_lr": 0.1, "workers": 2},
        "paper": {"n": 256, "d0_values": [8, 32, 64], "repeats": 10, "datasets": ["gaussian", "digits"],
                  "lazy_epochs": 1000, "mf_epochs": 500, "mf_lr": 0.1, "workers": 8},
    },
    # ---------------------------------------------------------------- extensions (paper A's open questions)
    "e04_invariant_balancedness": {  # exact mathematics: the profiles differ only in size and integration time
        "smoke": {"n_classes": 3, "m": 4, "n_features": 8, "kappa": [3.0, 1.2, 0.3], "extra_dims": 4,
                  "d_narrow": 6, "t_max": 50.0},
        "cpu": {"n_classes": 4, "m": 5, "n_features": 12, "kappa": [3.0, 1.2, 0.3], "extra_dims": 8,
                "d_narrow": 12, "t_max": 500.0},
        "paper": {"n_classes": 10, "m": 12, "n_features": 32, "kappa": [3.0, 1.2, 0.3], "extra_dims": 20,
                  "d_narrow": 60, "t_max": 500.0},
    },
    "e01_imbalanced_classes": {
        # training: parts as in a07 (lrs × ``inits``, default the three; the chapter's seed) on imbalanced splits,
        # for each of the part's ``ratios`` (default: training_ratios): classes 0-4 keep train_per_class samples,
        # classes 5-9 get train_per_class / ratio; batch_per_class samples per batch for a majority class, chosen so
        # that every ratio's share of a batch is a whole number. The MLP on digits (a07's cpu MLP, 20 per batch:
        # shares 20, 10, 4, 2); the ResNet8 on MNIST-5k as a07's cpu CNN, with the recipe's weight decay (NC) and
        # without (no NC), at ratios 1 and 5 only (_CNN_E01; the cpu budget: 8 minutes cold)
        "smoke": {"n_classes": 4, "m_major": 20, "ratios": [1, 10], "n_features": 12, "kappa": [3.0, 1.2, 0.3],
                  "t_max": 100.0, "spectrum_draws": 5, "workers": 2, "training_ratios": [1, 10],
                  "training": {"mlp": dict(_MLP_E01, epochs=10, probe_every=10, lrs=[0.3]),
                               "resnet": dict(_CNN_E01_SMOKE, lrs=[0.3]),
                               "resnet-wd0": dict(_CNN_E01_SMOKE, weight_decay=0.0, lrs=[0.3])}},
        "cpu": {"n_classes": 4, "m_major": 20, "ratios": [1, 2, 5, 10], "n_features": 12, "kappa": [3.0, 1.2, 0.3],
                "t_max": 1000.0, "spectrum_draws": 200, "workers": 2, "training_ratios": [1, 2, 5, 10],
                "training": {"mlp": dict(_MLP_E01, epochs=600, probe_every=150, lrs=[0.01, 0.3]),
                             "resnet": dict(_CNN_E01, lrs=[0.3]),
                             "resnet-wd0": dict(_CNN_E01, weight_decay=0.0, lrs=[0.3])}},
        "paper": {"n_classes": 10, "m_major": 100, "ratios": [1, 2, 5, 10, 50], "n_features": 32,
                  "kappa": [3.0, 1.2, 0.3], "t_max": 10000.0, "spectrum_draws": 1000, "workers": 2,
                  "training_ratios": [1, 2, 5, 10],
                  "training": {"mlp": dict(_MLP_E01, epochs=1500, probe_every=250, lrs=[0.01, 0.03, 0.1, 0.3, 1.0]),
                               # a07's ResNet8 part: 400 per majority class, shares 20/10/4/2 per batch again
                               "resnet": dict(model="resnet8_w8", data="mnist5k_14", epochs=200, probe_every=50,
                                              train_per_class=400, test_per_class=100, batch_per_class=20,
                                              n_classes=10, lrs=[0.03, 0.3])}},
    },
    "z01_performance": {  # renders the committed benchmark table; `make bench` measures it again
        "smoke": {"table": "data/bench/empirical_ntk.csv"},
        "cpu": {"table": "data/bench/empirical_ntk.csv"},
        "paper": {"table": "data/bench/empirical_ntk.csv"},
    },
}

