"""Starting or joining Ray, deploying the encoder, and handing ``serve`` its session factory.

``--ray`` alone starts a private local Ray (no dashboard, this machine's cores) and stops it at
the end; ``--ray ADDRESS`` joins a running cluster (``ray start --head`` on one machine, ``ray
start --address`` on the others), leaves it running at the end and removes only what it made
(its peer actors and the encoder application). An address that does not answer is refused in one
line before Ray is asked, since ``ray.init`` on an unreachable address retries for a minute.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import weakref
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engines.artifact import ModelMeta
from realtime.errors import UserError
from realtime.fleet import require_ray
from realtime.fleet.meter import BatchCounts
from realtime.fleet.peer import NAMESPACE, RemoteSession, SessionOptions

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
DEFAULT_RAY_PORT = 6379


def check_address(address: str) -> None:
    """``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``; anything else, or no answer there, is a UserError."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port_text = hostport.rpartition(":")
    if not host:
        host, port_text = hostport, str(DEFAULT_RAY_PORT)
    host = host.strip("[]")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise UserError(f"--ray {address!r}: expected HOST:PORT (a Ray head's GCS address) or auto")
    try:
        with socket.create_connection((host, int(port_text)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise UserError(
            f"no Ray cluster answers at {host}:{port_text} ({exc.strerror or exc}); start one with "
            "`ray start --head`, or give --ray without an address for a local one"
        ) from None


class Fleet:
    """Ray plus the encoder deployment, for one ``serve`` run; :meth:`make_session` per peer."""

    def __init__(
        self,
        options: SessionOptions,
        meta: ModelMeta,
        address: str | None = None,
        device: str = "cpu",
        replicas: int = 1,
        num_cpus: int | None = None,
    ) -> None:
        self.options = options
        self.meta = meta
        self.address = address
        self.device = device
        self.replicas = replicas
        self.num_cpus = num_cpus
        self.provider = "?"
        self.generation = 0  # encoder restarts so far
        self.started_ray = False
        self._sessions: weakref.WeakSet[RemoteSession] = weakref.WeakSet()
        self._lock = threading.Lock()

    def start(self) -> Fleet:
        require_ray()
        import ray
        from ray import serve

        if self.address is not None:
            check_address(self.address)
        if not ray.is_initialized():
            common: dict[str, Any] = {
                "namespace": NAMESPACE,
                "log_to_driver": False,  # replicas' and actors' logs stay in Ray's session folder
                # serve's output is its own lines and one error: line; Ray's start-up notes stay out
                "logging_level": logging.ERROR,
            }
            try:
                if self.address is None:
                    # "local": a new private instance, never a cluster found through $RAY_ADDRESS
                    ray.init(
                        address="local",
                        num_cpus=self.num_cpus or os.cpu_count(),
                        include_dashboard=False,
                        # Ray starts workers at nice 15; here they share the cores with the front and
                        # its peers' decoders, and a niced analysis loses every frame to them
                        _system_config={"worker_niceness": 0},
                        **common,
                    )
                    self.started_ray = True
                else:
                    ray.init(address=self.address, **common)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise UserError(f"cannot start or join Ray ({first})") from None
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        serve.start(
            proxy_location="Disabled", logging_config={"log_level": "WARNING", "enable_access_log": False}
        )
        self._deploy()
        return self

    def _deploy(self) -> None:
        from ray import serve

        from realtime.fleet.encoder import APP, encoder_app

        app = encoder_app(
            self.options.model, self.options.backend, self.device, self.replicas, self.generation
        )
        handle = serve.run(app, name=APP, route_prefix=None)
        self.provider = str(handle.describe.remote().result()["provider"])

    def restart_encoder(self) -> None:
        """Replace every encoder replica (the model file is read again); returns once they serve.

        Peers' encoder calls go to the old replicas until the new ones are up, and are retried if
        a replica goes away under them (:class:`~realtime.fleet.encoder.RemoteEncoderBackend`).
        """
        self.generation += 1
        self._deploy()

    def make_session(self) -> RemoteSession:
        """``AnalyseEachPeer``'s factory, called on the peer's own analysis thread.

        That thread is named after the peer (``callshield-peer-<id>``), which names the actor.
        """
        from realtime.webrtc.analysis import THREAD_PREFIX

        name = threading.current_thread().name.removeprefix(THREAD_PREFIX + "-")
        session = RemoteSession(self.options, name, self.meta)
        with self._lock:
            self._sessions.add(session)
        return session

    def encoder_stats(self) -> dict[str, Any]:
        """Batch counts of all encoder replicas, added up (:class:`~realtime.fleet.meter.BatchCounts`)."""
        return self.counts().summary()

    def counts(self) -> BatchCounts:
        from ray import serve

        from realtime.fleet.encoder import APP, DEPLOYMENT

        handle = serve.get_deployment_handle(DEPLOYMENT, app_name=APP)
        # One call per replica is not guaranteed by routing; ask more often than there are replicas
        # and keep each replica's latest answer (counts only grow).
        seen: dict[str, BatchCounts] = {}
        for _ in range(max(1, self.replicas * 3)):
            stats = handle.options(method_name="stats").remote().result(timeout_s=10)
            part = BatchCounts(**{k: stats[k] for k in asdict(BatchCounts())})
            seen[str(stats["replica"])] = part
        return BatchCounts.total(list(seen.values()))

    def close(self) -> None:
        """Remove what this run made; stop Ray only if this run started it."""
        import ray
        from ray import serve

        from realtime.fleet.encoder import APP

        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            session.close()
        if not ray.is_initialized():
            return
        try:
            serve.delete(APP)  # a local Ray's own Serve controller goes with ray.shutdown()
        except Exception as exc:  # the cluster went away first: nothing left to remove
            log.warning("could not remove the encoder deployment: %s", exc)
        if self.started_ray:
            ray.shutdown()


def model_options(model: Path | None, backend: str, tiles: int | str, detect_every: int) -> SessionOptions:
    """The peers' session options, with the model as an absolute path the replicas can open."""
    from engines import default_model_path

    path = Path(model) if model is not None else default_model_path()
    return SessionOptions(str(path.resolve()), backend, "full", tiles, detect_every)
