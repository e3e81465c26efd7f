"""Binary morphology and box filters on numpy arrays, via integral images (no scipy).

Box means are O(H x W) whatever the radius: separable running sums from cumulative sums.
Binary dilation/erosion are separable ORs/ANDs of shifted bool arrays, O(log r) passes per axis.
Windows are clipped at the image border (the mean divides by the number of pixels actually inside
the image), so borders are not darkened or eroded artificially.
"""

from __future__ import annotations

import numpy as np


def _axis_window_sums(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Running sum over [i - r, i + r] along one axis (zero outside the array): one cumsum and one
    subtraction of two shifted slices, no fancy indexing."""
    shape = list(values.shape)
    shape[axis] += 2 * radius + 1
    padded = np.zeros(shape, dtype=values.dtype)
    if axis == 0:
        padded[radius + 1 : radius + 1 + values.shape[0]] = values
    else:
        padded[:, radius + 1 : radius + 1 + values.shape[1]] = values
    table = np.cumsum(padded, axis=axis)
    size = 2 * radius + 1
    if axis == 0:
        return table[size:] - table[:-size]
    return table[:, size:] - table[:, :-size]


def _window_sums(values: np.ndarray, radius: int) -> np.ndarray:
    """Sum of `values` over the (2r+1)^2 window around each pixel, clipped at the border.

    float32 is exact for mask counts (integers < 2^24) and ample for the smoothing of image maps."""
    values32 = values.astype(np.float32, copy=False)
    return _axis_window_sums(_axis_window_sums(values32, radius, 0), radius, 1)


def _window_counts(shape: tuple[int, int], radius: int) -> np.ndarray:
    h, w = shape
    rows = np.arange(h)
    cols = np.arange(w)
    n_rows = np.minimum(rows + radius + 1, h) - np.maximum(rows - radius, 0)
    n_cols = np.minimum(cols + radius + 1, w) - np.maximum(cols - radius, 0)
    return (n_rows[:, None] * n_cols[None, :]).astype(np.float32)


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the square window of the given radius (float32 result)."""
    if radius <= 0:
        return values.astype(np.float32)
    return (_window_sums(values, radius) / _window_counts(values.shape, radius)).astype(np.float32)


def masked_box_mean(values: np.ndarray, mask: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `values` over the masked pixels of each window, and the masked-pixel count."""
    counts = _window_sums(mask.astype(np.float32), radius)
    sums = _window_sums(np.where(mask, values, 0.0), radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1.0), 0.0)
    return means.astype(np.float32), counts


def _window_reduce(mask: np.ndarray, radius: int, axis: int, dilating: bool) -> np.ndarray:
    """OR (dilation) or AND (erosion) over [i - r, i + r] along one axis in O(log r) passes.

    The array is padded by r on both sides with the neutral value (False for OR; True for AND, so
    that the border is not treated as background), then a forward window of width 2r + 1 is built
    by doubling: after each pass res[i] covers i .. i + span - 1."""
    width = 2 * radius + 1
    shape = list(mask.shape)
    shape[axis] += 2 * radius
    res = np.full(shape, not dilating, dtype=bool)  # np.pad costs more than the work here
    if axis == 0:
        res[radius : radius + mask.shape[0]] = mask
    else:
        res[:, radius : radius + mask.shape[1]] = mask
    span = 1
    while span < width:
        step = min(span, width - span)
        if axis == 0:
            head, tail = res[:-step], res[step:]
        else:
            head, tail = res[:, :-step], res[:, step:]
        if dilating:
            head |= tail
        else:
            head &= tail
        span += step
    n = mask.shape[axis]
    return res[:n] if axis == 0 else res[:, :n]


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square-window binary dilation."""
    if radius <= 0:
        return mask.copy()
    return _window_reduce(_window_reduce(mask, radius, 0, True), radius, 1, True)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square-window binary erosion (pixels outside the image do not count as background)."""
    if radius <= 0:
        return mask.copy()
    return _window_reduce(_window_reduce(mask, radius, 0, False), radius, 1, False)


def close(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate then erode: fills gaps and holes narrower than about 2r+1 px."""
    return erode(dilate(mask, radius), radius)


def open_(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erode then dilate: removes specks narrower than about 2r+1 px."""
    return dilate(erode(mask, radius), radius)


def majority(mask: np.ndarray, radius: int, fraction: float = 0.5) -> np.ndarray:
    """Pixels where more than `fraction` of the window is set: a cheap speckle/hole smoother."""
    return box_mean(mask.astype(np.float32), radius) > fraction


def inner_boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with at least one 4-neighbour outside it (a 1 px outline)."""
    padded = np.pad(mask, 1, mode="edge")
    inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inside
