"""A stream's own clock turned into one increasing session clock, cut into segments.

Why: live senders restart their timestamps. A WHIP publisher looping a short file, an OBS source
that is restarted, an RTP timestamp reset, a camera or a browser tab that pauses and resumes: the
frames keep coming, but their times jump back, or skip ahead by the length of the pause. The
tracker's motion model, the per-track feature windows and the risk smoothing all assume time moves
forward in small steps. Rather than end the analysis (or freeze the clock at the last good time,
which stopped every event after the first loop of a 2.4 s clip), the pipeline asks this
:class:`Timeline` where each frame lies: a jump back or a gap longer than ``max_gap_s`` starts a
new *segment*, and the pipeline then starts the session afresh (tracks, windows and risk; the
frame count goes on).

Session time never goes back: after a jump back the new segment starts one frame step after the
last frame; after a gap the real pause stays in the clock (events are that far apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Longer than any frame interval a working stream has (a 3x3 gallery on a busy CPU runs at
# ~10 fps), shorter than anything a face track or a 0.5 s risk smoothing should bridge.
MAX_GAP_S = 2.0
_EARLIEST_STEP_S = 1e-3  # equal timestamps (a sender that repeats one) still move the clock


@dataclass
class Timeline:
    """Places frames on the session clock: :meth:`place` -> (time, starts a new segment)."""

    max_gap_s: float = MAX_GAP_S
    segments: int = 0
    _offset: float = 0.0
    _last_source: float | None = None
    _last: float = field(default=0.0, repr=False)
    _step: float = 1.0 / 30.0  # typical frame step, where a restarted segment's first frame goes

    def place(self, source_t: float) -> tuple[float, bool]:
        """Session time of a frame stamped ``source_t`` by its source, and whether it opens a segment.

        The first frame opens segment 1 but is not reported as new (nothing to restart).
        """
        if self._last_source is None:
            self.segments = 1
            self._offset = -source_t if source_t < 0 else 0.0
            new_segment = False
        else:
            step = source_t - self._last_source
            new_segment = step < 0 or step > self.max_gap_s
            if step < 0:
                self._offset = self._last + self._step - source_t
            elif not new_segment and step > 0:
                self._step += 0.1 * (step - self._step)
            if new_segment:
                self.segments += 1
        t = source_t + self._offset
        if self._last_source is not None and t <= self._last:
            t = self._last + _EARLIEST_STEP_S
        self._last_source = source_t
        self._last = t
        return t, new_segment
