"""Every registered detector runs forward and backward on a tiny clip (timm's registry test)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.models import DETECTORS, create_detector  # noqa: E402
from training.models.domain import DomainClassifier, dann_strength, grad_reverse  # noqa: E402


@pytest.fixture
def imagenet_like(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    """A randomly initialised MobileNetV2 trunk and its weights saved as torchvision's ImageNet
    file is laid out (``features.*`` plus the classifier the trunks leave out)."""
    from training.models.mobilenetv2 import MobileNetV2Features

    full = MobileNetV2Features()
    weights = tmp_path / "mobilenet_v2.pth"
    torch.save({**full.state_dict(), "classifier.1.weight": torch.zeros(1000, 1280)}, weights)
    return full, weights


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_forward_backward(name: str) -> None:
    model = create_detector(name, feature_dim=16)
    clip = torch.randn(2, 4, 3, 64, 64)
    out = model(clip)
    assert out["logit"].shape == (2,)
    assert out["feat"].shape == (2, 4, 16)
    assert out["frame_logit"].shape == (2, 4)
    assert torch.all((out["prob"] >= 0) & (out["prob"] <= 1))
    (out["logit"].sum() + out["frame_logit"].sum()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_encode_and_head_compose_to_forward() -> None:
    model = create_detector("mnv2_tconv", feature_dim=8).eval()
    clip = torch.randn(1, 3, 3, 64, 64)
    with torch.no_grad():
        feats = model.encode(clip[0])
        assert torch.allclose(model.score_window(feats[None]), model(clip)["logit"], atol=1e-5)


def test_pool_head_is_the_mean_of_frame_logits_and_shares_the_classifier(tmp_path: Path) -> None:
    model = create_detector("mnv2_pool", feature_dim=8).eval()
    clip = torch.randn(2, 5, 3, 64, 64)
    with torch.no_grad():
        out = model(clip)
        assert torch.allclose(out["logit"], out["frame_logit"].mean(dim=1), atol=1e-6)
        model.frame_classifier.bias.add_(1.0)  # one classifier, not a copy: the head moves with it
        assert torch.allclose(model(clip)["logit"], out["logit"] + 1.0, atol=1e-5)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = create_detector("mnv2_pool", feature_dim=8).eval()
    again.load_state_dict(torch.load(tmp_path / "m.pt"))
    assert again.head.classifier is again.frame_classifier
    with torch.no_grad():
        assert torch.allclose(again(clip)["logit"], model(clip)["logit"], atol=1e-6)


def test_unknown_detector_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="mnv2_tconv"):
        create_detector("nope")


def test_imagenet_weights_with_wrong_keys_are_rejected(tmp_path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"something.else": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not a torchvision MobileNetV2"):
        create_detector("mnv2_pool", imagenet=bad)


def test_gradient_reversal_flips_and_scales_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    grad_reverse(x, 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -0.5))


def test_dann_schedule_rises_from_zero_to_one() -> None:
    assert dann_strength(0.0) == pytest.approx(0.0)
    assert 0.9 < dann_strength(1.0) <= 1.0
    assert dann_strength(0.2) < dann_strength(0.5)


def test_domain_classifier_trains_encoder_adversarially() -> None:
    """The domain head's loss gradient reaches the features with reversed sign."""
    feats = torch.randn(4, 8, requires_grad=True)
    head = DomainClassifier(8, 3).eval()  # no dropout: compare two deterministic passes
    plain = head.net(feats).sum()
    (g_plain,) = torch.autograd.grad(plain, feats)
    reversed_ = head(feats, 1.0).sum()
    (g_rev,) = torch.autograd.grad(reversed_, feats)
    assert torch.allclose(g_rev, -g_plain, atol=1e-6)
