"""Where results go: every sink receives every processed frame with its events (DESIGN.md, "Events").

The pipeline fans each :class:`FrameResult` out to all its sinks in turn. A sink must return fast
(it runs on the processing thread): the Qt overlay, the virtual camera and the WebRTC data channel
plug in here later by implementing :class:`Sink` and handing heavy work to their own thread or
event loop. A sink whose consumer has gone away (closed pipe, closed window) raises
:class:`SinkClosed` and the pipeline stops cleanly.

Result files are written through :mod:`realtime.atomic`, so an interrupted run never leaves a
half-written JSON or PNG behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import numpy as np

from realtime.events import FaceEvent


@dataclass
class FrameResult:
    """One processed frame: its index and time, the RGB image, its events, per-stage seconds, and
    the time segment it belongs to (:mod:`realtime.timeline`: counts up when a live sender's clock
    restarts or pauses, and the faces are tracked afresh)."""

    index: int
    t: float
    image: np.ndarray
    events: list[FaceEvent]
    times: dict[str, float] = field(default_factory=dict)
    segment: int = 1


class SinkClosed(Exception):
    """The sink's consumer is gone; the pipeline should stop (not an error)."""


@runtime_checkable
class Sink(Protocol):
    """Anything that takes processed frames: ``consume`` per frame, ``close`` once at the end."""

    def consume(self, result: FrameResult) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Events as JSON Lines on stdout (``"-"``) or in a file, flushed every frame so it can be tailed.

    Frames with no face produce no line: the contract is one line per track update.
    """

    def __init__(self, target: str | Path | IO[str] = "-") -> None:
        self._own = False
        self.lines = 0
        if isinstance(target, (str, Path)):
            if str(target) == "-":
                self._stream: IO[str] = sys.stdout
            else:
                path = Path(target)
                if path.parent and not path.parent.exists():
                    raise OSError(f"folder {path.parent} does not exist")
                self._stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
                self._own = True
        else:
            self._stream = target

    def consume(self, result: FrameResult) -> None:
        if not result.events:
            return
        try:
            self._stream.write("".join(event.to_json() + "\n" for event in result.events))
            self._stream.flush()
        except BrokenPipeError:
            if self._stream is sys.stdout:
                # Point stdout at /dev/null so the interpreter's final flush does not fail again.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            raise SinkClosed("the events reader closed its end of the pipe") from None
        self.lines += len(result.events)

    def close(self) -> None:
        if self._own:
            self._stream.close()


class CallbackSink:
    """Adapts a plain function (e.g. one that emits a Qt signal) to the :class:`Sink` protocol."""

    def __init__(
        self, on_frame: Callable[[FrameResult], None], on_close: Callable[[], None] | None = None
    ) -> None:
        self._on_frame = on_frame
        self._on_close = on_close

    def consume(self, result: FrameResult) -> None:
        self._on_frame(result)

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
