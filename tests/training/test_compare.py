"""Recipes side by side: the table and the learning-curve plot come from the runs' own reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.compare import main


def _run(folder: Path, overrides: list[str], mean: float) -> Path:
    folder.mkdir(parents=True)
    summary = {
        "lomo_mean": mean,
        "lomo_worst": mean - 0.3,
        "lomo_shift_mean": {"heavy": mean - 0.1, "call": mean - 0.05},
        "method_family_mean": {"live_swap": mean + 0.1},
    }
    (folder / "lofo.json").write_text(json.dumps({"overrides": overrides, "summary": summary}))
    return folder


def test_one_row_per_run_and_a_curve_over_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = _run(tmp_path / "B", [], 0.61)
    long = _run(tmp_path / "B_1000", ["encoder.steps=1000"], 0.66)
    plot = tmp_path / "curve.png"
    assert main([str(short), str(long), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "| B | `(config as is)` | 0.560 | 0.610 | 0.310 | 0.510 | 0.560 | — | 0.710 |" in out
    assert "| B_1000 | `encoder.steps=1000` | 0.610 | 0.660 |" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_without_a_report_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no lofo.json" in err[0]
