"""Training configuration: a YAML file plus ``key=value`` overrides from the command line."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from realtime.errors import UserError
from training.families import FAMILIES


@dataclass
class DataConfig:
    manifest: str = "../shared/data/manifest.csv"
    cache_dir: str = "~/.cache/callshield/crops"
    crop_size: int = 128
    crop_scale: float = 1.1
    every: int = 2  # keep every 2nd frame: the window's stride in frames
    max_frames: int = 300
    call_max_frames: int = 200  # frames of each calibration clip passed through a sampled call codec
    calib_fraction: float = 0.15  # train identities held out for calibration and thresholds
    # cross-validation on train identities: with calib_folds = K > 1, fold calib_fold of K (identity
    # groups dealt per source) is held out instead of the calib_fraction draw
    calib_folds: int = 0
    calib_fold: int = 0
    # leave-one-family-out (training.lofo): this family's fakes (training.families) are left out of
    # training and calibration; empty: every family trains
    holdout_family: str = ""
    # leave-one-method-out (training.lofo): the fakes of the method units (training.families.method_of)
    # dealt to fold holdout_method_fold of method_folds, and their footage, are left out; -1: none
    holdout_method_fold: int = -1
    method_folds: int = 3
    exclude_multi_face_fakes: list[str] = field(default_factory=list)
    identity_groups: list[list[str]] = field(default_factory=list)  # identities sharing footage


@dataclass
class ModelConfig:
    name: str = "mnv2_pool"
    feature_dim: int = 128
    window: int = 8
    imagenet: str = ""  # path to torchvision MobileNetV2 ImageNet weights (.pth); empty: random init


@dataclass
class EncoderStage:
    steps: int = 300
    batch: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.05
    warmup: int = 30
    freeze_blocks: int = 0  # MobileNetV2 feature blocks kept at their ImageNet weights
    sbi_fraction: float = 0.0  # share of the fakes that are self-blended pseudo-fakes of real crops
    # chance that a real crop is drawn from the same footage source as the fake before it, so that
    # "which dataset does this look like" cannot separate real from fake (training.sampling)
    source_pairing: float = 0.0
    augment: float = 0.0  # strength of the per-crop call-like degradations (training.augment)
    # chance that a crop goes through a c23- or c40-like compression round trip, real and fake alike
    compress: float = 0.0
    # > 0: a gradient-reversed classifier of each crop's compression level (none, c23, c40), so the
    # features cannot read it (adversarial domain adaptation, training.models.domain)
    dann_weight: float = 0.0


@dataclass
class HeadStage:
    steps: int = 0  # 0 for heads without parameters of their own (mnv2_pool)
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05


@dataclass
class TrainConfig:
    seed: int = 0
    out_dir: str = "runs/callshield"
    device: str = "auto"
    threads: int = 0  # 0: torch default
    checkpoint_every: int = 200
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    encoder: EncoderStage = field(default_factory=EncoderStage)
    head: HeadStage = field(default_factory=HeadStage)
    target_fpr: float = 0.03  # the fake threshold is set for this FPR on held-out real clips
    model_version: str = "callshield"


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, list):
        return [v for v in value.split(",") if v]
    return value


def _apply(obj: Any, data: dict[str, Any], where: str) -> None:
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        if key not in names:
            raise UserError(f"unknown config key '{where}{key}' (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UserError(f"config key '{where}{key}' must be a mapping")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, value)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (relative paths in it are relative to the current folder) and apply overrides."""
    cfg = TrainConfig()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"config file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"{p} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise UserError(f"{p} must hold a mapping of config keys")
        _apply(cfg, data, "")
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"override '{item}' must look like key.sub=value")
        dotted, value = item.split("=", 1)
        *parents, leaf = dotted.split(".")
        obj: Any = cfg
        for part in parents:
            if not hasattr(obj, part):
                raise UserError(f"unknown config key '{dotted}'")
            obj = getattr(obj, part)
        if not dataclasses.is_dataclass(obj) or not hasattr(obj, leaf):
            raise UserError(f"unknown config key '{dotted}'")
        try:
            setattr(obj, leaf, _coerce(value, getattr(obj, leaf)))
        except ValueError:
            kind = "a whole number" if isinstance(getattr(obj, leaf), int) else "a number"
            raise UserError(f"override '{item}': {dotted} must be {kind}") from None
    validate_config(cfg)
    return cfg


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# (dotted keys, test, what the test asks for): the range every value of those keys must be in
_RANGES: tuple[tuple[tuple[str, ...], Callable[[Any], bool], str], ...] = (
    (
        (
            "data.calib_fraction",
            "encoder.sbi_fraction",
            "encoder.source_pairing",
            "encoder.augment",
            "encoder.compress",
            "target_fpr",
        ),
        lambda v: _is_number(v) and 0.0 <= v <= 1.0,
        "a number from 0 to 1",
    ),
    (
        (
            "data.crop_size",
            "data.every",
            "data.max_frames",
            "model.window",
            "model.feature_dim",
            "encoder.batch",
            "head.batch",
        ),
        lambda v: _is_whole(v) and v >= 1,
        "a whole number of at least 1",
    ),
    # PyYAML reads 3e-4 (no dot) as a string: say so here, not as a TypeError inside AdamW
    (("encoder.lr", "head.lr"), lambda v: _is_number(v) and v > 0, "a number above 0"),
    (("encoder.steps", "head.steps"), lambda v: _is_whole(v) and v >= 0, "a whole number of at least 0"),
    (("encoder.dann_weight",), lambda v: _is_number(v) and v >= 0, "a number of at least 0"),
)


def validate_config(cfg: TrainConfig) -> None:
    """Refuse settings that would train something other than what they say, before any work starts.

    Why: a value of the wrong type fails deep inside training after the crop cache is built, and
    some combinations are silent no-ops (a compression adversary with no compressed crops), so a
    run would report a recipe it never trained."""
    for keys, in_range, wanted in _RANGES:
        for dotted in keys:
            value: Any = cfg
            for part in dotted.split("."):
                value = getattr(value, part)
            if not in_range(value):
                raise UserError(f"config key '{dotted}' must be {wanted}, not {value!r}")
    if cfg.encoder.dann_weight > 0 and cfg.encoder.compress == 0:
        raise UserError(
            "encoder.dann_weight hides the compression level of crops, and with encoder.compress 0 every "
            "crop has the same level: set encoder.compress above 0, or dann_weight to 0"
        )
    family = cfg.data.holdout_family
    if family and family not in FAMILIES:
        raise UserError(
            f"data.holdout_family must be one of {', '.join(FAMILIES)} (or empty), not {family!r}"
        )
    if family and cfg.data.holdout_method_fold >= 0:
        raise UserError("data.holdout_family and data.holdout_method_fold are two benchmarks: set one")
    if not -1 <= cfg.data.holdout_method_fold < max(cfg.data.method_folds, 1):
        raise UserError(
            f"data.holdout_method_fold must be from -1 to {cfg.data.method_folds - 1}, "
            f"not {cfg.data.holdout_method_fold}"
        )
    folds = cfg.data.calib_folds
    if folds > 1 and not 0 <= cfg.data.calib_fold < folds:
        raise UserError(f"data.calib_fold must be from 0 to {folds - 1} with data.calib_folds={folds}")


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """The config a checkpoint was trained with (``config_to_dict``'s inverse)."""
    cfg = TrainConfig()
    _apply(cfg, data, "")
    return cfg


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
