"""Input and result checks shared by every public measure and kernel: one validation layer.

Every problem is raised before anything is computed, as a ``TypeError`` (the wrong kind of input:
None, complex, object or boolean numbers, a non-integer size) or a ``ValueError`` (the wrong values:
shape, emptiness, NaN or inf, an invalid label, a kernel that cannot be a Gram matrix), with a message
that names the argument, the problem and the fix. Results are checked too: a measure never returns
NaN or inf, and nothing turns a NaN into a number.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

# |entries| beyond which float64 squares and their sums may leave the representable range
LARGEST, SMALLEST = 1e100, 1e-100
_REAL_KINDS = "iuf"  # numpy kinds accepted as numbers: signed, unsigned, floating
_LABEL_KINDS = "biufUS"  # numpy kinds accepted as class labels: numbers, booleans and strings


def _is_torch(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "device")


def _kind(x: Any) -> str:
    """The numpy dtype kind of an array or tensor ('f', 'c', 'i', 'b', ...)."""
    if _is_torch(x):
        if x.is_complex():
            return "c"
        if x.is_floating_point():
            return "f"
        return "b" if str(x.dtype) == "torch.bool" else "i"
    return x.dtype.kind


def _array(x: Any, name: str) -> Any:
    """``x`` as a numpy array (a torch tensor stays a tensor), or a TypeError naming what it is."""
    if x is None:
        raise TypeError(f"{name} is None: pass an array of real numbers")
    if _is_torch(x):
        return x.detach()
    if isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}")
    try:
        return np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array ({exc}): pass equal-length rows") from exc


def _check_real(arr: Any, name: str) -> None:
    kind = _kind(arr)
    if kind == "c":
        raise TypeError(f"{name} is complex: NC measures and kernels take real numbers (pass the real part if intended)")
    if kind == "b":
        raise TypeError(f"{name} is boolean: pass real numbers (e.g. {name}.astype(float))")
    if kind not in _REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def _check_shape(arr: Any, name: str, ndim: int | tuple[int, ...] | None, what: str) -> None:
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        raise ValueError(f"{name} must be {what}, got shape {tuple(arr.shape)}")
    if arr.ndim and min(arr.shape) == 0:
        raise ValueError(f"{name} is empty (shape {tuple(arr.shape)}): pass at least one sample")


def _check_finite(arr: Any, name: str) -> None:
    if _is_torch(arr):
        import torch

        bad = int((~torch.isfinite(arr)).sum())
    else:
        bad = int((~np.isfinite(arr)).sum())
    if bad:
        raise ValueError(f"{name} contains NaN or inf ({bad} entries): remove or replace them first")


def as_float64(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, what: str = "") -> np.ndarray:
    """numpy, torch (any device) or nested lists of real numbers -> checked float64 numpy."""
    arr = _array(x, name)
    _check_real(arr, name)
    arr = np.asarray(arr.cpu().numpy() if _is_torch(arr) else arr, dtype=np.float64)
    _check_shape(arr, name, ndim, what or f"{ndim}-dimensional")
    _check_finite(arr, name)
    return arr


def float64_where_it_lives(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, what: str = "") -> Any:
    """A torch tensor -> checked float64 on its own device; anything else -> checked float64 numpy."""
    arr = _array(x, name)
    if not _is_torch(arr):
        return as_float64(arr, name, ndim=ndim, what=what)
    import torch

    _check_real(arr, name)
    arr = arr.to(torch.float64)
    _check_shape(arr, name, ndim, what or f"{ndim}-dimensional")
    _check_finite(arr, name)
    return arr


def in_square_range(arr: Any, name: str) -> None:
    """Refuse an array whose largest entry is beyond 1e100 or, all zeros aside, below 1e-100: sums of
    its squares would overflow or underflow in float64."""
    _refuse_out_of_square_range(float(arr.abs().max() if _is_torch(arr) else np.abs(arr).max()), name)


def _refuse_out_of_square_range(top: float, name: str) -> None:
    if top > LARGEST or 0 < top < SMALLEST:
        raise ValueError(f"{name} has entries of magnitude up to {top:.3g}: their squares leave float64's range; "
                         f"rescale {name} (e.g. divide it by its largest entry) — the NC measures but nc1_std do not "
                         "depend on the scale")


def features(H: Any, name: str = "H") -> Any:
    """Check features (N, p) of real numbers in float64's squaring range; float64 where they live."""
    H = float64_where_it_lives(H, name, ndim=2, what="(N samples, p features)")
    in_square_range(H, name)
    return H


def features_and_labels(H: Any, y: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Check features H (N, p) and labels y (N,); return H in float64 (a torch tensor stays on its
    device), the sorted classes, every sample's class index 0..C-1 and the class sizes."""
    H = features(H)
    classes, labels = classes_and_labels(y, H.shape[0])
    return H, classes, labels, np.bincount(labels)


def label_values(y: Any, N: int | None = None, name: str = "y") -> np.ndarray:
    """Check class labels: integers, floats, booleans or strings (each distinct value is a class); NaN,
    None, complex and mixed objects are refused; ``N`` is the number of samples they must label."""
    if y is None:
        raise TypeError(f"{name} is None: pass the class labels, one per sample")
    arr = np.asarray(y.detach().cpu().numpy() if _is_torch(y) else y)
    if arr.dtype.kind not in _LABEL_KINDS:
        if arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr.ravel()):
            arr = arr.astype(str)
        else:
            raise TypeError(f"{name} must hold integers, floats, booleans or strings as class labels, got dtype {arr.dtype}")
    if arr.ndim != 1 or (N is not None and arr.shape[0] != N):
        expected = f"for {N} samples" if N is not None else "(a 1-D array)"
        raise ValueError(f"{name} must have one label per sample: got shape {arr.shape} {expected}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf labels ({int((~np.isfinite(arr)).sum())}): every sample needs a class")
    return arr


def classes_and_labels(y: Any, N: int | None = None, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """The sorted classes of labels ``y`` (checked by :func:`label_values`; at least 2) and every
    label's class index."""
    classes, labels = np.unique(label_values(y, N, name), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 classes, got {len(classes)} (every label is {classes[0]!r})" if len(classes)
                         else f"{name} is empty: pass one label per sample")
    return classes, labels


def labels_of(y: Any, N: int) -> np.ndarray:
    """Class indices 0..C-1 of labels ``y`` (see :func:`classes_and_labels`); C >= 2."""
    return classes_and_labels(y, N)[1]


def square_kernel(K: Any, name: str = "K", *, gram: bool = True) -> np.ndarray:
    """Check a kernel matrix (N, N) or a stack (O, N, N): real, finite, square, symmetric and, for a
    Gram matrix (``gram``), with a non-negative diagonal."""
    K = as_float64(K, name, ndim=(2, 3), what="square (N, N) or a stack (O, N, N)")
    if K.shape[-1] != K.shape[-2]:
        raise ValueError(f"{name} must be square (N, N) or a stack (O, N, N), got shape {K.shape}")
    top = float(np.abs(K).max())
    # asymmetry against the largest entry (one pass; np.allclose's elementwise test took ~4 % of a07's MLP groups)
    if float(np.abs(K - np.swapaxes(K, -1, -2)).max()) > 1e-10 * max(1.0, top) + 1e-8 * top:
        raise ValueError(f"{name} is not symmetric: a kernel matrix is (pass (K + K.T) / 2 if it is only round-off)")
    diagonal = np.diagonal(K, axis1=-2, axis2=-1)
    if gram and diagonal.min() < -1e-12 * max(1.0, top):
        raise ValueError(f"{name} has a negative diagonal entry ({diagonal.min():.3g}): it is not a Gram matrix "
                         "(K = HHᵀ has ‖h_i‖² on its diagonal)")
    _refuse_out_of_square_range(top, name)
    return K


def real_scalar(x: Any, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A finite real number (Python, numpy or a 0-d tensor), optionally > 0 or >= 0."""
    if _is_torch(x) and x.numel() == 1:
        x = x.item()
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"{name} is {value}: pass a finite number")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def count(x: Any, name: str, *, minimum: int = 1) -> int:
    """An integer (not a bool, not a float) of at least ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__} {x!r}")
    if x < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {x}")
    return int(x)


def finite_result(value: Any, what: str) -> float:
    """``value`` as a float if it is finite; else a ValueError saying that ``what`` is undefined here."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} came out as {value}: it is undefined for this input")
    return value
