"""Where the tests find the team's research footage, and the skip for checkouts without it.

/work/shared/data sits beside the repository (``<repo>/../shared/data``) and is never copied into
it; tests that read it are marked ``@pytest.mark.shared_data`` and ``@needs_shared``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "manifest.csv").is_file(), reason=f"shared data not found at {SHARED_DATA}"
)
