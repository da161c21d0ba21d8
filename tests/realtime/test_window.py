"""Per-track feature windows: order, stride, quality bookkeeping, isolation between tracks."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.window import FeatureWindows


def _feature(value: float, dim: int = 4) -> np.ndarray:
    return np.full(dim, value, np.float32)


def test_window_is_the_last_t_features_oldest_first() -> None:
    windows = FeatureWindows(window=3, feature_dim=4)
    due = [windows.push(7, _feature(i)) for i in range(5)]
    assert due == [False, False, True, True, True]
    np.testing.assert_array_equal(windows.get(7)[:, 0], [2, 3, 4])
    assert windows.get(7).dtype == np.float32 and windows.get(7).shape == (3, 4)


def test_head_every_k_features_once_full() -> None:
    windows = FeatureWindows(window=4, feature_dim=4, head_every=3)
    due = [windows.push(1, _feature(i)) for i in range(12)]
    assert [i for i, d in enumerate(due) if d] == [3, 6, 9]


def test_tracks_do_not_share_features_and_end_cleanly() -> None:
    windows = FeatureWindows(window=2, feature_dim=4)
    for i in range(3):
        windows.push(1, _feature(i))
        windows.push(2, _feature(100 + i))
    np.testing.assert_array_equal(windows.get(1)[:, 0], [1, 2])
    np.testing.assert_array_equal(windows.get(2)[:, 0], [101, 102])
    assert windows.retain({2}) == [1]
    assert 1 not in windows and windows.count(1) == 0
    assert windows.push(1, _feature(9)) is False  # a returning id starts from an empty window
    with pytest.raises(ValueError, match="1 of 2"):
        windows.get(1)


def test_good_fraction_counts_only_the_current_window() -> None:
    windows = FeatureWindows(window=4, feature_dim=4)
    for good in [False, False, True, True, True, False]:
        windows.push(3, _feature(0), good=good)
    assert windows.good_fraction(3) == 0.75


def test_wrong_feature_size_is_refused() -> None:
    windows = FeatureWindows(window=2, feature_dim=4)
    with pytest.raises(ValueError, match="hold 4"):
        windows.push(1, np.zeros(5, np.float32))
