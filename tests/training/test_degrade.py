"""Call degradations through the real codecs (libx264, libvpx VP8 in PyAV), synthetic and real frames."""

from __future__ import annotations

import dataclasses

import av
import cv2
import numpy as np
import pytest

from tests.media import carphone_path, read_frames
from training.degrade import (
    CODEC_CHAIN_DEFAULT,
    CODECS,
    CallDegradation,
    codec_round_trip_sized,
    degrade_clip,
    encode_size,
    face_boxes,
    freeze_map,
    psnr,
    sample_call_degradation,
)

FPS = 30.0


def synthetic_clip(n: int = 30, width: int = 320, height: int = 180) -> list[np.ndarray]:
    """A textured scene panning sideways with a bright disc moving across: hard enough to compress
    that bitrate matters."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for i in range(n):
        frame = np.ascontiguousarray(texture[:, 3 * i : 3 * i + width])
        cv2.circle(frame, (20 + 8 * i, height // 2), height // 5, (240, 200, 160), -1)
        frames.append(frame)
    return frames


def mean_psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([psnr(x, y) for x, y in zip(a, b, strict=True)]))


def test_both_codecs_are_in_pyavs_ffmpeg() -> None:
    for encoder, decoder in CODECS.values():
        assert encoder in av.codecs_available and decoder in av.codecs_available


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_round_trip_keeps_count_and_shape(codec: str) -> None:
    frames = synthetic_clip()
    params = dataclasses.replace(CODEC_CHAIN_DEFAULT, codec=codec, height=144, bitrate_kbps=800)
    out = degrade_clip(frames, FPS, params)
    assert len(out) == len(frames)
    assert all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in out)
    quality = mean_psnr(frames, out)
    assert 18.0 < quality < 60.0, f"{codec}: implausible PSNR {quality:.1f} dB for a real codec"


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_bitrate_constrains_size_and_quality(codec: str) -> None:
    frames = synthetic_clip()
    pts = list(range(len(frames)))
    seconds = len(frames) / FPS
    results = {}
    for kbps in (150, 1500):
        params = CallDegradation(codec=codec, bitrate_kbps=kbps, height=180)
        out, n_bytes = codec_round_trip_sized(frames, pts, FPS, params)
        results[kbps] = (n_bytes * 8 / seconds / 1000, mean_psnr(frames, out))
    (low_rate, low_q), (high_rate, high_q) = results[150], results[1500]
    assert low_rate < high_rate / 2, f"{codec}: {low_rate:.0f} vs {high_rate:.0f} kbps"
    assert low_rate < 150 * 2.5, f"{codec}: asked 150 kbps, got {low_rate:.0f}"
    assert low_q < high_q - 1.0, f"{codec}: PSNR {low_q:.1f} dB at 150 kbps vs {high_q:.1f} at 1500"


def test_encode_size_keeps_aspect_even_and_never_upscales() -> None:
    assert encode_size(1280, 720, 360) == (640, 360)
    assert encode_size(176, 144, 360) == (176, 144)
    w, h = encode_size(1920, 1080, 240)
    assert (w, h) == (426, 240) and w % 2 == 0


def test_real_frames_through_the_default_call_chain() -> None:
    frames = read_frames(carphone_path(), limit=40)
    out = degrade_clip(frames, FPS, CODEC_CHAIN_DEFAULT)
    assert len(out) == 40 and out[0].shape == frames[0].shape
    quality = mean_psnr(frames, out)
    assert 25.0 < quality < 55.0
    assert not all(np.array_equal(a, b) for a, b in zip(frames, out, strict=True))


def test_frame_drops_freeze_but_keep_count() -> None:
    shown = freeze_map(200, 0.2, 3, np.random.default_rng(1))
    assert len(shown) == 200 and shown[0] == 0
    assert np.all(np.diff(shown) >= 0) and np.all(shown <= np.arange(200))
    assert (shown != np.arange(200)).sum() > 10
    frames = synthetic_clip(40)
    params = CallDegradation(codec="h264", bitrate_kbps=600, height=180, drop_rate=0.3, drop_burst=2, seed=4)
    out = degrade_clip(frames, FPS, params)
    repeats = [i for i in range(1, 40) if np.array_equal(out[i], out[i - 1])]
    assert len(out) == 40 and len(repeats) >= 3
    assert out[repeats[0]] is not out[repeats[0] - 1], "a frozen frame must be its own array"


def test_deterministic_given_seed() -> None:
    frames = synthetic_clip(24)
    boxes = [np.array([100.0, 50.0, 180.0, 140.0])] * len(frames)
    for codec in sorted(CODECS):
        params = dataclasses.replace(
            sample_call_degradation(np.random.default_rng(11)),
            codec=codec,
            noise_sigma=4.0,
            drop_rate=0.2,
            occlusion=0.3,
            blur_frac=0.02,
        )
        a = degrade_clip(frames, FPS, params, boxes)
        b = degrade_clip(frames, FPS, params, boxes)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), codec
        c = degrade_clip(frames, FPS, dataclasses.replace(params, seed=params.seed + 1), boxes)
        assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True)), codec
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert [sample_call_degradation(rng_a) for _ in range(5)] == [
        sample_call_degradation(rng_b) for _ in range(5)
    ]


def test_sampled_conditions_cover_the_call_ranges() -> None:
    rng = np.random.default_rng(0)
    samples = [sample_call_degradation(rng) for _ in range(300)]
    assert {s.codec for s in samples} == {"h264", "vp8"}
    assert all(150 <= s.bitrate_kbps <= 1500 for s in samples)
    assert all(240 <= s.height <= 720 for s in samples)
    assert any(s.noise_sigma > 0 for s in samples) and any(s.noise_sigma == 0 for s in samples)
    assert any(s.drop_rate > 0 for s in samples) and any(s.occlusion > 0 for s in samples)


def test_occlusion_and_offframe_need_boxes_and_change_the_face() -> None:
    frames = synthetic_clip(12)
    box = np.array([120.0, 40.0, 200.0, 140.0])
    scene = CallDegradation(occlusion=0.4, offframe=0.3, offframe_side="left", seed=2)  # no codec
    without_boxes = degrade_clip(frames, FPS, scene, detect_faces=False)
    assert all(np.array_equal(a, b) for a, b in zip(frames, without_boxes, strict=True))
    hand_only = degrade_clip(frames, FPS, dataclasses.replace(scene, offframe=0.0), [box] * 12)
    x0, y0, x1, y1 = box.astype(int)
    changed = np.abs(hand_only[0].astype(int) - frames[0]).max(axis=2) > 8
    covered = changed[y0:y1, x0:x1].mean()
    assert 0.2 < covered < 0.6, f"asked to cover 40% of the face box, covered {covered:.0%}"
    assert not changed[:30, :30].any(), "the hand must stay near the face"
    # Boxes with gaps (frames where the detector missed) still work.
    gappy = degrade_clip(frames, FPS, dataclasses.replace(scene, offframe=0.0), [None, box] * 6)
    assert not np.array_equal(gappy[0], frames[0])
    framed = degrade_clip(frames, FPS, dataclasses.replace(scene, occlusion=0.0), [box] * 12)
    assert framed[0].shape == frames[0].shape and not np.array_equal(framed[0], frames[0])


def test_bad_input_is_refused() -> None:
    frames = synthetic_clip(4)
    with pytest.raises(ValueError, match="same size"):
        degrade_clip([frames[0], frames[1][:100]], FPS, CODEC_CHAIN_DEFAULT)
    with pytest.raises(ValueError, match="boxes"):
        degrade_clip(frames, FPS, CODEC_CHAIN_DEFAULT, [None])
    with pytest.raises(ValueError, match="codec"):
        degrade_clip(frames, FPS, dataclasses.replace(CODEC_CHAIN_DEFAULT, codec="mpeg2"))
    assert degrade_clip([], FPS, CODEC_CHAIN_DEFAULT) == []


def test_scene_effects_find_the_face_themselves_on_real_frames() -> None:
    frames = read_frames(carphone_path(), limit=12)
    boxes = face_boxes(frames)
    assert all(b is not None for b in boxes)
    scene = CallDegradation(occlusion=0.4, seed=1)  # no codec, no boxes given
    out = degrade_clip(frames, FPS, scene)
    x0, y0, x1, y1 = np.asarray(boxes[0]).astype(int)
    changed = np.abs(out[0].astype(int) - frames[0]).max(axis=2) > 8
    assert changed[max(y0, 0) : y1, max(x0, 0) : x1].mean() > 0.15
    assert not changed[:20, :20].any()
