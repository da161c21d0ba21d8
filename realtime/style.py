"""How a face's state looks and reads, the same in every place that shows it.

The desktop overlay (Qt), the virtual camera's burnt-in annotations (OpenCV) and the browser page
(HTML/JS, served with these values as JSON) all draw the same states in the same colours and
words, so a user who learnt the gauge in one of them reads the others at a glance. No drawing
toolkit is imported here: colours are plain RGB tuples and hex strings.
"""

from __future__ import annotations

from typing import Any, Protocol

from realtime.events import REASONS, STATES

# RGB per state: green for real, grey for "not judged", amber for suspicious, red for fake.
STATE_RGB: dict[str, tuple[int, int, int]] = {
    "uncertain": (150, 150, 150),
    "real": (46, 160, 67),
    "suspicious": (240, 160, 0),
    "fake": (220, 38, 38),
}

# What the gauge says under its number, per state.
STATE_WORDS: dict[str, str] = {
    "uncertain": "uncertain",
    "real": "real",
    "suspicious": "suspicious",
    "fake": "fake",
}

# Why a face is ``uncertain``, in the user's words: the event's quality flags first, else its reason.
QUALITY_WORDS: dict[str, str] = {
    "too_small": "face too small",
    "too_blurred": "face blurred",
    "too_dark": "face too dark",
    "too_bright": "face too bright",
    "low_confidence": "face hard to detect",
}
REASON_WORDS: dict[str, str] = {
    "warming_up": "seen too briefly",
    "low_quality": "face too poor to judge",
    "undecided": "not sure yet",
}

assert set(STATE_RGB) == set(STATES) == set(STATE_WORDS)
assert set(REASON_WORDS) == set(REASONS)


def state_hex(state: str) -> str:
    """``#rrggbb`` of a state (unknown states draw as ``uncertain``)."""
    r, g, b = STATE_RGB.get(state, STATE_RGB["uncertain"])
    return f"#{r:02x}{g:02x}{b:02x}"


def state_bgr(state: str) -> tuple[int, int, int]:
    """The state's colour in OpenCV's channel order."""
    r, g, b = STATE_RGB.get(state, STATE_RGB["uncertain"])
    return (b, g, r)


def why_uncertain(state: str, reason: str | None, quality: list[str]) -> str | None:
    """Why a face is not judged, in words (None unless the state is ``uncertain``).

    The quality flags are the most specific answer ("face too dark"); without them the abstain
    reason says whether the face was seen too briefly or the model is not sure yet.
    """
    if state != "uncertain":
        return None
    words = [QUALITY_WORDS.get(flag, flag.replace("_", " ")) for flag in quality]
    if words:
        return ", ".join(words)
    if reason is not None:
        return REASON_WORDS.get(reason, reason.replace("_", " "))
    return None


class HasThresholds(Protocol):
    """The model's decision levels (``engines.artifact.Thresholds``), without importing engines."""

    real: float
    suspicious: float
    fake: float


def threshold_bands(thresholds: HasThresholds) -> list[tuple[float, float, str]]:
    """``(low, high, state)`` spans of a 0-1 gauge: below ``real`` real, then uncertain, suspicious, fake.

    Every gauge (overlay, virtual camera, report) shades the same bands in the state colours, so a
    needle's place reads the same everywhere.
    """
    real, warn, fake = thresholds.real, thresholds.suspicious, thresholds.fake
    return [(0.0, real, "real"), (real, warn, "uncertain"), (warn, fake, "suspicious"), (fake, 1.0, "fake")]


def palette_json() -> dict[str, Any]:
    """Everything above as JSON, for pages and tools outside Python."""
    return {
        "states": {
            s: {"hex": state_hex(s), "rgb": list(STATE_RGB[s]), "words": STATE_WORDS[s]} for s in STATES
        },
        "quality": dict(QUALITY_WORDS),
        "reasons": dict(REASON_WORDS),
    }
