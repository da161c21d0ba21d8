"""The event contract: one JSON object per track update, the same for every sink (DESIGN.md, "Events").

A line looks like::

    {"t": 1.234, "frame": 37, "track_id": 1, "box": [412.0, 118.5, 590.2, 330.0],
     "p_fake": 0.12, "risk": 0.15, "state": "real", "reason": null, "quality": [], "scored": true}

* ``t``: seconds (media time for files, since start for live sources); ``frame``: index of the
  frame in the stream (counting dropped frames out, i.e. frames the pipeline processed);
* ``box``: ``x0, y0, x1, y1`` in frame pixels;
* ``p_fake``: calibrated probability of the track's latest scored window, ``null`` before its
  first full window; ``risk``: the smoothed p_fake the state is decided on;
* ``state``: ``uncertain`` | ``real`` | ``suspicious`` | ``fake``; ``reason``: why it is
  ``uncertain`` (``warming_up`` | ``low_quality`` | ``undecided``), else ``null``;
* ``quality``: the quality flags raised on this frame (``too_small``, ``too_blurred``,
  ``too_dark``, ``too_bright``, ``low_confidence``), empty when the face is good;
* ``scored``: true when the head scored a new window for this track on this frame (a video's
  score averages these, each window once).

Floats are rounded to 4 decimals (2 for boxes): enough for a gauge, and lines stay short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STATES = ("uncertain", "real", "suspicious", "fake")
REASONS = ("warming_up", "low_quality", "undecided")


@dataclass
class FaceEvent:
    """One track's update on one frame."""

    t: float
    frame: int
    track_id: int
    box: tuple[float, float, float, float]
    p_fake: float | None
    risk: float | None
    state: str
    reason: str | None = None
    quality: list[str] = field(default_factory=list)
    scored: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": round(float(self.t), 4),
            "frame": int(self.frame),
            "track_id": int(self.track_id),
            "box": [round(float(v), 2) for v in self.box],
            "p_fake": None if self.p_fake is None else round(float(self.p_fake), 4),
            "risk": None if self.risk is None else round(float(self.risk), 4),
            "state": self.state,
            "reason": self.reason,
            "quality": list(self.quality),
            "scored": bool(self.scored),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> FaceEvent:
        """Parse and validate one event (for sinks in other processes and for tests)."""
        try:
            box = tuple(float(v) for v in data["box"])
            if len(box) != 4:
                raise ValueError("box must have 4 numbers")
            state = str(data["state"])
            if state not in STATES:
                raise ValueError(f"unknown state {state!r}")
            reason = data.get("reason")
            if reason is not None and reason not in REASONS:
                raise ValueError(f"unknown reason {reason!r}")
            return FaceEvent(
                t=float(data["t"]),
                frame=int(data["frame"]),
                track_id=int(data["track_id"]),
                box=(box[0], box[1], box[2], box[3]),
                p_fake=None if data["p_fake"] is None else float(data["p_fake"]),
                risk=None if data["risk"] is None else float(data["risk"]),
                state=state,
                reason=reason,
                quality=[str(q) for q in data.get("quality", [])],
                scored=bool(data.get("scored", False)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a CallShield event: {exc!r}") from None

    @staticmethod
    def from_json(line: str) -> FaceEvent:
        return FaceEvent.from_dict(json.loads(line))
