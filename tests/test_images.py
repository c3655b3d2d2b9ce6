"""ncutils.data.images: offline sets, balanced subsets/batches, the missing-file error."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data.images import (balanced_batches, balanced_indices, load_offline, load_torchvision,
                                 train_test_split_per_class)


def test_digits_scaled_to_unit_interval() -> None:
    d = load_offline("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.min() >= 0 and d.x.max() == pytest.approx(1.0)


def test_mnist5k_pooled_to_14() -> None:
    d = load_offline("mnist5k_14")
    assert d.x.shape == (5000, 1, 14, 14)
    assert np.all(np.bincount(d.y) == 500)


def test_split_is_balanced_disjoint_and_seeded() -> None:
    d = load_offline("digits")
    tr, te = train_test_split_per_class(d, 30, 10, seed=1)
    assert np.all(np.bincount(tr.y) == 30) and np.all(np.bincount(te.y) == 10)
    a = balanced_indices(d.y, 30, seed=1)
    assert np.array_equal(a, balanced_indices(d.y, 30, seed=1))
    assert not np.array_equal(a, balanced_indices(d.y, 30, seed=2))


def test_batches_reshuffle_per_epoch() -> None:
    y = np.repeat(np.arange(3), 20)
    e0 = list(balanced_batches(y, 4, epoch=0, seed=0))
    e1 = list(balanced_batches(y, 4, epoch=1, seed=0))
    assert len(e0) == 5 and not all(np.array_equal(a, b) for a, b in zip(e0, e1))
    assert np.array_equal(np.sort(np.concatenate(e0)), np.arange(60))


def test_bad_input_raises(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown offline"):
        load_offline("imagenet")
    with pytest.raises(ValueError, match="fewer than"):
        balanced_indices(np.array([0, 0, 1]), 2, seed=0)
    with pytest.raises(FileNotFoundError, match="not found in"):
        load_torchvision("mnist", root=tmp_path)
