"""The WebRTC benchmark's arithmetic and its refusals (the Chromium run itself is in BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from realtime.cli import main
from realtime.webrtc.bench import PageRun, _figures, format_webrtc


def _run(latencies: list[float], received: int, messages: int) -> PageRun:
    run = PageRun(driver=None, peer_id="p", latencies_ms=latencies, server_ms=[10.0] * len(latencies))
    run.received_end, run.messages_end, run.dropped_end = received, messages, received - messages
    return run


def test_figures_per_peer_memory_drift_and_targets() -> None:
    fast = _run([40.0] * 90 + [400.0] * 10, received=300, messages=290)  # 10 s at ~30 fps
    slow = _run([100.0] * 100, received=300, messages=140)
    rss = [(float(t), 400.0, 300.0) for t in range(10)] + [(float(t), 380.0, 330.0) for t in range(10, 20)]
    out = _figures(
        [fast, slow], rss, (300.0, 330.0), duration=10.0, peers=2, seconds=10, settle_s=1, load_start=1.0
    )
    one, two = out["per_peer"]
    assert one["latency_p50_ms"] == 40.0 and one["latency_p99_ms"] > 300
    assert one["received_fps"] == 30.0 and one["analysed_fps"] == 29.0 and one["dropped_frames"] == 10
    assert two["analysed_fps"] == 14.0
    assert out["memory"]["drift_pct"] == 10.0  # live memory, start to end
    assert out["memory"]["anon_min_mb"] == 300.0 and out["memory"]["rss_max_mb"] == 400.0
    assert out["met"] == {
        "latency_p95_ms": False,  # peer one's p95 falls in its 400 ms tail
        "received_fps": True,
        "memory_drift_pct": False,
        "fps_each_of_two": False,  # peer two analysed 14 fps
    }
    table = format_webrtc({**out, "machine": {"cpu": "x", "usable_cores": 2}})
    assert "drift +10.0%" in table and "fps_each_of_two NOT met" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--peers", "0"], "--peers must be at least 1"),
        (["--seconds", "0"], "--seconds must be positive"),
        (["--faces", "4"], "--faces and --source are for the pipeline bench"),
    ],
)
def test_bad_webrtc_bench_arguments_give_one_error_line(argv: list[str], message: str, capfd) -> None:
    assert main(["bench", "--webrtc", *argv]) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
