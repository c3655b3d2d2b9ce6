"""Trial runs that chose chapter a07's CNN setting at `cpu` (ResNet8-w8 on mnist5k_14): one row per run.

    PYTHONPATH=. .venv/bin/python data/a07_cnn_trials/run_trials.py PER_CLASS EPOCHS LRS WD INITS [SEED]

e.g. ``200 150 0.3 0 flax,torch`` trains paper A's recipe (run_config) with those settings and appends
one row per run to ``trials.csv`` beside this file (with the 1-minute load average at its end).
"""

import csv
import os
import sys
import tempfile
from pathlib import Path

import torch

from ncutils.paper_a.training import run_config

FIELDS = ["source", "train_per_class", "epochs", "lr", "weight_decay", "init", "seed", "train_acc", "test_acc",
          "NC1_rel", "invariant_alignment", "load"]


def main(per_class: int, epochs: int, lrs: list[float], wd: float, inits: list[str], seed: int) -> None:
    torch.set_num_threads(1)
    out = Path(__file__).with_name("trials.csv")
    for lr in lrs:
        for init in inits:
            cfg = dict(model="resnet8_w8", data="mnist5k_14", init=init, lr=lr, epochs=epochs, probe_every=epochs,
                       train_per_class=per_class, test_per_class=100, seed=seed, weight_decay=wd)
            with tempfile.TemporaryDirectory() as d:
                result = run_config(cfg, Path(d))
            last = result["history"][-1]
            row = dict(source="run_trials.py", train_per_class=per_class, epochs=epochs, lr=lr, weight_decay=wd,
                       init=init, seed=seed, train_acc=result["train_accuracy"], test_acc=last["test_accuracy"],
                       NC1_rel=round(last["NC1_rel"], 4), invariant_alignment=round(last["invariant_alignment"], 4),
                       load=round(os.getloadavg()[0], 1))
            with out.open("a", newline="") as f:
                csv.DictWriter(f, FIELDS).writerow(row)
            print(row, flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]), int(a[1]), [float(v) for v in a[2].split(",")], float(a[3]), a[4].split(","),
         int(a[5]) if len(a) > 5 else 0)
