"""Training config: YAML + dotted overrides, with one clear error for a wrong key."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.errors import UserError
from training.config import config_from_dict, config_to_dict, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "training" / "configs" / "callshield_v3.yaml"


def test_shipped_config_loads() -> None:
    cfg = load_config(SHIPPED)
    assert cfg.model.name == "mnv2_pool"
    assert cfg.model.window == 8
    # the plain recipe: fakes and reals drawn independently, no per-crop degradations
    assert cfg.encoder.twin_prob == 0.0 and cfg.encoder.augment == 0.0
    assert cfg.model_version == "callshield-v3"


def test_overrides_are_typed(tmp_path: Path) -> None:
    cfg = load_config(
        SHIPPED, ["encoder.steps=7", "encoder.lr=0.5", "out_dir=x", "data.exclude_multi_face_fakes=a,b"]
    )
    assert cfg.encoder.steps == 7 and isinstance(cfg.encoder.steps, int)
    assert cfg.encoder.lr == 0.5
    assert cfg.out_dir == "x"
    assert cfg.data.exclude_multi_face_fakes == ["a", "b"]


@pytest.mark.parametrize("override", ["encoder.nope=1", "nope=1", "encoder"])
def test_bad_override_is_a_user_error(override: str) -> None:
    with pytest.raises(UserError):
        load_config(SHIPPED, [override])


def test_unknown_yaml_key_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("encoder:\n  stepz: 3\n")
    with pytest.raises(UserError, match="encoder.stepz"):
        load_config(bad)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_config_round_trips_through_a_checkpoint_dict() -> None:
    cfg = load_config(SHIPPED, ["data.calib_folds=3", "encoder.steps=9"])
    again = config_from_dict(config_to_dict(cfg))
    assert again == cfg
