"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022) on aligned face crops, per frame and per clip.

Why: a detector trained on one face-swap method learns that method's fingerprint. SBI makes a
pseudo-fake from a *real* crop by blending a slightly perturbed copy of the face back onto itself,
so the only cues left are the ones every swap shares: a blend boundary, a colour/sharpness mismatch
between inner face and surroundings, a small misalignment. The temporal variant samples the
parameters once per clip (a swapper keeps its settings over a call) and optionally jitters them
per frame: the flicker live swappers show, which the temporal head should learn.

Crops are ``uint8`` RGB ``(S, S, 3)`` from :func:`realtime.crop.align_face`; landmarks are a
:class:`training.landmarks.FaceLandmarks`, an ``(N, 2)`` point array in crop pixels (468 mesh
points, or any outline), or ``None`` (template ellipse). Budget: < 2 ms per 128-px crop on one core,
so it can run inside the training loop's data workers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.crop import CropSpec
from training.augment import jpeg_roundtrip
from training.landmarks import N_MESH_POINTS, FaceLandmarks, face_oval, inner_face_points

Landmarks = FaceLandmarks | np.ndarray | None

MASK_FLOOR = np.float32(1.0 / 512)  # below half a grey level at any blend ratio
ELASTIC_GRID = 4  # control points per side of the smooth random displacement field


@dataclass(frozen=True)
class SblParams:
    """One self-blend's settings; all scalars, so two are comparable with ``==``.

    Source colour: ``hue_shift`` (OpenCV hue units, 180 per turn), ``sat_scale``, ``val_scale``,
    ``rgb_shift`` (per-channel additive, 0..255 units), ``contrast`` and ``brightness``
    (``x*contrast + brightness``). Source texture: ``filter_kind`` ("none" | "blur" | "sharpen")
    with ``filter_amount`` (blur sigma in px, or sharpen gain), ``downscale`` (< 1: down and up
    again, 1: off), ``jpeg_quality`` (0: off). Source geometry: ``scale``, ``shift_x``/``shift_y``
    (fractions of the crop), ``elastic_amp`` (px) with ``elastic_seed`` for its smooth field.
    Mask: ``mask_region`` ("oval" | "inner"), ``mask_morph`` (px; < 0 erode, > 0 dilate),
    ``mask_blur`` (Gaussian sigma, px), ``blend_ratio`` (peak mask value). ``crop_size`` is the
    crop side the pixel quantities were sampled for.
    """

    crop_size: int
    hue_shift: float
    sat_scale: float
    val_scale: float
    rgb_shift: tuple[float, float, float]
    contrast: float
    brightness: float
    filter_kind: str
    filter_amount: float
    downscale: float
    jpeg_quality: int
    scale: float
    shift_x: float
    shift_y: float
    elastic_amp: float
    elastic_seed: int
    mask_region: str
    mask_morph: int
    mask_blur: float
    blend_ratio: float


def sample_params(rng: np.random.Generator, crop_size: int = 128, strength: float = 1.0) -> SblParams:
    """``sample_params(rng, crop_size=128, strength=1.0) -> SblParams``: one random self-blend.

    Ranges follow the SBI paper's source-target augmentation (small, so the fake stays subtle);
    ``strength`` > 1 widens the colour and geometry ranges (the demo's visible manipulation).
    """
    s = float(strength)
    px = crop_size / 128.0
    u = rng.uniform
    filter_kind = str(rng.choice(["none", "blur", "sharpen"], p=[0.4, 0.3, 0.3]))
    filter_amount = {"none": 0.0, "blur": u(0.4, 1.2) * px, "sharpen": u(0.3, 1.0)}[filter_kind]
    blend_ratio = 1.0 if rng.random() < 0.5 else float(u(0.25, 1.0))
    return SblParams(
        crop_size=int(crop_size),
        hue_shift=float(u(-5, 5) * s),
        sat_scale=float(1 + u(-0.15, 0.15) * s),
        val_scale=float(1 + u(-0.1, 0.1) * s),
        rgb_shift=(float(u(-12, 12) * s), float(u(-12, 12) * s), float(u(-12, 12) * s)),
        contrast=float(1 + u(-0.12, 0.12) * s),
        brightness=float(u(-12, 12) * s),
        filter_kind=filter_kind,
        filter_amount=float(filter_amount),
        downscale=float(u(0.4, 0.9)) if rng.random() < 0.25 else 1.0,
        jpeg_quality=int(rng.integers(40, 95)) if rng.random() < 0.3 else 0,
        scale=float(1 + u(-0.05, 0.05) * s),
        shift_x=float(u(-0.03, 0.03) * s),
        shift_y=float(u(-0.03, 0.03) * s),
        elastic_amp=float(u(0.0, 1.5) * px * s) if rng.random() < 0.5 else 0.0,
        elastic_seed=int(rng.integers(0, 2**31 - 1)),
        mask_region="oval" if rng.random() < 0.5 else "inner",
        mask_morph=int(round(u(-0.04, 0.03) * crop_size)),
        mask_blur=float(u(0.01, 0.05) * crop_size),
        blend_ratio=float(blend_ratio),
    )


def jitter_params(params: SblParams, rng: np.random.Generator, amount: float) -> SblParams:
    """``jitter_params(params, rng, amount) -> SblParams``: a per-frame wobble of colour, blend and mask.

    ``amount`` 0 returns ``params`` unchanged (no draws from ``rng``); 1 wobbles by roughly a third
    of each parameter's sampling range, enough to flicker visibly between frames.
    """
    if amount <= 0:
        return params
    a = float(min(amount, 1.0))
    n = rng.standard_normal(9)
    size = params.crop_size
    return dataclasses.replace(
        params,
        hue_shift=params.hue_shift + 1.5 * a * n[0],
        rgb_shift=tuple(float(c + 4 * a * n[1 + i]) for i, c in enumerate(params.rgb_shift)),  # type: ignore[arg-type]
        brightness=params.brightness + 4 * a * n[4],
        contrast=params.contrast + 0.04 * a * n[5],
        blend_ratio=float(np.clip(params.blend_ratio + 0.15 * a * n[6], 0.1, 1.0)),
        mask_morph=int(round(params.mask_morph + 0.01 * size * a * n[7])),
        mask_blur=float(max(0.5, params.mask_blur + 0.008 * size * a * n[8])),
    )


# ----------------------------------------------------------------------------------------- source


def _colour(crop: np.ndarray, p: SblParams) -> np.ndarray:
    """HSV then per-channel affine colour change, each as one lookup table (cheap at any size)."""
    out = crop
    if p.hue_shift != 0 or p.sat_scale != 1 or p.val_scale != 1:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        ramp = np.arange(256, dtype=np.float32)
        lut_h = np.mod(ramp + p.hue_shift, 180).astype(np.uint8)
        lut_s = np.clip(ramp * p.sat_scale, 0, 255).astype(np.uint8)
        lut_v = np.clip(ramp * p.val_scale, 0, 255).astype(np.uint8)
        lut = np.stack([lut_h, lut_s, lut_v], axis=1)[:, None, :]
        out = cv2.cvtColor(cv2.LUT(hsv, lut), cv2.COLOR_HSV2RGB)
    ramp = np.arange(256, dtype=np.float32)
    luts = [np.clip(ramp * p.contrast + p.brightness + shift, 0, 255) for shift in p.rgb_shift]
    lut_rgb = np.stack(luts, axis=1).astype(np.uint8)[:, None, :]
    return cv2.LUT(out, lut_rgb)


def _texture(img: np.ndarray, p: SblParams) -> np.ndarray:
    out = img
    if p.filter_kind == "blur" and p.filter_amount > 0:
        out = cv2.GaussianBlur(out, (0, 0), p.filter_amount)
    elif p.filter_kind == "sharpen" and p.filter_amount > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1 + p.filter_amount, soft, -p.filter_amount, 0)
    if p.downscale < 1:
        h, w = out.shape[:2]
        small = (max(8, int(w * p.downscale)), max(8, int(h * p.downscale)))
        out = cv2.resize(
            cv2.resize(out, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR
        )
    if p.jpeg_quality > 0:
        out = jpeg_roundtrip(out, p.jpeg_quality)
    return out


_FIELD_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _elastic_field(seed: int, size: int) -> np.ndarray:
    """Smooth unit-amplitude displacement ``(size, size, 2)``: a 4x4 random grid, cubic-upsampled."""
    key = (seed, size)
    field = _FIELD_CACHE.get(key)
    if field is None:
        grid = np.random.default_rng(seed).standard_normal((ELASTIC_GRID, ELASTIC_GRID, 2)).astype(np.float32)
        field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        if len(_FIELD_CACHE) > 4096:
            _FIELD_CACHE.clear()
        _FIELD_CACHE[key] = field
    return field


def _geometry(img: np.ndarray, p: SblParams) -> np.ndarray:
    """Scale about the centre + shift + smooth elastic wobble, as a single remap."""
    h, w = img.shape[:2]
    if p.scale == 1 and p.shift_x == 0 and p.shift_y == 0 and p.elastic_amp == 0:
        return img
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # Inverse map: output pixel (x, y) samples the source at centre + (x - centre - shift) / scale.
    xs = (np.arange(w, dtype=np.float32) - cx - p.shift_x * w) / p.scale + cx
    ys = (np.arange(h, dtype=np.float32) - cy - p.shift_y * h) / p.scale + cy
    map_x = np.broadcast_to(xs[None, :], (h, w))
    map_y = np.broadcast_to(ys[:, None], (h, w))
    if p.elastic_amp > 0:
        field = (
            _elastic_field(p.elastic_seed, w)
            if h == w
            else cv2.resize(_elastic_field(p.elastic_seed, max(h, w)), (w, h))
        )
        map_x = map_x + p.elastic_amp * field[..., 0]
        map_y = map_y + p.elastic_amp * field[..., 1]
    return cv2.remap(
        img,
        np.ascontiguousarray(map_x, dtype=np.float32),
        np.ascontiguousarray(map_y, dtype=np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT101,
    )


def make_source(crop: np.ndarray, params: SblParams) -> np.ndarray:
    """``make_source(crop, params) -> uint8 crop``: the perturbed copy that gets blended back in."""
    return _geometry(_texture(_colour(crop, params), params), params)


# ------------------------------------------------------------------------------------------- mask


def template_ellipse_mask(size: int, spec: CropSpec | None = None) -> np.ndarray:
    """``template_ellipse_mask(size, spec=None) -> (size, size) uint8 {0, 255}``: fallback face region.

    Built from the crop template (where alignment puts the eyes and mouth), sized from FaceMesh's
    face oval measured on real aligned crops: centre between eyes and mouth, half-width one
    inter-ocular distance, half-height 1.2 of it.
    """
    tmpl = (spec or CropSpec(size=size)).template() * (size / (spec.size if spec else size))
    eyes_c = (tmpl[0] + tmpl[1]) / 2
    iod = float(np.linalg.norm(tmpl[1] - tmpl[0]))
    centre = (float(eyes_c[0]), float((eyes_c[1] + tmpl[3][1]) / 2))
    mask = np.zeros((size, size), np.uint8)
    box = (centre, (2 * 0.95 * iod, 2 * 1.2 * iod), 0.0)
    cv2.ellipse(mask, box, (255,), -1, cv2.LINE_AA)
    return mask


def _outline(landmarks: Landmarks, region: str) -> np.ndarray | None:
    if landmarks is None:
        return None
    if isinstance(landmarks, FaceLandmarks):
        points = landmarks.points
    else:
        points = np.asarray(landmarks, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"landmarks must be (N>=3, 2) points, got {points.shape}")
        if not np.isfinite(points).all():
            return None
    if len(points) == N_MESH_POINTS:
        return inner_face_points(points) if region == "inner" else face_oval(points)
    return points


def blend_mask(size: int, landmarks: Landmarks, params: SblParams) -> np.ndarray:
    """``blend_mask(size, landmarks, params) -> (size, size) float32 in [0, blend_ratio]``.

    Convex hull of the chosen landmark region (or the template ellipse), eroded/dilated, then
    Gaussian-feathered and scaled by the blend ratio.
    """
    outline = _outline(landmarks, params.mask_region)
    if outline is None:
        hard = template_ellipse_mask(size)
    else:
        hard = np.zeros((size, size), np.uint8)
        hull = cv2.convexHull(np.round(outline).astype(np.int32))
        cv2.fillConvexPoly(hard, hull, (255,), cv2.LINE_AA)
    morph = int(params.mask_morph * size / params.crop_size)
    if morph != 0:
        k = 2 * abs(morph) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        hard = cv2.dilate(hard, kernel) if morph > 0 else cv2.erode(hard, kernel)
    mask = hard.astype(np.float32) * np.float32(1.0 / 255.0)
    sigma = params.mask_blur * size / params.crop_size
    if sigma > 0:
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), dtype=np.float32)
        # Feathering spreads the edge outward and inward; renormalise so the core reaches 1 again.
        peak = float(mask.max())
        if peak > 0:
            mask *= np.float32(1.0 / peak)
        # Gaussian tails reach the whole crop at ~1e-6; cut what cannot change a uint8 pixel, so
        # the background is exactly the real crop and the mask is an honest pixel label.
        mask[mask < MASK_FLOOR] = 0.0
    return mask * np.float32(params.blend_ratio)


# ------------------------------------------------------------------------------------------ blend


def self_blend(crop: np.ndarray, landmarks: Landmarks, params: SblParams) -> tuple[np.ndarray, np.ndarray]:
    """``self_blend(crop, landmarks | None, params) -> (fake, mask)``.

    ``crop``: uint8 ``(S, S, 3)``; ``fake``: uint8 ``(S, S, 3)``; ``mask``: float32 ``(S, S)`` in [0, 1].

    ``fake = mask * source + (1 - mask) * crop`` where source is the perturbed crop; the mask is
    the pixel-wise label of where the fake differs (useful for an auxiliary loss).
    """
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8 or crop.shape[0] != crop.shape[1]:
        raise ValueError(f"expected a square uint8 RGB crop (S, S, 3), got {crop.dtype} {crop.shape}")
    size = crop.shape[0]
    source = make_source(crop, params)
    mask = blend_mask(size, landmarks, params)
    m3 = mask[..., None]
    fake = crop.astype(np.float32)
    fake += m3 * (source.astype(np.float32) - fake)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask


def _fill_missing(landmarks: Sequence[Landmarks]) -> list[Landmarks]:
    """Frames where FaceMesh failed borrow the nearest frame's landmarks (crops are aligned, so
    the face barely moves in crop coordinates); this keeps the mask from jumping to the ellipse."""
    have = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not have:
        return list(landmarks)
    filled: list[Landmarks] = []
    for i, lm in enumerate(landmarks):
        nearest = min(have, key=lambda j: abs(j - i))  # noqa: B023 (used at once, inside the loop)
        filled.append(lm if lm is not None else landmarks[nearest])
    return filled


def self_blend_clip(
    crops: Sequence[np.ndarray],
    landmarks: Sequence[Landmarks],
    rng: np.random.Generator,
    jitter: float = 0.0,
    params: SblParams | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``self_blend_clip(crops, landmarks, rng, jitter=0.0, params=None) -> (fakes, masks)``.

    One ``SblParams`` for the whole clip (sampled from ``rng`` unless given), so the fake is
    temporally consistent like a real swap; ``jitter`` in 0..1 adds per-frame wobble of colour,
    blend ratio and mask (:func:`jitter_params`). Deterministic given the rng state. Frames without
    landmarks use the nearest frame's.
    """
    if len(crops) != len(landmarks):
        raise ValueError(f"{len(crops)} crops but {len(landmarks)} landmark entries")
    if not crops:
        return [], []
    base = params or sample_params(rng, crops[0].shape[0])
    filled = _fill_missing(landmarks)
    fakes: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for crop, lm in zip(crops, filled, strict=True):
        fake, mask = self_blend(crop, lm, jitter_params(base, rng, jitter))
        fakes.append(fake)
        masks.append(mask)
    return fakes, masks


def clip_frame_params(
    n_frames: int, rng: np.random.Generator, crop_size: int = 128, jitter: float = 0.0
) -> list[SblParams]:
    """``clip_frame_params(n_frames, rng, crop_size=128, jitter=0.0) -> [SblParams] * n``: the exact
    per-frame parameters :func:`self_blend_clip` uses for the same rng state (for logging/tests)."""
    base = sample_params(rng, crop_size)
    return [jitter_params(base, rng, jitter) for _ in range(n_frames)]
