"""``serve --ray``: the same server, with each peer's analysis on a Ray cluster.

The aiohttp/aiortc front is unchanged (pages, WHIP, the peer registry, the per-peer pipeline
thread); only where :meth:`DetectorSession.process` runs moves. Each peer gets a Ray actor that
holds its face detector, tracker and risk state (:mod:`.peer`), and every actor's crops go to one
Ray Serve deployment (:mod:`.encoder`) that batches them across streams, which is what a GPU
replica needs to be worth having. :mod:`.cluster` starts or joins Ray and owns the deployment.

Ray is an optional extra: this package imports it only inside functions, so ``--ray`` without it
is one ``error:`` line naming the install command (:func:`require_ray`).
"""

from __future__ import annotations

from realtime.errors import UserError

INSTALL = "pip install 'callshield[fleet]'"


def require_ray() -> None:
    """Raise one :class:`UserError` line with the install command if Ray Serve is not importable."""
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "ray"
        raise UserError(f"--ray needs Ray Serve ({missing} is not installed): {INSTALL}") from None
