"""Running the server: in the foreground for ``serve``, or on a thread of its own.

:func:`run_until_cancelled` binds, reports the port and serves until cancelled (Ctrl-C), then
closes every peer. :class:`ServerThread` does the same on a background thread with its own event
loop, for callers that are not asyncio programs: the ``whip`` source (the monitor's loop runs on
the main thread), the WebRTC benchmark and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from realtime.errors import UserError
from realtime.webrtc.server import SignallingServer


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything alive (model, MediaPipe, aiortc, modules) from the GC.

    MediaPipe's solution API makes a new namedtuple type per call (``solution_base.process``), so
    every analysed frame leaves a few KB in reference cycles that only a full collection frees.
    Full collections come every few minutes and scan the whole heap: on two cores one took ~230 ms,
    a pause every peer's latency feels. Frozen objects are not scanned, so full collections of
    what the run itself allocates stay short.
    """
    gc.collect()
    gc.freeze()


async def run_until_cancelled(server: SignallingServer, ready: Callable[[int], None] | None = None) -> None:
    """Listen on the configured host and port until cancelled (Ctrl-C), then close every peer."""
    runner = web.AppRunner(server.build_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.config.host, server.config.port)
        try:
            await site.start()
        except OSError as exc:
            raise UserError(
                f"cannot listen on {server.config.host}:{server.config.port} ({exc.strerror or exc}); "
                "is another server using that port? pick another with --port"
            ) from None
        sockets = getattr(site, "_server").sockets  # noqa: B009 (aiohttp exposes no public getter)
        port = int(sockets[0].getsockname()[1]) if sockets else server.config.port
        if ready is not None:
            ready(port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does before closing its loop: cancel what is left (aiortc's connect
    task of a connection closed a moment ago), let it finish, close async generators."""
    leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftover:
        task.cancel()
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())


class ServerThread:
    """The server on a background thread with its own event loop.

    :meth:`start` returns once the port is bound (or raises its :class:`UserError`); :meth:`stop`
    closes every peer and the loop, from any thread, and may be called twice.
    """

    def __init__(self, server: SignallingServer) -> None:
        self.server = server
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._main: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="callshield-server", daemon=True)

    @property
    def url(self) -> str:
        return self.server.config.url(self.port)

    def start(self, timeout: float = 15.0) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise UserError(f"the server did not start within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop

        def ready(port: int) -> None:
            self.port = port
            self._ready.set()

        try:
            self._main = loop.create_task(run_until_cancelled(self.server, ready))
            loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 (handed to the thread that called start)
            self._error = exc
        finally:
            self._ready.set()
            _finish_loop(loop)
            loop.close()

    def call(self, coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        """Run ``coro`` on the server's loop and return its result (tests inspect the registry)."""
        assert self.loop is not None

        async def wrapper() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self.loop is not None and self._main is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._main.cancel)
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
