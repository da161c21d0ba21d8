"""What the window knows about each face, kept as plain data (no Qt): testable without a screen.

:class:`TrackBook` takes every event once, in order, and keeps per face the latest event, the last
60 s of risk for its sparkline and a thinned history of the whole session for the report; it
notices state changes (the log panel) and a face turning ``fake`` (the alert). :class:`EventLog`
keeps the session's events in a compact numpy table (46 bytes each instead of a dict of ~1 kB),
so a long call does not grow the process: an hour at 30 fps with one face is 5 MB.

Track ids restart when the user picks another source (the detector session is reset), so faces are
keyed by ``(segment, track_id)``: segment 0 is the first source, 1 the next, and so on.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import numpy as np

from realtime.events import REASONS, STATES, FaceEvent
from realtime.quality import QUALITY_FLAGS
from realtime.style import why_uncertain

SPARK_SECONDS = 60.0
SPARK_STEP_S = 0.1  # sparkline points at most every 0.1 s: 600 per face
HISTORY_STEP_S = 0.5  # report history points at most every 0.5 s
FACE_TIMEOUT_S = 2.0  # a face not seen for this long (source time) leaves the gauges


@dataclass
class StateChange:
    """One line of the log panel."""

    wall: float  # time.time() when the window learnt of it
    t: float  # source time
    segment: int
    track_id: int
    old: str | None  # None: the face appeared
    new: str
    risk: float | None
    why: str | None

    def text(self) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(self.wall))
        risk = "" if self.risk is None else f" (risk {round(100 * self.risk)}%)"
        why = f": {self.why}" if self.why else ""
        if self.old is None:
            return f"{clock}  face #{self.track_id} appeared, {self.new}{risk}{why}"
        return f"{clock}  face #{self.track_id} {self.old} -> {self.new}{risk}{why}"


@dataclass
class Face:
    """One tracked face of one source."""

    segment: int
    track_id: int
    event: FaceEvent
    first_t: float
    spark: collections.deque[tuple[float, float | None]] = field(default_factory=collections.deque)
    history: list[tuple[float, float | None]] = field(default_factory=list)
    went_fake: int = 0

    @property
    def state(self) -> str:
        return self.event.state

    @property
    def risk(self) -> float | None:
        return self.event.risk

    @property
    def why(self) -> str | None:
        return why_uncertain(self.event.state, self.event.reason, self.event.quality)


class TrackBook:
    """Every face of the session; feed it each event once with :meth:`add`."""

    def __init__(self, spark_seconds: float = SPARK_SECONDS) -> None:
        self.spark_seconds = spark_seconds
        self.faces: dict[tuple[int, int], Face] = {}
        self.changes: collections.deque[StateChange] = collections.deque(maxlen=2000)
        self.alerts: list[StateChange] = []
        self.segment = 0
        self.sources: list[str] = []
        self.last_t = 0.0

    def new_source(self, name: str) -> None:
        """A new source starts: its track ids are a new segment."""
        if self.sources:
            self.segment += 1
        self.sources.append(name)
        self.last_t = 0.0

    def add(self, event: FaceEvent) -> StateChange | None:
        """Record ``event``; returns the state change it made (``new == "fake"`` is an alert), if any."""
        key = (self.segment, event.track_id)
        self.last_t = max(self.last_t, event.t)
        face = self.faces.get(key)
        change = None
        if face is None:
            face = self.faces[key] = Face(self.segment, event.track_id, event, event.t)
            change = StateChange(
                time.time(), event.t, self.segment, event.track_id, None, event.state, event.risk, face.why
            )
        elif face.event.state != event.state:
            old = face.event.state
            face.event = event
            change = StateChange(
                time.time(), event.t, self.segment, event.track_id, old, event.state, event.risk, face.why
            )
        face.event = event
        if not face.spark or event.t - face.spark[-1][0] >= SPARK_STEP_S:
            face.spark.append((event.t, event.risk))
            while face.spark and face.spark[0][0] < event.t - self.spark_seconds:
                face.spark.popleft()
        if not face.history or event.t - face.history[-1][0] >= HISTORY_STEP_S:
            face.history.append((event.t, event.risk))
        if change is not None:
            self.changes.append(change)
            if change.new == "fake":
                face.went_fake += 1
                self.alerts.append(change)
        return change

    def current(self, timeout_s: float = FACE_TIMEOUT_S) -> list[Face]:
        """Faces of the current source seen in the last ``timeout_s`` seconds of its time, by id."""
        return sorted(
            (
                f
                for f in self.faces.values()
                if f.segment == self.segment and f.event.t >= self.last_t - timeout_s
            ),
            key=lambda f: f.track_id,
        )

    def all_faces(self) -> list[Face]:
        return sorted(self.faces.values(), key=lambda f: (f.segment, f.track_id))


_STATE_CODE = {s: i for i, s in enumerate(STATES)}
_REASON_CODE = {r: i for i, r in enumerate(REASONS)}
_FLAG_BIT = {f: 1 << i for i, f in enumerate(QUALITY_FLAGS)}
EVENT_DTYPE = np.dtype(
    [
        ("t", "f8"),
        ("frame", "i4"),
        ("track_id", "i4"),
        ("segment", "u2"),
        ("box", "f4", (4,)),
        ("p_fake", "f4"),
        ("risk", "f4"),
        ("state", "u1"),
        ("reason", "u1"),
        ("quality", "u1"),
        ("scored", "?"),
    ]
)
CHUNK = 4096


class EventLog:
    """The session's events in fixed-size numpy chunks; past ``max_events`` the oldest chunk goes.

    The default (2 million, 92 MB) is 18 hours of one face at 30 fps, or 2 hours of a 9-face gallery.
    """

    def __init__(self, max_events: int = 2_000_000) -> None:
        self.max_events = max(CHUNK, max_events)
        self._chunks: list[np.ndarray] = []
        self._fill = CHUNK
        self.dropped = 0

    def __len__(self) -> int:
        return (len(self._chunks) - 1) * CHUNK + self._fill if self._chunks else 0

    def add(self, event: FaceEvent, segment: int = 0) -> None:
        if self._fill == CHUNK:
            self._chunks.append(np.zeros(CHUNK, EVENT_DTYPE))
            self._fill = 0
            if len(self._chunks) > -(-self.max_events // CHUNK):  # at most max_events rows allocated
                self._chunks.pop(0)
                self.dropped += CHUNK
        row = self._chunks[-1][self._fill]
        row["t"] = event.t
        row["frame"] = event.frame
        row["track_id"] = event.track_id
        row["segment"] = segment
        row["box"] = event.box
        row["p_fake"] = np.nan if event.p_fake is None else event.p_fake
        row["risk"] = np.nan if event.risk is None else event.risk
        row["state"] = _STATE_CODE.get(event.state, 0)
        row["reason"] = 255 if event.reason is None else _REASON_CODE.get(event.reason, 255)
        row["quality"] = sum(_FLAG_BIT.get(flag, 0) for flag in event.quality)
        row["scored"] = event.scored
        self._fill += 1

    def rows(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(0, EVENT_DTYPE)
        return np.concatenate(self._chunks[:-1] + [self._chunks[-1][: self._fill]])

    def to_dicts(self) -> list[dict[str, object]]:
        """The events in the JSON Lines contract's shape, each with the ``segment`` it belongs to."""
        out = []
        for row in self.rows():
            event = FaceEvent(
                t=float(row["t"]),
                frame=int(row["frame"]),
                track_id=int(row["track_id"]),
                box=(float(row["box"][0]), float(row["box"][1]), float(row["box"][2]), float(row["box"][3])),
                p_fake=None if np.isnan(row["p_fake"]) else float(row["p_fake"]),
                risk=None if np.isnan(row["risk"]) else float(row["risk"]),
                state=STATES[int(row["state"])],
                reason=None if int(row["reason"]) == 255 else REASONS[int(row["reason"])],
                quality=[f for f, bit in _FLAG_BIT.items() if int(row["quality"]) & bit],
                scored=bool(row["scored"]),
            )
            data: dict[str, object] = {"segment": int(row["segment"]), **event.to_dict()}
            out.append(data)
        return out
