"""The encoder as one Ray Serve deployment, batching the crops of every stream.

Every peer actor sends one request per frame: that frame's aligned, normalised crops
``(N, 3, S, S)``. :meth:`EncoderDeployment.encode` is a ``@serve.batch`` method, so requests that
arrive within :data:`BATCH_WAIT_S` of each other (or while the previous batch runs) go through the
backend in one call and are split back per request. On CPU that saves little (a batch costs about
its crops); on a GPU one batch of 64 costs about what one crop does, which is why the encoder is
shared rather than copied into every actor.

Replicas are CPU or GPU by the ``device`` asked for (``--device cuda``: one GPU per replica).
:class:`RemoteEncoderBackend` is the :class:`~engines.base.Backend` a peer actor's
:class:`~realtime.session.DetectorSession` runs on: ``encode`` goes to the deployment (retrying
while it restarts), ``head`` runs in the actor (a few small matmuls on the track's window, not
worth a round trip).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from engines.base import Backend, load_backend
from realtime.fleet.meter import BatchMeter

log = logging.getLogger(__name__)

APP = "callshield-encoder"
DEPLOYMENT = "encoder"
MAX_BATCH = 64  # crops per encoder call; a 3x3 gallery sends at most 9 per frame
BATCH_WAIT_S = 0.003  # longer waits add latency to every frame for little more batching on CPU
MAX_ONGOING = 128  # requests a replica queues; Serve's default (5) would throttle more than 5 peers
CALL_TIMEOUT_S = 10.0  # one encoder call; longer means the replica is stuck or gone
RESTART_WAIT_S = 60.0  # how long an actor keeps retrying while the deployment restarts
REPLICA_CPUS = 0.5  # a CPU replica's share of Ray's scheduling (the ONNX session uses 2 threads)


@serve.deployment(name=DEPLOYMENT, max_ongoing_requests=MAX_ONGOING)
class EncoderDeployment:
    """One replica: the model's encoder on this replica's device, fed by ``@serve.batch``."""

    def __init__(self, model: str, backend: str, device: str, generation: int = 0) -> None:
        self.generation = generation  # which restart of the deployment this replica belongs to
        self.backend = load_backend(model, backend=backend, device=device)
        self.backend.warmup()
        self.meter = BatchMeter()

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
    async def encode(self, requests: list[np.ndarray]) -> list[np.ndarray]:
        start = time.perf_counter()
        features = self.backend.encode(np.concatenate(requests))
        self.meter.record(int(features.shape[0]), len(requests), time.perf_counter() - start)
        ends = np.cumsum([len(r) for r in requests])[:-1]
        return list(np.split(features, ends))

    def stats(self) -> dict[str, Any]:
        """This replica's batch counts since it started (see :mod:`realtime.fleet.meter`)."""
        from dataclasses import asdict

        return {**asdict(self.meter.snapshot()), "replica": serve.get_replica_context().replica_id.unique_id}

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.backend.provider,
            "model_version": self.backend.meta.model_version,
            "generation": self.generation,
        }


def encoder_app(model: str, backend: str, device: str, replicas: int, generation: int = 0) -> Any:
    """The deployment bound to its arguments, ``replicas`` of it, on CPU or one GPU each.

    A new ``generation`` changes the replicas' arguments, so Serve replaces them all; with
    ``max_surge_percent=100`` the new ones start before the old ones stop (no gap while the
    cluster has room for both).
    """
    gpu = device in ("cuda", "tensorrt")
    resources = {"num_gpus": 1} if gpu else {"num_cpus": REPLICA_CPUS}
    return EncoderDeployment.options(  # type: ignore[attr-defined]
        num_replicas=replicas, ray_actor_options=resources, max_surge_percent=100
    ).bind(model, backend, device, generation)


class EncoderUnavailable(RuntimeError):
    """The deployment did not answer for :data:`RESTART_WAIT_S` (all replicas gone, cluster lost)."""


class RemoteEncoderBackend(Backend):
    """A peer actor's backend: ``encode`` on the shared deployment, ``head`` here.

    The model file is read here too, for its metadata and head; it must exist at the same path on
    every node (the shipped model does, being part of the installed package).
    """

    name = "ray-serve"

    def __init__(self, local: Backend, handle: Any, provider: str) -> None:
        super().__init__(local.meta, provider)
        self.local = local
        self.handle = handle

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", backend: str = "auto") -> RemoteEncoderBackend:
        local = load_backend(path, backend=backend, device="cpu")
        handle = serve.get_deployment_handle(DEPLOYMENT, app_name=APP)
        described = handle.describe.remote().result(timeout_s=RESTART_WAIT_S)
        return cls(local, handle, f"Ray Serve {DEPLOYMENT!r} on {described['provider']}")

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        deadline = time.monotonic() + RESTART_WAIT_S
        while True:
            try:
                out: np.ndarray = self.handle.encode.remote(crops).result(timeout_s=CALL_TIMEOUT_S)
                return out
            except Exception as exc:  # a replica restarting or killed: Serve routes the retry elsewhere
                if time.monotonic() > deadline:
                    raise EncoderUnavailable(
                        f"the encoder deployment did not answer for {RESTART_WAIT_S:g} s ({exc})"
                    ) from None
                log.warning("encoder call failed (%s); retrying", type(exc).__name__)
                time.sleep(0.1)

    def _head(self, windows: np.ndarray) -> np.ndarray:
        return self.local.head(windows)

    def warmup(self, batch: int = 1) -> None:
        """The deployment warmed its encoder; only the local head needs it."""
        self.local.warmup(batch)
