"""ncutils.book.experiments: one place plans every grid; the command line and the chapters run the same runs."""

from __future__ import annotations

import json

import pytest
import torch

from ncutils.book import cli, start
from ncutils.book.experiments import EXPERIMENTS, experiment, plan
from ncutils.book.experiments.paper_a import imbalanced_class_sizes, imbalanced_training
from ncutils.book.settings import PROFILE_NAMES, resolve
from ncutils.core import config_hash
from ncutils.data import DATASETS
from ncutils.models import INITS, build_model
from ncutils.paper_a import training
from ncutils.runs import Grid

# the official grid (notes §2.3–§4): architecture per data set; VGG reads 32×32 images
OFFICIAL_RUNS = {("resnet20", "mnist"), ("resnet20", "fashion_mnist"), ("resnet20", "cifar10"),
                 ("vgg11", "mnist_32"), ("vgg11", "fashion_mnist_32"), ("vgg16", "cifar10"),
                 ("densenet40", "mnist"), ("densenet40", "fashion_mnist"), ("densenet40", "cifar10")}
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "mnist_32": (1, 32, 32),
                "fashion_mnist_32": (1, 32, 32), "cifar10": (3, 32, 32)}
FEATURES = {"resnet20": 64, "vgg11": 256, "vgg16": 256, "densenet40": 132}
PAPER_LRS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]


def _dry_run(capsys, *args: str) -> list[tuple[str, dict]]:
    """(grid name, config) of every run that ``python -m ncutils.book grid ... --dry-run`` prints."""
    assert cli.main(["grid", *args, "--dry-run"]) == 0
    runs, grid = [], None
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("grid "):
            grid = line.split()[1]
        else:
            runs.append((grid, eval(line.strip())))  # the printed dict literal of a config
    return runs


OVERRIDE = {"a06_ntk_block_structure": ("lr", 0.05), "a07_nc_vs_invariant": ("workers", 1),
            "e02_cross_entropy": ("workers", 1), "e03_attention_block_structure": ("workers", 1),
            "e01_imbalanced_classes": ("workers", 1),
            "a08_assumption_in_training": ("workers", 1),
            "b06_trained_fcn": ("repeats", 2), "b07_adaptive_kernel": ("repeats", 2), "b08_imbalanced": ("repeats", 3),
            "b09_four_class_mixture": ("fit_repeats", 3), "b10_beyond_lazy": ("repeats", 2)}


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("chapter", sorted(EXPERIMENTS))
@pytest.mark.parametrize("override", [False, True], ids=["profile", "override"])
def test_the_command_line_and_the_chapter_run_the_same_configurations(chapter, profile, override, capsys) -> None:
    seed, (knob, value) = 3, OVERRIDE[chapter]
    params = {knob: value} if override else {}
    ch = start(chapter, profile=profile, seed=seed, **params)  # what the chapter's first cell does
    capsys.readouterr()
    chapter_runs = [(g.name, c) for g in experiment(chapter)(ch.cfg, ch.seed) for c in g.configs]
    args = ["-p", f"{knob}={value}"] if override else []
    cli_runs = _dry_run(capsys, chapter, "--profile", profile, "--seed", str(seed), *args)
    assert cli_runs == chapter_runs and chapter_runs
    assert [config_hash(c) for _, c in cli_runs] == [config_hash(c) for _, c in chapter_runs]


def test_overrides_reach_the_plan(capsys) -> None:
    runs = _dry_run(capsys, "b08_imbalanced", "--profile", "smoke", "-p", "d0_values=[2,3]", "-p", "repeats=2")
    assert sorted({c["d0"] for _, c in runs}) == [2, 3]
    assert sum(g == "b08_imbalanced" for g, _ in runs) == 2 * 2 * 2  # splits × d0 × repeats (and the AK's runs)


def test_a_chapter_records_the_grids_it_ran(tmp_path, monkeypatch) -> None:
    ch = start("b08_imbalanced", profile="smoke", seed=0)
    monkeypatch.setattr("ncutils.runs.run_grid", lambda grid, **kw: _FakeResult(grid))
    ch.run()
    assert ch.grids == {grid.name: [config_hash(c) for c in grid.configs] for grid in plan("b08_imbalanced", "smoke")}
    ch.claim("x", "a claim", source="derived", value=1.0, op="==", bound=1.0)
    monkeypatch.setenv("NCUTILS_TRACE_PATH", str(tmp_path / "trace.json"))
    ch.finish()
    assert json.loads((tmp_path / "trace.json").read_text())["grids"] == ch.grids


class _FakeResult:
    def __init__(self, grid: Grid) -> None:
        self.grid = grid

    def summary(self) -> str:
        return f"grid {self.grid.name}"


def test_paper_profile_is_the_official_grid_and_every_model_builds() -> None:
    (grid,) = plan("a07_nc_vs_invariant", "paper")
    configs = grid.configs
    assert len(configs) == len(OFFICIAL_RUNS) * 3 * len(PAPER_LRS) == 189
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs)
    assert {(c["model"], c["data"], c["init"], c["lr"]) for c in configs} == \
        {(m, d, i, lr) for m, d in OFFICIAL_RUNS for i in INITS for lr in PAPER_LRS}
    (a06,) = plan("a06_ntk_block_structure", "paper")[0].configs
    assert (a06["model"], a06["data"]) == ("resnet20", "mnist")
    for c in [*configs, a06]:
        assert set(c) <= training.CONFIG_KEYS and c["data"] in DATASETS
        assert c["epochs"] == 400 and c["probe_every"] == 1
        assert {**training.DEFAULTS, **c}["batch_per_class"] == 12
        assert c["device"] == "auto"  # CUDA when available
    for model, data in OFFICIAL_RUNS:  # one build per architecture and input shape (no data needed)
        net = build_model(model, in_shape=IMAGE_SHAPES[data], init="torch", seed=0).eval()
        x = torch.rand(2, *IMAGE_SHAPES[data])
        assert net.features(x).shape == (2, FEATURES[model]) and net(x).shape == (2, 10)


def test_sweep_takes_k_seeds_from_the_chapter_seed_and_groups_the_runs_by_model() -> None:
    from ncutils.book.experiments.paper_a import sweep_part
    from ncutils.paper_a.ensemble import GROUP_SIZES

    sweep = resolve("a07_nc_vs_invariant", "cpu")["sweep"]
    main = sweep_part(sweep["mlp"], seed=5)
    assert sorted({c["seed"] for c in main}) == [5, 6, 7] and len(main) == 3 * 5 * 3
    ablation = sweep_part(sweep["mlp-wd0"], seed=5)
    assert {c["weight_decay"] for c in ablation} == {0.0} and len(ablation) == 3 * 1 * 3
    (groups,) = plan("a07_nc_vs_invariant", "cpu", seed=5)  # every run trains in a group
    assert groups.name == "a07_nc_vs_invariant-groups"
    mlp = [g["members"] for g in groups.configs if g["members"][0]["model"] == "mlp"]
    cnn = [g["members"] for g in groups.configs if g["members"][0]["model"] == "resnet8_w8"]
    assert [m for g in mlp for m in g] == main + ablation and max(map(len, mlp)) == GROUP_SIZES["mlp"] == 15
    assert mlp[0] == [c for c in main if c["seed"] == 5]  # one seed's lrs × inits
    # plan order (the MLP parts first), the partly filled MLP group (the ablation's 9 runs) after the CNN pairs
    assert [len(g) for g in mlp] == [15, 15, 15, 9]
    assert groups.configs == [{"members": g} for g in mlp[:3] + cnn + mlp[3:]]
    runs = [m for g in cnn for m in g]
    assert [len(g) for g in cnn] == [2, 2, 2, 2] and len(runs) == 2 * 3 + 2
    flax, others = runs[:6], runs[6:]  # flax: wd × seeds; the other inits: the recipe, seed 5
    assert {c["init"] for c in flax} == {"flax"} and {c.get("weight_decay") for c in flax} == {None, 0.0}
    assert [(c["init"], c["lr"], c["seed"]) for c in others] == [("normal_fan_out", 0.3, 5), ("torch", 0.3, 5)]
    assert all("weight_decay" not in c for c in others)
    assert {c["seed"] for c in plan("a07_nc_vs_invariant", "paper", seed=3)[0].configs} == {3}


def test_cross_entropy_plans_a07s_first_two_mlp_groups_and_their_ce_twins() -> None:
    (grid,) = plan("e02_cross_entropy", "cpu", seed=0)
    mse, ce = grid.configs[:2], grid.configs[2:]
    a07_groups = plan("a07_nc_vs_invariant", "cpu", seed=0)[0].configs[:2]  # seeds 0 and 1
    assert [config_hash(g) for g in mse] == [config_hash(g) for g in a07_groups]  # shared store keys
    assert [{c["seed"] for c in g["members"]} for g in mse] == [{0}, {1}] and all(len(g["members"]) == 15 for g in mse)
    assert [g["members"] for g in ce] == [[{**c, "loss": "cross_entropy"} for c in g["members"]] for g in mse]


def test_a_config_key_the_task_does_not_know_is_refused_before_anything_runs(capsys) -> None:
    bad = {"mlp": {"model": "mlp", "data": "digits", "epochs": 1, "probe_every": 1, "train_per_class": 12,
                   "test_per_class": 2, "lrs": [0.1], "optimizer": "adam"}}
    assert cli.main(["grid", "a07_nc_vs_invariant", "--profile", "smoke", "-p", f"sweep={json.dumps(bad)}",
                     "--dry-run"]) == 2
    assert "unknown config key(s) ['optimizer']" in capsys.readouterr().err


def test_imbalanced_training_plans_each_ratio_with_the_minority_in_the_second_half() -> None:
    configs = plan("e01_imbalanced_classes", "cpu", seed=0)[0].configs
    cfg = resolve("e01_imbalanced_classes", "cpu")
    assert len(configs) == sum(len(p.get("ratios", cfg["training_ratios"])) * len(p.get("inits", INITS)) * len(p["lrs"])
                               for p in cfg["training"].values())
    for part in cfg["training"].values():
        runs = [c for c in configs if c["model"] == part["model"] and c.get("weight_decay") == part.get("weight_decay")]
        major = part["train_per_class"]
        assert sorted({tuple(c["class_sizes"]) for c in runs}) == sorted(
            tuple([major] * 5 + [major // r] * 5) for r in part.get("ratios", cfg["training_ratios"]))
    for part in resolve("e01_imbalanced_classes", "paper")["training"].values():  # whole shares of a batch
        assert all(part["train_per_class"] // r * part["batch_per_class"] % part["train_per_class"] == 0
                   for r in resolve("e01_imbalanced_classes", "paper")["training_ratios"])
    assert {c["seed"] for c in configs} == {0}
    models = [c["model"] for c in configs]  # the longest runs (the CNN's) are submitted first
    assert models == sorted(models, key=lambda m: m == "mlp") and models[0] != "mlp"
    with pytest.raises(ValueError, match="divisible"):
        imbalanced_class_sizes(10, 140, 3)


def test_a_training_part_s_own_ratios_replace_the_chapter_s_and_must_give_whole_minority_shares() -> None:
    part = dict(model="mlp", data="digits", epochs=1, probe_every=1, train_per_class=20, test_per_class=2,
                batch_per_class=10, n_classes=10, lrs=[0.1], inits=["flax"])
    cfg = {"training_ratios": [1, 2, 5], "training": {"all": part, "own": {**part, "ratios": [1, 5]}}}
    (grid,) = imbalanced_training(cfg, seed=0)
    assert [max(c["class_sizes"]) // min(c["class_sizes"]) for c in grid.configs] == [1, 2, 5, 1, 5]
    assert all("ratios" not in c and "n_classes" not in c for c in grid.configs)  # planning keys, not run keys
    for ratios in ([4], [10]):  # 10 / 4 is no whole share; 10 / 10 is 1 image per minority class, too few
        with pytest.raises(ValueError, match="at least 2 per minority class"):
            imbalanced_training({**cfg, "training": {"own": {**part, "ratios": ratios}}}, seed=0)
