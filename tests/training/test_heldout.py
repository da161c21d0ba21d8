"""training.heldout's ensemble and weight average of several checkpoints of one recipe."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.heldout import HeldoutScore, average_weights, ensemble  # noqa: E402
from training.models import create_detector  # noqa: E402


def test_ensemble_averages_each_video_over_models_and_keeps_only_shared_videos() -> None:
    a = [HeldoutScore("v1", "dfl", 1, 0.2, 0.4, "p"), HeldoutScore("v2", "dfl", 0, 0.6, 0.8, "p")]
    b = [HeldoutScore("v2", "dfl", 0, 0.0, 0.2, "p"), HeldoutScore("v1", "dfl", 1, 1.0, 0.6, "p")]
    c = [*b, HeldoutScore("only_here", "dfl", 1, 1.0, 1.0)]
    merged = {s.path: s for s in ensemble([a, b, c])}
    assert set(merged) == {"v1", "v2"}  # a video one model could not score is left out
    assert merged["v1"].frame == pytest.approx((0.4 + 0.6 + 0.6) / 3)
    assert merged["v2"].head == pytest.approx(0.2)
    assert merged["v1"].label == 1 and merged["v1"].pair_id == "p"


def test_weight_average_is_the_mean_of_parameters_and_batchnorm_statistics() -> None:
    torch.manual_seed(0)
    first = create_detector("mnv2_pool", feature_dim=8)
    second = create_detector("mnv2_pool", feature_dim=8)
    for bn in (m for m in second.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.fill_(2.0)
        bn.num_batches_tracked.fill_(7)
    soup = average_weights([first, second])
    s1, s2, avg = first.state_dict(), second.state_dict(), soup.state_dict()
    floats = [k for k, v in avg.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    for key in floats:
        assert torch.allclose(avg[key], (s1[key] + s2[key]) / 2), key
    counters = [k for k in avg if k.endswith("num_batches_tracked")]
    assert counters and all(torch.equal(avg[k], s1[k]) for k in counters)
    # the inputs are untouched and the soup runs
    assert not torch.equal(s1[floats[0]], avg[floats[0]])
    soup.eval()
    with torch.no_grad():
        assert soup.encode(torch.zeros(1, 3, 64, 64)).shape == (1, 8)


def test_weight_average_needs_one_architecture() -> None:
    """Checkpoints of different trunks can be ensembled but not averaged in weight space."""
    from training.heldout import same_architecture
    from training.models import create_detector

    mnv2 = create_detector("mnv2_pool", feature_dim=8)
    assert same_architecture([mnv2, create_detector("mnv2_pool", feature_dim=8)])
    assert not same_architecture([mnv2, create_detector("effl0_pool", feature_dim=8)])
    assert not same_architecture([mnv2, create_detector("mnv2_pool", feature_dim=16)])
