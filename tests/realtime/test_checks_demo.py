"""``callshield checks`` and ``callshield demo`` through the real CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engines.artifact import default_model_path
from realtime.cli import main


def test_checks_reports_what_really_runs(capfd, plumbing_model: Path) -> None:
    code = main(["checks", "--model", str(plumbing_model), "--no-camera"])
    out = capfd.readouterr().out
    assert code == 0, out
    lines = {
        line.split()[1]: line
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("ok", "MISSING", "absent")
    }
    assert "a session really runs on CPUExecutionProvider" in out
    assert "plumbing-fixture" in lines["model"] and lines["model"].startswith("ok")
    assert "found 1 face on the carphone sample frame" in out
    assert "camera" not in lines  # --no-camera: the camera is left alone
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        assert lines["screen"].startswith("absent") and "fix: needs a desktop session" in out
    if not any(Path("/dev").glob("video*")):
        assert lines["virtual"].startswith("absent") and "v4l2loopback" in lines["virtual"]
        assert "modprobe v4l2loopback" in out
    assert out.rstrip().endswith("everything needed to scan and monitor works here")


def test_checks_fails_and_says_how_to_fix_a_missing_model(capfd, tmp_path: Path) -> None:
    code = main(["checks", "--model", str(tmp_path / "missing.onnx"), "--no-camera"])
    captured = capfd.readouterr()
    assert code == 1
    assert any(line.startswith("MISSING  model") for line in captured.out.splitlines())
    assert "fix: pass a CallShield .onnx model" in captured.out
    assert "1 required piece(s) missing" in captured.err


def _needs_manipulate() -> None:
    if importlib.util.find_spec("training.manipulate") is None:
        pytest.skip("training.manipulate (the demo's clip maker) is not in this checkout")


def _run_demo(model: Path | None, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = ["demo", "--out", str(out), *extra] + ([] if model is None else ["--model", str(model)])
    script = textwrap.dedent(
        f"""
        import sys
        from realtime.cli import main
        code = main({argv!r})
        if "torch" in sys.modules:
            print("torch was imported", file=sys.stderr)
            code = 99
        sys.exit(code)
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_demo_plumbing_is_torch_free_and_writes_both_plots(tmp_path: Path, plumbing_model: Path) -> None:
    """Plumbing only: with the brightness-probe fixture the verdicts mean nothing."""
    _needs_manipulate()
    done = _run_demo(plumbing_model, tmp_path / "demo", "--max-frames", "30")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("real clip:") and "carphone_pristine.mp4: " in lines[0]
    assert lines[1].startswith("manipulated clip:") and "carphone_self_blended.mp4: " in lines[1]
    assert all(", 30 frames" in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "carphone_pristine.png",
        "carphone_self_blended.png",
    ]


def _score(line: str) -> float:
    return float(line.split("(score ")[1].split(",")[0])


def test_demo_with_the_shipped_model_tells_real_from_manipulated(tmp_path: Path) -> None:
    if not default_model_path().is_file():
        pytest.skip(f"the shipped model {default_model_path()} is not built yet (training produces it)")
    _needs_manipulate()
    done = _run_demo(None, tmp_path / "demo")
    assert done.returncode == 0, done.stderr
    real, manipulated = done.stdout.splitlines()
    # the target (issue "Core runtime"): a real clip the model never saw is never called fake;
    # abstaining ("uncertain") is allowed, a false alarm is not
    verdict = real.split("carphone_pristine.mp4: ")[1].split()[0]
    assert verdict in ("real", "uncertain"), real
    # the shipped model is trained on live swaps, not on self-blends: it need not call this one
    # fake, but it must rank it above the real clip and not clear it as real
    manipulated_verdict = manipulated.split("carphone_self_blended.mp4: ")[1].split()[0]
    assert manipulated_verdict in ("fake", "uncertain"), manipulated
    assert _score(manipulated) > _score(real) + 0.1, (real, manipulated)


def test_demo_without_a_model_is_one_error_line(capfd, tmp_path: Path) -> None:
    code = main(["demo", "--model", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "out")])
    err = capfd.readouterr().err
    assert code == 2 and err.count("error:") == 1 and "model file not found" in err
    assert not (tmp_path / "out").exists()
