"""``callshield bench --webrtc``: the page's numbers on loopback, measured by real Chromium pages.

Each peer is a headless Chromium whose fake camera plays carphone at 640x480, 30 fps, sending to
the real server in this process (ICE on 127.0.0.1). Figures, after ``settle_s`` of warm-up:

* latency: frame sent -> its event at the page, per frame, on the page's own clock (the page
  notes when each encoded frame leaves, by RTP timestamp; the server echoes the timestamp), and
  the part of it the frame spent in the server (decoded frame parked -> its event sent);
* received fps: frames the server got from the network per second; analysed fps: events
  (processed frames) reaching the page per second;
* memory: this process's memory (server, pipelines, model). The drift compares its live
  anonymous memory (after a full garbage collection, outside the timed window) at the start and
  the end of the window: that is what a leak grows. Resident and anonymous memory are also
  sampled every second through the run, so the sawtooth of garbage awaiting Python's full
  collections shows too (see :func:`memory_mb` and ``runner.freeze_startup_heap``).

Chromium runs on the same cores as the server (capture, VP8 encoding, drawing), as it would on a
user's laptop, so a loaded or small machine shows in these figures: the load average is recorded
at the start and the end.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import UserError

TARGETS = {"latency_p95_ms": 150.0, "received_fps": 25.0, "memory_drift_pct": 5.0, "fps_each_of_two": 15.0}


def memory_mb() -> tuple[float, float]:
    """(resident, anonymous) memory of this process now, in MB (Linux /proc; zeros elsewhere).

    A leak grows anonymous memory (heap, arenas); resident memory also counts file-backed pages
    (the mapped ONNX Runtime, MediaPipe and libvpx libraries), which come and go with the page
    cache.
    """
    values = {"VmRSS:": 0.0, "RssAnon:": 0.0}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(":", 1)[0] + ":"
                if key in values:
                    values[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["VmRSS:"], values["RssAnon:"]


@dataclass
class PageRun:
    """One page's raw figures over the measured window."""

    driver: Any
    peer_id: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    messages_start: int = 0
    messages_end: int = 0
    received_start: int = 0
    received_end: int = 0
    dropped_start: int = 0
    dropped_end: int = 0
    sizes: dict[str, int] = field(default_factory=dict)  # frame size the server saw, per sample


def _summary(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script("return window.callshield.summary()"))


def _ready(driver: Any) -> bool:
    return bool(driver.execute_script("return !!(window.callshield && window.callshield.ready)"))


def _has_events(driver: Any) -> bool:
    return int(_summary(driver)["messages"]) > 0


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise UserError(f"webrtc bench: {what} within {timeout:g} s")
        time.sleep(0.25)


def run_webrtc_bench(
    make_session: Callable[[], Any],
    peers: int = 1,
    seconds: float = 60.0,
    settle_s: float = 10.0,
    sample_every_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
    encoder_counts: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run ``peers`` pages against a fresh server for ``settle_s`` + ``seconds``; return the figures.

    ``encoder_counts``: a snapshot of the encoder's :class:`~realtime.fleet.meter.BatchCounts`,
    taken at the window's start and end for its mean batch size.
    """
    from realtime.webrtc import browser
    from realtime.webrtc.analysis import AnalyseEachPeer
    from realtime.webrtc.ice import include_loopback_candidates
    from realtime.webrtc.runner import ServerThread
    from realtime.webrtc.server import ServerConfig, SignallingServer

    reason = browser.missing()
    if reason is not None:
        raise UserError(f"bench --webrtc drives headless Chromium: {reason}")
    include_loopback_candidates()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="callshield-bench-") as tmp:
        camera = browser.sample_y4m(Path(tmp) / "camera.y4m")
        server = ServerThread(
            SignallingServer(ServerConfig(port=0, max_peers=peers), AnalyseEachPeer(make_session))
        )
        server.start()
        runs: list[PageRun] = []
        try:
            for _ in range(peers):
                driver = browser.launch(camera, window=(900, 700))
                runs.append(PageRun(driver))
                driver.get(server.url + "/")
                _wait(partial(_ready, driver), 20, "the page did not load")
                driver.find_element("id", "camera").click()
            for i, run in enumerate(runs):
                _wait(partial(_has_events, run.driver), 60, f"page {i + 1} got no events")
                run.peer_id = str(_summary(run.driver)["peer"])
            time.sleep(settle_s)
            rss: list[tuple[float, float, float]] = []  # (time, resident MB, anonymous MB)

            def take() -> None:
                for run in runs:
                    for latency, server_ms in run.driver.execute_script(
                        "return window.callshield.takeLatencies()"
                    ):
                        run.latencies_ms.append(float(latency))
                        run.server_ms.append(float(server_ms))
                    size = run.driver.execute_script("const m = window.callshield.last; return m && m.size")
                    if size:
                        key = f"{size[0]}x{size[1]}"
                        run.sizes[key] = run.sizes.get(key, 0) + 1
                rss.append((time.monotonic(), *memory_mb()))

            def counters(run: PageRun) -> tuple[int, int, int]:
                peer = server.server.peers.get(run.peer_id)
                if peer is None or peer.source is None:
                    raise UserError(f"webrtc bench: peer {run.peer_id} ended during the run")
                return (
                    int(_summary(run.driver)["messages"]),
                    int(peer.source.received),
                    int(peer.source.dropped),
                )

            gc.collect()  # before the window: its start is live memory, not garbage awaiting a collection
            live_start = memory_mb()[1]
            take()
            for run in runs:
                run.latencies_ms.clear()
                run.server_ms.clear()
                run.sizes.clear()
                run.messages_start, run.received_start, run.dropped_start = counters(run)
            encoder_start = encoder_counts() if encoder_counts is not None else None
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < seconds:
                time.sleep(min(sample_every_s, max(0.0, seconds - elapsed)))
                take()
                if progress is not None:
                    progress(min(1.0, (time.monotonic() - start) / seconds))
            duration = time.monotonic() - start
            for run in runs:
                run.messages_end, run.received_end, run.dropped_end = counters(run)
            encoder = None
            if encoder_counts is not None and encoder_start is not None:
                encoder = encoder_counts().since(encoder_start).summary()
            gc.collect()  # after the window, for the same reason
            live_end = memory_mb()[1]
        finally:
            for run in runs:
                with contextlib.suppress(Exception):  # a crashed browser is already gone
                    run.driver.quit()
            server.stop()
    figures = _figures(runs, rss, (live_start, live_end), duration, peers, seconds, settle_s, load_start)
    if encoder is not None:
        figures["encoder"] = encoder
    return figures


def _figures(
    runs: list[PageRun],
    rss: list[tuple[float, float, float]],
    live: tuple[float, float],
    duration: float,
    peers: int,
    seconds: float,
    settle_s: float,
    load_start: float,
) -> dict[str, Any]:
    per_peer: list[dict[str, Any]] = []
    for run in runs:
        lat = np.asarray(run.latencies_ms, np.float64)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if lat.size else (np.nan,) * 3
        held = np.asarray(run.server_ms, np.float64)
        s50, s95 = np.percentile(held, [50, 95]) if held.size else (np.nan,) * 2
        per_peer.append(
            {
                "latency_frames": int(lat.size),
                "latency_p50_ms": round(float(p50), 1),
                "latency_p95_ms": round(float(p95), 1),
                "latency_p99_ms": round(float(p99), 1),
                "server_p50_ms": round(float(s50), 1),
                "server_p95_ms": round(float(s95), 1),
                "received_fps": round((run.received_end - run.received_start) / duration, 1),
                "analysed_fps": round((run.messages_end - run.messages_start) / duration, 1),
                "dropped_frames": run.dropped_end - run.dropped_start,
                "frame_sizes": dict(run.sizes),  # what the server analysed, counted once a sample
            }
        )
    resident = np.asarray([r for _, r, _ in rss], np.float64)
    anon = np.asarray([a for _, _, a in rss], np.float64)
    first, last = live
    drift = round(100.0 * (last - first) / first, 2) if first > 0 else None
    memory: dict[str, Any] = {
        "samples": len(anon),
        "live_start_mb": round(first, 1),
        "live_end_mb": round(last, 1),
        "drift_pct": drift,
        "anon_min_mb": round(float(anon.min()), 1),
        "anon_max_mb": round(float(anon.max()), 1),
        "rss_min_mb": round(float(resident.min()), 1),
        "rss_max_mb": round(float(resident.max()), 1),
        # About 30 samples: seconds into the measured window, resident MB, anonymous MB.
        "series_mb": [
            [round(t - rss[0][0], 1), round(r, 1), round(a, 1)] for t, r, a in rss[:: max(1, len(rss) // 30)]
        ],
    }
    met = {
        "latency_p95_ms": all(p["latency_p95_ms"] <= TARGETS["latency_p95_ms"] for p in per_peer),
        "received_fps": all(p["received_fps"] >= TARGETS["received_fps"] for p in per_peer),
        "memory_drift_pct": drift is not None and abs(drift) <= TARGETS["memory_drift_pct"],
    }
    if peers >= 2:
        met["fps_each_of_two"] = all(p["analysed_fps"] >= TARGETS["fps_each_of_two"] for p in per_peer)
    return {
        "peers": peers,
        "seconds": round(duration, 1),
        "settle_s": settle_s,
        "camera": "Chromium fake camera, carphone 640x480 at 30 fps, VP8, loopback",
        "per_peer": per_peer,
        "memory": memory,
        "load_avg_1m_start": round(load_start, 2),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "targets": TARGETS,
        "met": met,
    }


def format_webrtc(summary: dict[str, Any]) -> str:
    lines = [
        f"WebRTC bench: {summary['peers']} Chromium page(s), {summary['camera']}, {summary['seconds']:.0f} s "
        f"measured after {summary['settle_s']:g} s"
    ]
    lines.append(
        f"{'peer':<6}{'lat p50':>9}{'p95':>8}{'p99':>8}{'frames':>8}"
        f"{'recv fps':>10}{'analysed':>10}{'dropped':>9}   server p50/p95"
    )
    for i, p in enumerate(summary["per_peer"], 1):
        lines.append(
            f"{i:<6}{p['latency_p50_ms']:>7.0f}ms{p['latency_p95_ms']:>6.0f}ms{p['latency_p99_ms']:>6.0f}ms"
            f"{p['latency_frames']:>8}{p['received_fps']:>10.1f}{p['analysed_fps']:>10.1f}{p['dropped_frames']:>9}"
            f"   {p['server_p50_ms']:.0f}/{p['server_p95_ms']:.0f} ms"
        )
    m = summary["memory"]
    lines.append(
        f"memory (this process): live {m['live_start_mb']:.0f} MB -> {m['live_end_mb']:.0f} MB "
        f"(drift {m['drift_pct']:+.1f}%); during the run anonymous "
        f"{m['anon_min_mb']:.0f}-{m['anon_max_mb']:.0f} MB, "
        f"resident {m['rss_min_mb']:.0f}-{m['rss_max_mb']:.0f} MB ({m['samples']} samples)"
    )
    if "encoder" in summary:
        e = summary["encoder"]
        lines.append(
            f"encoder ({summary.get('analysis', 'in-process')}): "
            f"mean batch {e['mean_batch']:.2f} crops per call, "
            f"{e['mean_requests_per_call']:.2f} frames' requests per call, {e['calls']} calls, "
            f"{e['busy_s']:.1f} s busy"
        )
    met = ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in summary["met"].items())
    lines.append(f"targets: {met}")
    machine = summary.get("machine", {})
    lines.append(
        f"machine: {machine.get('cpu', '?')}, {machine.get('usable_cores', '?')} usable cores, load "
        f"{summary['load_avg_1m_start']} at start, {summary['load_avg_1m_end']} at end"
    )
    return "\n".join(lines)
