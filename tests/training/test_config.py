"""Training config: YAML + dotted overrides, with one clear error for a wrong key."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.errors import UserError
from training.config import config_from_dict, config_to_dict, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "training" / "configs" / "callshield_v5.yaml"


def test_shipped_config_loads() -> None:
    cfg = load_config(SHIPPED)
    assert cfg.model.name == "mnv2_pool"
    assert cfg.model.window == 8
    assert cfg.model_version == "callshield-v5"
    assert cfg.data.holdout_family == ""  # the shipped model trains on every family


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["encoder.compress=0", "encoder.dann_weight=0.5"], "every crop has the same level"),
        (["encoder.sbi_fraction=1.5"], "encoder.sbi_fraction' must be a number from 0 to 1"),
        (["encoder.augment=1.5"], "encoder.augment"),
        (["encoder.source_pairing=-0.1"], "encoder.source_pairing"),
        (["encoder.dann_weight=-1"], "encoder.dann_weight"),
        (["data.holdout_family=cartoons"], "data.holdout_family must be one of live_swap"),
        (["model.window=0"], "model.window"),
        (["encoder.batch=0"], "encoder.batch"),
        (["encoder.lr=0"], "encoder.lr"),
        (["data.calib_folds=3", "data.calib_fold=3"], "calib_fold must be from 0 to 2"),
        (["encoder.steps=many"], "encoder.steps must be a whole number"),
    ],
)
def test_settings_that_would_not_train_what_they_say_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_config(SHIPPED, overrides)


def test_a_yaml_value_of_the_wrong_type_is_refused_before_training(tmp_path: Path) -> None:
    # PyYAML reads 3e-4 (no dot in the mantissa) as the string "3e-4"
    bad = tmp_path / "c.yaml"
    bad.write_text("encoder:\n  lr: 3e-4\n")
    with pytest.raises(UserError, match="encoder.lr"):
        load_config(bad)


def test_the_compression_adversary_with_compressed_crops_is_accepted() -> None:
    cfg = load_config(
        SHIPPED, ["encoder.compress=0.5", "encoder.dann_weight=0.3", "data.holdout_family=lip_sync"]
    )
    assert cfg.encoder.dann_weight == 0.3 and cfg.data.holdout_family == "lip_sync"
