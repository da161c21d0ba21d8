"""Shared fixtures for engine tests: a tiny real ONNX model written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engines.model_fixture import FixtureWeights, build_fixture_onnx


@pytest.fixture
def fixture_model(tmp_path: Path) -> tuple[Path, FixtureWeights]:
    path, _, weights = build_fixture_onnx(tmp_path / "fixture.onnx")
    return path, weights
