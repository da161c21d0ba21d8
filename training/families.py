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
