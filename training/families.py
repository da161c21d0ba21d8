"""Families of fakes: the unit of the leave-one-family-out benchmark and of per-family figures.

A detector that has only learnt the fakes it was shown is no use against the next tool a caller
picks up, so recipes are judged by how they score a whole family of fakes they never saw
(:mod:`training.lofo`). The families follow how a fake is made, which is what its traces depend on:

* ``live_swap``: DeepFaceLive live face swaps (``deepfacelive/``): a webcam stream with the face
  re-rendered by a per-celebrity autoencoder, frame by frame;
* ``face_swap``: other face-swap tools (``swaps/``): Deep-Live-Cam / roop (inswapper), GHOST,
  SimSwap, faceswap-GAN, an early autoencoder deepfake;
* ``academic``: the benchmark datasets (``academic/``, ``ffpp_dfdc_samples/``): FaceForensics++
  (Deepfakes, Face2Face, FaceSwap, NeuralTextures), Celeb-DF, DFDC;
* ``lip_sync``: an existing video with only the mouth re-generated to new audio (Wav2Lip,
  video-retalking, DINet, SadTalker's video lip-sync);
* ``animation``: a whole talking head generated from one portrait (SadTalker, LivePortrait,
  AniPortrait, EDTalk, FOMM, NeRF heads...).
"""

from __future__ import annotations

import hashlib

from training.manifest import ManifestRow

FAMILIES = ("live_swap", "face_swap", "academic", "lip_sync", "animation")

# Methods of ``talking/`` that edit the mouth of a real video rather than animate a portrait.
LIP_SYNC_METHODS = frozenset(
    {
        "wav2lip",
        "wav2lip+gfpgan",
        "video-retalking",
        "dinet",
        "sadtalker-lipsync",
        "sadtalker-video-lip-sync",
        "sadtalker-video-lip-sync+gfpgan+dain",
    }
)


OTHER = "other"  # fakes of a manifest laid out otherwise (a user's own data): trained on, never left out


def family_of(row: ManifestRow) -> str | None:
    """The family of a fake (None for a real row); :data:`OTHER` for a fake outside these folders."""
    if row.label != "fake":
        return None
    folder = row.path.replace("\\", "/").split("/")[0]
    if row.source == "deepfacelive" or row.method == "deepfacelive":
        return "live_swap"
    if folder == "swaps":
        return "face_swap"
    if folder in ("academic", "ffpp_dfdc_samples") or row.source in (
        "ffpp_c23",
        "ffpp_c40",
        "dfdc",
        "celebdf",
    ):
        return "academic"
    if folder == "talking":
        return "lip_sync" if row.method in LIP_SYNC_METHODS else "animation"
    return OTHER


# Lip-sync methods that are one tool under two names in the data (SadTalker's video lip-sync).
_SAME_LIP_SYNC_TOOL = {"sadtalker-lipsync": "sadtalker-vls", "sadtalker-video-lip-sync": "sadtalker-vls"}


def method_of(row: ManifestRow, identity_unit: str | None = None) -> str | None:
    """The unit of the leave-one-method-out benchmark a fake belongs to (None for a real row).

    What a caller shows is mostly a new tool of a known kind, so a benchmark that predicts it holds
    out single tools, not only whole families. The unit is what makes a fake's traces:

    * a live swap: the DeepFaceLive face model, ``identity_unit`` (face models trained on the same
      real footage are one unit, :func:`training.clips.identity_key`);
    * another face swap: the tool (``source``: Deep-Live-Cam, roop, GHOST, SimSwap...);
    * academic: the FaceForensics++ method (c23 and c40 alike), Celeb-DF, DFDC;
    * lip sync: the method without its post-processing (``wav2lip+gfpgan`` is Wav2Lip);
    * animation: the generator (``source``: SadTalker, LivePortrait, AniPortrait...), whatever
      portrait it animated.
    """
    family = family_of(row)
    if family is None:
        return None
    if family == "live_swap":
        return f"live_swap/{identity_unit or row.identity}"
    if family == "academic":
        return f"academic/{row.method if row.source.startswith('ffpp') else row.source}"
    if family == "lip_sync":
        base = row.method.split("+")[0]
        return f"lip_sync/{_SAME_LIP_SYNC_TOOL.get(base, base)}"
    return f"{family}/{row.source}"


def deal_methods(units: dict[str, int], folds: int) -> dict[str, int]:
    """Method unit -> fold, for ``units`` (method unit -> number of fakes).

    Each family's units are dealt on their own, the largest first, each to the fold with the
    fewest of that family's fakes so far: every fold holds out about 1/``folds`` of every family,
    so every fold still trains on every kind of fake, as a user's model does. Ties break on a hash
    of the name, so the deal does not depend on the manifest's order.
    """
    by_family: dict[str, list[str]] = {}
    for unit in units:
        by_family.setdefault(unit.split("/")[0], []).append(unit)
    fold_of: dict[str, int] = {}
    for members in by_family.values():
        members.sort(key=lambda u: (-units[u], hashlib.sha1(f"method|{u}".encode()).hexdigest()))
        load = [0] * folds
        for unit in members:
            fold = load.index(min(load))
            load[fold] += units[unit]
            fold_of[unit] = fold
    return fold_of
