"""A peer's tracking on a Ray actor, and the front's stand-in session that drives it.

:class:`PeerActor` holds one stream's :class:`~realtime.session.DetectorSession` (face detectors,
tracker, feature windows, risk states) with its encoder on the shared deployment
(:class:`~realtime.fleet.encoder.RemoteEncoderBackend`). :class:`RemoteSession` is what the
front's per-peer pipeline thread runs instead of a local session: :meth:`RemoteSession.process`
sends the frame to the actor and returns its events, so the pipeline, sinks, data channel and
events file are the in-process server's own code.

An actor that dies (killed, its node lost, out of memory) is replaced by a fresh one: the stream
carries on with new tracks (track history lived in the dead actor) and its frame numbering kept;
the other peers never notice, since each has its own actor.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray

from realtime.errors import UserError
from realtime.events import FaceEvent
from realtime.session import DetectorSession, StageTimes

log = logging.getLogger(__name__)

NAMESPACE = "callshield"
ACTOR_PREFIX = "callshield-peer"
PEER_CPUS = 0.25  # scheduling share: MediaPipe on one 640x480 stream uses ~a quarter of a core
START_TIMEOUT_S = 120.0  # a new actor imports MediaPipe and ONNX Runtime and loads its detectors
PROCESS_TIMEOUT_S = 90.0  # one frame, including the encoder's own restart wait


@dataclass(frozen=True)
class SessionOptions:
    """What every peer's session is made from (``serve``'s model options)."""

    model: str
    backend: str = "auto"
    detector_model: str = "full"
    detect_tiles: int | str = "auto"
    detect_every: int = 1


@ray.remote(max_restarts=0)
class PeerActor:
    """One stream's detector session, fed frames in time order by its :class:`RemoteSession`."""

    def __init__(self, options: SessionOptions) -> None:
        from realtime.fleet.encoder import RemoteEncoderBackend

        backend = RemoteEncoderBackend.load(options.model, backend=options.backend)
        backend.warmup()
        self.session = DetectorSession.from_backend(
            backend, options.detector_model, options.detect_tiles, options.detect_every
        )

    def ready(self) -> str:
        return self.session.provider

    def process(
        self, frame: np.ndarray, t: float, index: int, new_segment: bool = False
    ) -> tuple[list[FaceEvent], dict[str, float]]:
        self.session.frame_index = index  # a replacement actor continues the stream's numbering
        if new_segment:
            self.session.start_segment()
        events = self.session.process(frame, t)
        return events, self.session.last_times.as_dict()


class RemoteSession:
    """The part of :class:`DetectorSession` the pipeline uses, with the work on a :class:`PeerActor`.

    ``name`` becomes the actor's name (``callshield-peer-<name>-<generation>`` in the
    ``callshield`` namespace), so an operator can find, watch or kill one stream's actor.
    """

    def __init__(self, options: SessionOptions, name: str, meta: Any) -> None:
        self.options = options
        self.name = name
        self.meta = meta
        self.frame_index = 0
        self.last_times = StageTimes()
        self.replacements = 0
        self._new_segment = False
        self._generation = 0
        self._lock = threading.Lock()
        self.provider = ""
        self._actor = self._spawn()

    @property
    def actor_name(self) -> str:
        return f"{ACTOR_PREFIX}-{self.name}-{self._generation}"

    def _spawn(self) -> Any:
        self._generation += 1
        actor = PeerActor.options(  # type: ignore[attr-defined]
            name=self.actor_name, namespace=NAMESPACE, num_cpus=PEER_CPUS
        ).remote(self.options)
        try:
            self.provider = str(ray.get(actor.ready.remote(), timeout=START_TIMEOUT_S))
        except ray.exceptions.GetTimeoutError:
            ray.kill(actor)
            raise UserError(
                f"no Ray node started {self.actor_name} within {START_TIMEOUT_S:g} s "
                f"(each peer needs {PEER_CPUS} CPU of the cluster's)"
            ) from None
        return actor

    def start_segment(self) -> None:
        """The stream's clock restarted: the actor forgets its tracks with the next frame (no extra
        round trip)."""
        self._new_segment = True

    def process(self, frame: np.ndarray, t: float) -> list[FaceEvent]:
        new_segment, self._new_segment = self._new_segment, False
        ref = self._actor.process.remote(frame, t, self.frame_index, new_segment)
        try:
            events, times = ray.get(ref, timeout=PROCESS_TIMEOUT_S)
        except ray.exceptions.RayActorError as exc:
            log.warning("%s died (%s); starting a replacement", self.actor_name, type(exc).__name__)
            with self._lock:
                self._actor = self._spawn()
                self.replacements += 1
            # a fresh actor has no tracks: no segment to start
            events, times = ray.get(
                self._actor.process.remote(frame, t, self.frame_index), timeout=PROCESS_TIMEOUT_S
            )
        self.last_times = StageTimes(**times)
        self.frame_index += 1
        return list(events)

    def close(self) -> None:
        """End the actor (the peer left): ``ray.kill`` ends its process, and its detectors with it."""
        with self._lock:
            try:
                ray.kill(self._actor)
            except Exception as exc:  # already dead, or Ray is shutting down
                log.debug("%s: %s", self.actor_name, exc)
