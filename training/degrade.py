"""Video-call degradations for training clips: what a face goes through between a webcam and a screen.

Why: detectors trained on studio footage flag real webcam faces as fake (DESIGN.md, "What the field
gets wrong"), because a call adds its own artefacts: a cheap sensor in bad light (noise, crushed
gamma), motion blur, a realtime encoder starved of bits at reduced resolution, frozen frames when
the network drops packets, a face half out of the frame or behind a hand. Applying the same
degradations to real clips and to (pseudo-)fakes teaches the model that these are *not* the
evidence of a fake.

Everything is sampled once per clip (a call's conditions hold for seconds) by
:func:`sample_call_degradation` and applied by :func:`degrade_clip` in the order the real pipeline
applies them: scene (off-frame, hand) -> camera (exposure, blur, noise) -> frame drops -> encoder at
reduced size -> decoder -> scale back. The codecs are the real ones (libx264, libvpx VP8 in PyAV's
bundled FFmpeg), driven through in-memory codec contexts: packets go from encoder to decoder
directly, so nothing touches the disk and no container is muxed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np

CODECS: dict[str, tuple[str, str]] = {"h264": ("libx264", "h264"), "vp8": ("libvpx", "vp8")}
X264_PRESETS = ("ultrafast", "superfast", "veryfast")
ENCODE_HEIGHTS = (240, 360, 480, 540, 720)
NOISE_BANK = 3  # noise fields per clip; each frame takes a random one at a random offset
NOISE_PAD = 16


@dataclass(frozen=True)
class CallDegradation:
    """One clip's call conditions (all scalars, comparable with ``==``; defaults = no degradation).

    Codec: ``codec`` ("h264" | "vp8" | None for no re-encode), ``bitrate_kbps``, ``height`` (encode
    height in px, aspect kept, never upscaled), ``x264_preset`` (with ``tune=zerolatency``),
    ``vp8_cpu_used`` (with ``deadline=realtime``). Camera: ``gain`` (< 1 underexposed), ``gamma``
    (> 1 darker mid-tones), ``noise_sigma`` (sensor noise std in grey levels), ``blur_frac``
    (motion-blur length as a fraction of frame height, 0 off) at ``blur_angle`` degrees during
    ``blur_start``..``blur_end`` (fractions of the clip). Network: ``drop_rate`` (chance per frame
    that a freeze starts; the previous frame is shown again) lasting up to ``drop_burst`` frames.
    Scene (need face boxes): ``offframe`` (fraction of the face box pushed past the frame edge on
    ``offframe_side``), ``occlusion`` (fraction of the face box covered by a hand-like patch during
    ``occlusion_start``..``occlusion_end``). ``seed`` drives the per-frame randomness.
    """

    codec: str | None = None
    bitrate_kbps: int = 500
    height: int = 360
    x264_preset: str = "veryfast"
    vp8_cpu_used: int = 8
    gain: float = 1.0
    gamma: float = 1.0
    noise_sigma: float = 0.0
    blur_frac: float = 0.0
    blur_angle: float = 0.0
    blur_start: float = 0.0
    blur_end: float = 1.0
    drop_rate: float = 0.0
    drop_burst: int = 1
    offframe: float = 0.0
    offframe_side: str = "left"
    occlusion: float = 0.0
    occlusion_start: float = 0.0
    occlusion_end: float = 1.0
    seed: int = 0


# A typical call: H.264 at 500 kbps, 360p, realtime settings, nothing else. For evaluation
# (`callshield evaluate --call-codec`), so numbers under "call conditions" are comparable.
CODEC_CHAIN_DEFAULT = CallDegradation(codec="h264", bitrate_kbps=500, height=360, x264_preset="veryfast")


def sample_call_degradation(rng: np.random.Generator) -> CallDegradation:
    """``sample_call_degradation(rng) -> CallDegradation``: random call conditions for one clip.

    Always a realtime codec (every call has one) at 150-1500 kbps (log-uniform) and 240p-720p;
    the rest each with a probability, so many clips are "just compressed".
    """
    u = rng.uniform
    low_light = rng.random() < 0.25
    gain, gamma = (float(u(0.35, 0.75)), float(u(1.1, 1.6))) if low_light else (1.0, 1.0)
    if not low_light and rng.random() < 0.3:
        gamma = float(u(0.8, 1.25))
    noise = 0.0
    if rng.random() < 0.5 or low_light:
        noise = float(u(3.0, 10.0)) if low_light else float(u(1.0, 6.0))
    blur_frac, blur_angle, blur_start, blur_end = 0.0, 0.0, 0.0, 1.0
    if rng.random() < 0.3:
        blur_frac, blur_angle = float(u(0.005, 0.03)), float(u(0.0, 180.0))
        blur_start = float(u(0.0, 0.7))
        blur_end = float(min(1.0, blur_start + u(0.1, 1.0)))
    drop_rate, drop_burst = 0.0, 1
    if rng.random() < 0.4:
        drop_rate, drop_burst = float(u(0.02, 0.15)), int(rng.integers(1, 5))
    offframe = float(u(0.15, 0.45)) if rng.random() < 0.1 else 0.0
    occlusion, occ_start, occ_end = 0.0, 0.0, 1.0
    if rng.random() < 0.1:
        occlusion = float(u(0.2, 0.5))
        occ_start = float(u(0.0, 0.6))
        occ_end = float(min(1.0, occ_start + u(0.2, 1.0)))
    return CallDegradation(
        codec="h264" if rng.random() < 0.6 else "vp8",
        bitrate_kbps=int(round(math.exp(u(math.log(150), math.log(1500))))),
        height=int(rng.choice(ENCODE_HEIGHTS, p=[0.25, 0.35, 0.2, 0.1, 0.1])),
        x264_preset=str(rng.choice(X264_PRESETS)),
        vp8_cpu_used=int(rng.choice([8, 12, 16])),
        gain=gain,
        gamma=gamma,
        noise_sigma=noise,
        blur_frac=blur_frac,
        blur_angle=blur_angle,
        blur_start=blur_start,
        blur_end=blur_end,
        drop_rate=drop_rate,
        drop_burst=drop_burst,
        offframe=offframe,
        offframe_side=str(rng.choice(["left", "right", "top", "bottom"])),
        occlusion=occlusion,
        occlusion_start=occ_start,
        occlusion_end=occ_end,
        seed=int(rng.integers(0, 2**31 - 1)),
    )


# ------------------------------------------------------------------------------------------ frames


def freeze_map(n_frames: int, drop_rate: float, max_burst: int, rng: np.random.Generator) -> np.ndarray:
    """``freeze_map(n, drop_rate, max_burst, rng) -> int array (n,)``: which input frame each output
    frame shows. A dropped frame shows the last delivered one again (what a receiver displays), so
    the clip keeps its length and timing; frame 0 is always delivered."""
    shown = np.arange(n_frames)
    i = 1
    while i < n_frames:
        if drop_rate > 0 and rng.random() < drop_rate:
            burst = int(rng.integers(1, max(1, max_burst) + 1))
            shown[i : i + burst] = shown[i - 1]
            i += burst
        else:
            i += 1
    return shown


def _exposure_lut(gain: float, gamma: float) -> np.ndarray | None:
    if gain == 1.0 and gamma == 1.0:
        return None
    ramp = np.arange(256, dtype=np.float32) / 255.0
    return np.clip(255.0 * gain * np.power(ramp, gamma), 0, 255).astype(np.uint8)


def _motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel: the blur of a camera or head moving during the exposure."""
    size = length if length % 2 == 1 else length + 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(math.radians(angle_deg)) * c, math.sin(math.radians(angle_deg)) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), (1.0,), 1, cv2.LINE_AA)
    return kernel / max(float(kernel.sum()), 1e-6)


def _median_box(boxes: Sequence[np.ndarray | None] | None) -> np.ndarray | None:
    if boxes is None:
        return None
    known = [np.asarray(b, dtype=np.float64)[:4] for b in boxes if b is not None]
    return np.median(np.stack(known), axis=0) if known else None


def _offframe_window(shape: tuple[int, int], box: np.ndarray, fraction: float, side: str) -> tuple[int, ...]:
    """A sub-window of the frame (same aspect) whose edge cuts ``fraction`` of the face box off,
    like a webcam framed too tight; it is scaled back up to the full frame."""
    h, w = shape
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    # The largest window (same aspect, at most 85% of the frame, so the face is not blown up too
    # much) that can still put its edge ``fraction`` into the face box on that side.
    room = {
        "left": (w - x0 - fraction * bw) / w,
        "right": (x1 - fraction * bw) / w,
        "top": (h - y0 - fraction * bh) / h,
        "bottom": (y1 - fraction * bh) / h,
    }[side]
    zoom = float(np.clip(room, 0.45, 0.85))
    ww, wh = w * zoom, h * zoom
    if side == "left":
        left = x0 + fraction * bw
        top = (y0 + y1) / 2 - wh / 2
    elif side == "right":
        left = x1 - fraction * bw - ww
        top = (y0 + y1) / 2 - wh / 2
    elif side == "top":
        top = y0 + fraction * bh
        left = (x0 + x1) / 2 - ww / 2
    else:
        top = y1 - fraction * bh - wh
        left = (x0 + x1) / 2 - ww / 2
    # Stay inside the frame (the cut is then at most what the frame allows).
    left = float(np.clip(left, 0, w - ww))
    top = float(np.clip(top, 0, h - wh))
    return int(left), int(top), int(left + ww), int(top + wh)


def _hand_sprite(size: int, colour: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A palm with four fingers in a skin colour, with soft shading and a soft edge: RGB + alpha."""
    alpha = np.zeros((size, size), np.uint8)
    s = size
    cv2.ellipse(alpha, (s // 2, int(s * 0.68)), (int(s * 0.3), int(s * 0.28)), 0, 0, 360, (255,), -1)
    for k in range(4):
        x = int(s * (0.28 + 0.145 * k))
        top = int(s * (0.12 + 0.08 * abs(k - 1.5) + rng.uniform(-0.03, 0.03)))
        cv2.line(alpha, (x, int(s * 0.62)), (x, top), (255,), max(3, int(s * 0.1)), cv2.LINE_AA)
    alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), max(1.0, s * 0.015)), dtype=np.uint8)
    shade = np.linspace(1.08, 0.85, s, dtype=np.float32)[:, None] * np.linspace(
        0.92, 1.05, s, dtype=np.float32
    )
    rgb = np.clip(colour[None, None, :] * shade[..., None], 0, 255).astype(np.uint8)
    return rgb, alpha


def _paste(frame: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    h, w = frame.shape[:2]
    sh, sw = alpha.shape
    fx0, fy0, fx1, fy1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    a = alpha[fy0 - y : fy1 - y, fx0 - x : fx1 - x, None].astype(np.float32) / 255.0
    src = rgb[fy0 - y : fy1 - y, fx0 - x : fx1 - x].astype(np.float32)
    dst = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (dst + a * (src - dst) + 0.5).astype(np.uint8)


# ------------------------------------------------------------------------------------------- codec


def encode_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """``encode_size(w, h, target_h) -> (w', h')``: aspect kept, even sides, never upscaled."""
    enc_h = min(target_height, height)
    enc_w = width * enc_h / height
    return max(2, int(round(enc_w / 2)) * 2), max(2, int(round(enc_h / 2)) * 2)


def codec_round_trip(
    frames: Sequence[np.ndarray], pts: Sequence[int], fps: float, params: CallDegradation
) -> list[np.ndarray]:
    """``codec_round_trip(frames, pts, fps, params) -> frames``: encode at ``params``' size and
    bitrate with realtime settings, decode, scale back to the input size. ``pts`` are frame indices
    at ``fps`` (gaps where frames were dropped, so rate control sees the real timing)."""
    return codec_round_trip_sized(frames, pts, fps, params)[0]


def codec_round_trip_sized(
    frames: Sequence[np.ndarray], pts: Sequence[int], fps: float, params: CallDegradation
) -> tuple[list[np.ndarray], int]:
    """``codec_round_trip_sized(frames, pts, fps, params) -> (frames, encoded_bytes)``: as
    :func:`codec_round_trip`, also returning the bitstream size (to check the bitrate holds)."""
    if params.codec is None or not frames:
        return [np.asarray(f) for f in frames], 0
    if params.codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)} or None, not {params.codec!r}")
    enc_name, dec_name = CODECS[params.codec]
    height, width = frames[0].shape[:2]
    enc_w, enc_h = encode_size(width, height, params.height)
    rate = Fraction(fps).limit_denominator(1001)
    bitrate = int(params.bitrate_kbps * 1000)

    encoder = cast(av.VideoCodecContext, av.CodecContext.create(enc_name, "w"))
    encoder.width, encoder.height, encoder.pix_fmt = enc_w, enc_h, "yuv420p"
    encoder.time_base = 1 / rate
    encoder.framerate = rate
    encoder.bit_rate = bitrate
    encoder.gop_size = max(1, int(round(float(rate) * 10)))  # calls send keyframes rarely
    # libvpx's VP8 threads spin rather than help on two cores (measured: 2x the CPU for the same
    # output), so VP8 runs single-threaded; x264's sliced threads (zerolatency) do help.
    threads = 2 if params.codec == "h264" else 1
    encoder.thread_count = threads
    if params.codec == "h264":
        encoder.options = {
            "preset": params.x264_preset,
            "tune": "zerolatency",
            "maxrate": str(bitrate),
            "bufsize": str(bitrate),  # one second of VBV buffer: a call's rate control
        }
    else:
        encoder.options = {
            "deadline": "realtime",
            "cpu-used": str(params.vp8_cpu_used),
            "lag-in-frames": "0",
            "error-resilient": "1",
            "maxrate": str(bitrate),
        }
    decoder = cast(av.VideoCodecContext, av.CodecContext.create(dec_name, "r"))
    decoder.thread_count = threads

    decoded: list[np.ndarray] = []
    n_bytes = 0

    def feed(packets: list[av.Packet]) -> None:
        nonlocal n_bytes
        for packet in packets:
            n_bytes += packet.size
            for frame in decoder.decode(packet):
                decoded.append(frame.to_ndarray(width=width, height=height, format="rgb24"))

    for image, pts_i in zip(frames, pts, strict=True):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        vf = vf.reformat(width=enc_w, height=enc_h, format="yuv420p")
        vf.pts = int(pts_i)
        feed(encoder.encode(vf))
    feed(encoder.encode(None))
    for frame in decoder.decode(None):
        decoded.append(frame.to_ndarray(width=width, height=height, format="rgb24"))
    if not decoded:
        raise RuntimeError(f"{params.codec} round trip produced no frames")
    # Encoders emit exactly one packet per frame at these settings; guard anyway so the clip
    # length contract holds (a missing tail frame repeats the last decoded one, like a freeze).
    while len(decoded) < len(frames):
        decoded.append(decoded[-1])
    return decoded[: len(frames)], n_bytes


# ------------------------------------------------------------------------------------------- clip


def face_boxes(frames: Sequence[np.ndarray], every: int = 3) -> list[np.ndarray | None]:
    """``face_boxes(frames, every=3) -> [box | None]``: the largest face's ``(x0, y0, x1, y1)`` per
    frame (MediaPipe, every ``every``-th frame, the rest borrow the nearest detected one)."""
    from realtime.faces import FaceDetector

    found: dict[int, np.ndarray] = {}
    with FaceDetector("full") as detector:
        for i in range(0, len(frames), max(1, every)):
            detections = detector(np.asarray(frames[i]))
            if detections:
                found[i] = max(detections, key=lambda d: d.width).box.astype(np.float64)
    if not found:
        return [None] * len(frames)
    keys = np.array(sorted(found))
    return [found[int(keys[np.abs(keys - i).argmin()])] for i in range(len(frames))]


def degrade_clip(
    frames: Sequence[np.ndarray],
    fps: float,
    params: CallDegradation,
    boxes: Sequence[np.ndarray | None] | None = None,
    detect_faces: bool = True,
) -> list[np.ndarray]:
    """``degrade_clip(frames, fps, params, boxes=None, detect_faces=True) -> frames``: the clip as a
    call shows it.

    ``frames``: uint8 RGB ``(H, W, 3)``, all one size; ``boxes``: optional per-frame face box
    ``(x0, y0, x1, y1)`` (or None) in frame pixels, needed only for ``offframe``/``occlusion``.
    Without boxes, those two find the face themselves (:func:`face_boxes`) when ``detect_faces``,
    else are skipped; clips without those effects never run a detector. Returns as many frames of
    the same shape, frame i showing time i (a dropped frame repeats its predecessor). Off-frame
    framing moves the face, so re-detect on the output. Deterministic given ``params`` (its
    ``seed`` drives per-frame randomness).
    """
    if not frames:
        return []
    shape = frames[0].shape
    if len(shape) != 3 or shape[2] != 3 or any(f.shape != shape or f.dtype != np.uint8 for f in frames):
        raise ValueError("frames must be uint8 RGB (H, W, 3), all the same size")
    if boxes is not None and len(boxes) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(boxes)} boxes")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rng = np.random.default_rng(params.seed)
    n = len(frames)
    h, w = shape[:2]

    shown = freeze_map(n, params.drop_rate, params.drop_burst, rng)
    delivered = np.unique(shown)

    if boxes is None and detect_faces and (params.offframe > 0 or params.occlusion > 0):
        boxes = face_boxes(frames)
    window = None
    face = _median_box(boxes)
    if params.offframe > 0 and face is not None:
        window = _offframe_window((h, w), face, params.offframe, params.offframe_side)
    hand = None
    if params.occlusion > 0 and face is not None and boxes is not None:
        i0 = next(i for i, b in enumerate(boxes) if b is not None)
        bx0, by0, bx1, by1 = (int(v) for v in np.asarray(boxes[i0])[:4])
        patch = frames[i0][max(by0, 0) : max(by1, 1), max(bx0, 0) : max(bx1, 1)].reshape(-1, 3)
        skin = (
            np.median(patch, axis=0).astype(np.float32)
            if len(patch)
            else np.array([200, 150, 120], np.float32)
        )
        # The sprite fills ~45% of its square, so this side covers about ``occlusion`` of the box.
        side = max(
            8, int(math.sqrt(params.occlusion * float((face[2] - face[0]) * (face[3] - face[1])) / 0.45))
        )
        hand = _hand_sprite(side, skin, rng)
        hand_dir = rng.uniform(-1, 1, size=2)
    lut = _exposure_lut(params.gain, params.gamma)
    kernel = None
    if params.blur_frac > 0:
        kernel = _motion_kernel(max(3, int(round(params.blur_frac * h))), params.blur_angle)
    noise_bank: list[np.ndarray] = []
    if params.noise_sigma > 0:
        for _ in range(NOISE_BANK):
            field = rng.standard_normal((h + NOISE_PAD, w + NOISE_PAD, 3), dtype=np.float32)
            noise_bank.append(np.round(field * params.noise_sigma).astype(np.int16))

    camera: list[np.ndarray] = []
    for i in delivered:
        img = np.asarray(frames[i])
        t = i / max(n - 1, 1)
        if hand is not None and boxes is not None and params.occlusion_start <= t <= params.occlusion_end:
            box = boxes[i] if boxes[i] is not None else face
            assert box is not None
            img = img.copy()
            bx0, by0, bx1, by1 = np.asarray(box, dtype=np.float64)[:4]
            side = hand[1].shape[0]
            drift = 0.15 * side * math.sin(2 * math.pi * t) * hand_dir
            # Over the lower half of the face, off to one side: a hand on the chin or mouth.
            x = int((bx0 + bx1) / 2 - side / 2 + 0.25 * (bx1 - bx0) * hand_dir[0] + drift[0])
            y = int(by0 + 0.7 * (by1 - by0) - side / 2 + drift[1])
            _paste(img, hand[0], hand[1], x, y)
        if window is not None:
            x0, y0, x1, y1 = window
            img = cv2.resize(img[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
        if lut is not None:
            img = cv2.LUT(img, lut)
        if kernel is not None and params.blur_start <= t <= params.blur_end:
            img = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)
        if noise_bank:
            k = int(rng.integers(NOISE_BANK))
            ox, oy = (int(v) for v in rng.integers(0, NOISE_PAD, size=2))
            noisy = img.astype(np.int16) + noise_bank[k][oy : oy + h, ox : ox + w]
            img = np.clip(noisy, 0, 255).astype(np.uint8)
        camera.append(img)

    decoded = codec_round_trip(camera, [int(i) for i in delivered], fps, params)
    position = {int(idx): j for j, idx in enumerate(delivered)}
    out: list[np.ndarray] = []
    for i, src in enumerate(shown):
        frame = decoded[position[int(src)]]
        out.append(frame if src == i else frame.copy())  # a frozen frame is its own array
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """``psnr(a, b) -> dB``: peak signal-to-noise ratio of two uint8 images (inf when equal)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
