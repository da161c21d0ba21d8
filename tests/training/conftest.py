"""Fixtures the training tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.tiny import make_tiny_manifest


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny manifest (tests/training/tiny.py), built once per session."""
    return make_tiny_manifest(tmp_path_factory.mktemp("tinydata"))
