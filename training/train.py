"""The training recipe: encoder stage (independent crops), optional head stage (windows), calibration.

Why two stages rather than end-to-end clips: on two CPU cores a clip of T=8 crops costs eight
encoder passes, and consecutive crops are nearly identical, so end-to-end clip batches buy little
diversity for a lot of compute. Stage 1 trains the per-frame encoder and its frame classifier on
crops drawn by :mod:`training.sampling` (every family of fakes, self-blends, reals paired with
their fakes' footage, compression levels hidden from the features by an adversary). Stage 2, for
heads with parameters of their own, freezes the encoder, encodes every training clip once and
trains the temporal head on windows of features. The shipped head (``mnv2_pool``) has none: it
averages the frame classifier's logits over the window.

Calibration (temperature) and the decision thresholds are fitted on train-split identities held out
from both stages, never on the val split. ``data.holdout_family`` leaves one family of fakes out of
everything, for the leave-one-family-out benchmark (:mod:`training.lofo`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from engines.artifact import ModelMeta, Thresholds
from realtime.atomic import atomic_path, write_json_atomic
from realtime.crop import CropSpec
from realtime.errors import UserError
from training.augment import COMPRESSION_LEVELS
from training.cache import CacheSpec, build_cache
from training.calibration import calibrate
from training.clips import (
    Clip,
    ClipGroups,
    footage_of,
    heldout_fakes,
    heldout_identities,
    identity_key,
    load_clips,
)
from training.config import DataConfig, TrainConfig, config_to_dict
from training.manifest import ManifestRow, read_manifest
from training.models import Detector, create_detector
from training.models.domain import DomainClassifier, dann_strength
from training.parallel import EncoderObjective, data_parallel
from training.sampling import sample_encoder_batch
from training.sbi import self_blend_clip


@dataclass
class Runtime:
    """Device, distributed rank and logging for one training process."""

    device: torch.device
    rank: int
    world: int
    writer: Any

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_runtime(cfg: TrainConfig, out_dir: Path) -> Runtime:
    """Pick the device; join a torchrun process group when launched by torchrun (several GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    want = cfg.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want.startswith("cuda") and world > 1:
        want = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    device = torch.device(want)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    writer = None
    if rank == 0:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out_dir / "tb"))
        except ImportError:
            writer = None
    return Runtime(device=device, rank=rank, world=world, writer=writer)


def seed_everything(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def to_tensor(crops: list[np.ndarray] | np.ndarray, device: torch.device, model: Detector) -> torch.Tensor:
    """uint8 RGB crops -> the normalised NCHW batch ``model``'s trunk expects."""
    arr = np.ascontiguousarray(np.stack(crops) if isinstance(crops, list) else crops)
    x = torch.from_numpy(arr).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(model.input_mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.input_std, device=device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def cosine_lr(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def autocast(rt: Runtime) -> Any:
    """bf16 autocast on GPU (AMP); a no-op context on CPU, where it would only slow things down."""
    if rt.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# --------------------------------------------------------------------------------------- data


def crop_spec(data: DataConfig) -> CropSpec:
    """The crop the model is trained on (and that its metadata tells the runtime to cut)."""
    return CropSpec(size=data.crop_size, scale=data.crop_scale)


def clean_cache_spec(data: DataConfig) -> CacheSpec:
    """The cache of unaltered crops every stage and the held-out scoring read."""
    return CacheSpec(crop=crop_spec(data), domain="clean", every=data.every, max_frames=data.max_frames)


def build_shared_cache(
    rows: list[ManifestRow], spec: CacheSpec, cache_dir: Path, rt: Runtime
) -> dict[str, Path]:
    """The crop cache, built by every rank of a torchrun job together.

    Each rank first decodes its own share of the videos, then takes the whole list, finding the
    other ranks' entries made (or making any still missing: cache writes are atomic with unique
    temp names, so two ranks writing one entry is only wasted work). No barrier, so a long first
    build cannot run into the process group's timeout."""
    if rt.world > 1:
        build_cache(rows[rt.rank :: rt.world], spec, cache_dir, progress=rt.main)
    return build_cache(rows, spec, cache_dir, progress=rt.main)


def fit_and_calibration_rows(cfg: TrainConfig) -> tuple[list[ManifestRow], list[ManifestRow]]:
    """Train-split rows to fit on, and held-out train-split rows (videos and photos) to calibrate on.

    Left out of both: with ``data.holdout_family`` or ``data.holdout_method_fold``, the benchmark
    fold's fakes and all the footage they were made of (:func:`footage_of`), which
    :mod:`training.lofo` scores. Left out of fitting: the identities :func:`heldout_identities`
    picks, the calibration videos. Multi-face fakes whose label does not hold for every face never
    train."""
    rows = [r for r in read_manifest(cfg.data.manifest) if r.split == "train"]
    held_fakes = heldout_fakes(rows, cfg.data)
    if held_fakes:
        held = {r.path for r in held_fakes}
        footage = footage_of(rows, held_fakes, cfg.data.identity_groups)
        rows = [
            r
            for r in rows
            if r.path not in held and identity_key(r.identity, cfg.data.identity_groups) not in footage
        ]
    heldout = heldout_identities(rows, cfg.data)
    excluded = set(cfg.data.exclude_multi_face_fakes)
    fit = [r for r in rows if r.identity not in heldout and not (r.label == "fake" and r.path in excluded)]
    calib = [r for r in rows if r.identity in heldout and r.path not in excluded]
    return fit, calib


def load_data(cfg: TrainConfig, rt: Runtime) -> tuple[ClipGroups, list[Clip]]:
    """Build (or reuse) the crop caches; the fitting clips by role, and the calibration clips (clean
    and through a sampled call codec, so thresholds hold for faces that went through a call)."""
    fit_rows, calib_rows = fit_and_calibration_rows(cfg)
    cache_dir = Path(cfg.data.cache_dir).expanduser()
    clean_spec = clean_cache_spec(cfg.data)
    call_spec = replace(
        clean_spec,
        domain="call",
        max_frames=cfg.data.call_max_frames,
        seed=cfg.seed,
        landmarks_for_real=False,
    )
    clean_entries = build_shared_cache(fit_rows + calib_rows, clean_spec, cache_dir, rt)
    call_entries = build_shared_cache([r for r in calib_rows if r.kind == "video"], call_spec, cache_dir, rt)
    groups = ClipGroups.build(load_clips(fit_rows, clean_entries, "clean"))
    calib = load_clips(calib_rows, clean_entries, "clean") + load_clips(calib_rows, call_entries, "call")
    return groups, calib


def freeze_trunk_blocks(model: Detector, n_blocks: int) -> None:
    """Keep the first ImageNet blocks fixed (and their BatchNorm statistics): low-level filters
    transfer as they are, and two CPU cores skip their backward pass."""
    features = getattr(model.trunk, "features", None)
    if features is None:
        return
    for block in list(features)[:n_blocks]:
        block.eval()
        for p in block.parameters():
            p.requires_grad_(False)


# ------------------------------------------------------------------------------------- stages


class Checkpointer:
    """``last.pt`` with everything needed to resume mid-stage; written atomically."""

    def __init__(self, out_dir: Path, cfg: TrainConfig, rt: Runtime) -> None:
        self.path = out_dir / "last.pt"
        self.cfg = cfg
        self.rt = rt

    def save(self, stage: str, step: int, model: nn.Module, extra: dict[str, Any]) -> None:
        if not self.rt.main:
            return
        state = {
            "stage": stage,
            "step": step,
            "model_state": model.state_dict(),
            "config": config_to_dict(self.cfg),
            **extra,
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)  # type: ignore[no-any-return]


STAGES = ("encoder", "head", "done")


def stage_done(resume: dict[str, Any] | None, stage: str) -> bool:
    return resume is not None and STAGES.index(resume["stage"]) > STAGES.index(stage)


def train_encoder(
    cfg: TrainConfig,
    rt: Runtime,
    model: Detector,
    groups: ClipGroups,
    rng: np.random.Generator,
    ckpt: Checkpointer,
    resume: dict[str, Any] | None,
) -> None:
    """Stage 1: the frame classifier's cross-entropy on :func:`sample_encoder_batch` batches, plus
    the compression adversary's loss when ``encoder.dann_weight`` > 0."""
    st = cfg.encoder
    # built only when used: its initialisation would otherwise move the torch RNG of every recipe
    domain = (
        DomainClassifier(model.feature_dim, COMPRESSION_LEVELS).to(rt.device) if st.dann_weight > 0 else None
    )
    freeze_trunk_blocks(model, st.freeze_blocks)
    params = [p for p in model.parameters() if p.requires_grad]
    if domain is not None:
        params += list(domain.parameters())
    opt = torch.optim.AdamW(params, lr=st.lr, weight_decay=st.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, st.steps, st.warmup))
    start = 0
    if resume is not None and resume["stage"] == "encoder":
        opt.load_state_dict(resume["opt_state"])
        sched.load_state_dict(resume["sched_state"])
        if domain is not None:
            domain.load_state_dict(resume["domain_state"])
        start = resume["step"]
        rng.bit_generator.state = resume["rng_state"]  # rank 0's stream: the checkpoint holds only it
        if rt.rank > 0:  # other ranks must keep drawing batches of their own
            rng.bit_generator.state = np.random.default_rng((cfg.seed, rt.rank, start)).bit_generator.state
    objective = data_parallel(EncoderObjective(model, domain), rt.world)
    model.train()
    freeze_trunk_blocks(model, st.freeze_blocks)
    bar = tqdm(
        range(start, st.steps), desc="stage 1: encoder", disable=not rt.main, initial=start, total=st.steps
    )
    for step in bar:
        batch = sample_encoder_batch(rng, groups, st)
        x = to_tensor(batch.crops, rt.device, model)
        y = torch.tensor(batch.labels, dtype=torch.float32, device=rt.device)
        with autocast(rt):
            out = objective(x, dann_strength(step / st.steps))
            frame_logit = out.frame_logit.float()
            cls_loss = F.binary_cross_entropy_with_logits(frame_logit, y)
            loss = cls_loss
            dom_loss = torch.zeros((), device=rt.device)
            if out.domain_logits is not None:
                levels = torch.tensor(batch.levels, device=rt.device)
                dom_loss = F.cross_entropy(out.domain_logits.float(), levels)
                loss = loss + st.dann_weight * dom_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        if rt.main:
            acc = ((frame_logit.detach() > 0).float() == y).float().mean().item()
            bar.set_postfix(loss=f"{cls_loss.item():.3f}", dom=f"{dom_loss.item():.3f}", acc=f"{acc:.2f}")
            if rt.writer is not None:
                for name, value in (
                    ("cls_loss", cls_loss.item()),
                    ("domain_loss", dom_loss.item()),
                    ("acc", acc),
                ):
                    rt.writer.add_scalar(f"encoder/{name}", value, step)
                rt.writer.add_scalar("encoder/lr", sched.get_last_lr()[0], step)
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < st.steps:
            extra = {
                "opt_state": opt.state_dict(),
                "sched_state": sched.state_dict(),
                "domain_state": domain.state_dict() if domain is not None else {},
                "rng_state": rng.bit_generator.state,
            }
            ckpt.save("encoder", step + 1, model, extra)


@torch.no_grad()
def encode_clip(
    model: Detector, crops: np.ndarray | list[np.ndarray], rt: Runtime, chunk: int = 64
) -> np.ndarray:
    model.eval()
    out = []
    for s in range(0, len(crops), chunk):
        with autocast(rt):
            out.append(model.encode(to_tensor(crops[s : s + chunk], rt.device, model)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.feature_dim), np.float32)


@dataclass
class FeatureClip:
    """One training clip encoded once: ``(N, D)`` features, its label and where it comes from
    (a family of fakes, ``sbi`` for a self-blended real clip, ``real``)."""

    feats: np.ndarray
    label: int
    kind: str


def featurise(
    cfg: TrainConfig, rt: Runtime, model: Detector, groups: ClipGroups, rng: np.random.Generator
) -> list[FeatureClip]:
    """Encode every training video once, plus a self-blended version of every real video with
    landmarks (parameters held for the clip, as a swapper keeps its settings)."""
    jobs = [(c, "real") for c in groups.video_reals]
    jobs += [(c, family) for family, clips in sorted(groups.fakes.items()) for c in clips]
    sbi = [c for c in groups.sbi_sources if c.row.kind == "video"]
    out: list[FeatureClip] = []
    for clip, kind in tqdm(jobs, desc="stage 2: encoding clips", disable=not rt.main):
        out.append(FeatureClip(encode_clip(model, clip.data.crops, rt), clip.label, kind))
    for clip in tqdm(sbi, desc="stage 2: encoding self-blends", disable=not rt.main):
        fakes, _ = self_blend_clip(
            list(clip.data.crops), [clip.mesh_at(i) for i in range(len(clip.data))], rng
        )
        out.append(FeatureClip(encode_clip(model, fakes, rt), 1, "sbi"))
    return out


def sample_windows(
    rng: np.random.Generator, clips: list[FeatureClip], batch: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Half real windows, half fake ones with every kind of fake equally often."""
    reals = [c for c in clips if c.label == 0]
    fakes: dict[str, list[FeatureClip]] = {}
    for c in clips:
        if c.label == 1:
            fakes.setdefault(c.kind, []).append(c)
    kinds = sorted(fakes)
    xs, ys = [], []
    for b in range(batch):
        pool = reals if b % 2 == 0 or not kinds else fakes[kinds[int(rng.integers(len(kinds)))]]
        clip = pool[int(rng.integers(len(pool)))]
        n = len(clip.feats)
        start = int(rng.integers(max(1, n - window + 1)))
        xs.append(clip.feats[np.minimum(np.arange(start, start + window), n - 1)])
        ys.append(clip.label)
    return np.stack(xs).astype(np.float32), np.array(ys, np.float32)


def train_head(
    cfg: TrainConfig, rt: Runtime, model: Detector, feats: list[FeatureClip], rng: np.random.Generator
) -> None:
    """Stage 2: the temporal head on windows of frozen features."""
    st = cfg.head
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.head.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, st.steps, 50))
    model.head.train()
    head = data_parallel(model.head, rt.world)  # Detector.score_window is this head's forward
    bar = tqdm(range(st.steps), desc="stage 2: head", disable=not rt.main)
    for step in bar:
        x, y = sample_windows(rng, feats, st.batch, cfg.model.window)
        xt = torch.from_numpy(x).to(rt.device)
        xt = xt + 0.05 * torch.randn_like(xt) * xt.std()
        loss = F.binary_cross_entropy_with_logits(head(xt), torch.from_numpy(y).to(rt.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if rt.main and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if rt.writer is not None:
                rt.writer.add_scalar("head/loss", loss.item(), step)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()


# -------------------------------------------------------------------------------- calibration


def window_logits(model: Detector, feats: np.ndarray, window: int, rt: Runtime) -> np.ndarray:
    """Logits of every full window of a clip's features (the runtime's sliding window)."""
    if len(feats) < window:
        feats = np.concatenate([feats, np.repeat(feats[-1:], window - len(feats), axis=0)])
    idx = np.arange(len(feats) - window + 1)[:, None] + np.arange(window)[None, :]
    with torch.no_grad():
        return model.score_window(torch.from_numpy(feats[idx].astype(np.float32)).to(rt.device)).cpu().numpy()


# ------------------------------------------------------------------------------------- driver


def make_meta(
    cfg: TrainConfig, model: Detector, temperature: float, thresholds: Thresholds, report: dict[str, Any]
) -> ModelMeta:
    held = f", without the {cfg.data.holdout_family} family" if cfg.data.holdout_family else ""
    if cfg.data.holdout_method_fold >= 0:
        held = f", without method fold {cfg.data.holdout_method_fold} of {cfg.data.method_folds}"
    return ModelMeta(
        model_version=cfg.model_version,
        crop=crop_spec(cfg.data),
        mean=model.input_mean,
        std=model.input_std,
        window=cfg.model.window,
        stride=cfg.data.every,
        feature_dim=cfg.model.feature_dim,
        temperature=temperature,
        thresholds=thresholds,
        arch={"name": cfg.model.name, "feature_dim": cfg.model.feature_dim},
        training_data=f"{cfg.data.manifest} split=train{held} (calibration on held-out train identities)",
        metrics={"calibration": report},
    )


def run_training(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train, calibrate and save ``out_dir/model.pt``; returns its path."""
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rt = setup_runtime(cfg, out_dir)
    rng = seed_everything(cfg.seed + rt.rank)
    t0 = time.time()
    groups, calib = load_data(cfg, rt)
    if rt.main:
        print(f"training clips: {groups.summary()}; calibration clips: {len(calib)}", flush=True)
    if not groups.video_reals:
        raise UserError(f"no real training videos with a face in {cfg.data.manifest} (split 'train')")
    if not (groups.fakes or (cfg.encoder.sbi_fraction > 0 and groups.sbi_sources)):
        raise UserError(
            f"no fake training material in {cfg.data.manifest}: no usable fakes and no self-blends asked for"
        )
    imagenet = str(Path(cfg.model.imagenet).expanduser()) if cfg.model.imagenet else None
    model = create_detector(cfg.model.name, feature_dim=cfg.model.feature_dim, imagenet=imagenet)
    model.to(rt.device)
    # channels_last is faster for the depthwise convolutions on CPU; Module.to accepts it at run time
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    ckpt = Checkpointer(out_dir, cfg, rt)
    state = ckpt.load() if resume else None
    if state is not None:
        model.load_state_dict(state["model_state"])
        if rt.main:
            print(f"resuming from {ckpt.path}: stage {state['stage']} step {state['step']}", flush=True)
    if not stage_done(state, "encoder"):
        train_encoder(cfg, rt, model, groups, rng, ckpt, state)
        ckpt.save("head", 0, model, {})
    if not stage_done(state, "head") and cfg.head.steps > 0:
        train_head(cfg, rt, model, featurise(cfg, rt, model, groups, rng), rng)
    model.eval()

    def logits_of(clip: Clip) -> np.ndarray:
        return window_logits(model, encode_clip(model, clip.data.crops, rt), cfg.model.window, rt)

    temperature, thresholds, report = calibrate(logits_of, calib, cfg.target_fpr)
    report["train_seconds"] = round(time.time() - t0, 1)
    meta = make_meta(cfg, model, temperature, thresholds, report)
    final = out_dir / "model.pt"
    if rt.main:
        from engines.export import save_checkpoint

        save_checkpoint(final, model, config_to_dict(cfg), meta)
        ckpt.save("done", 0, model, {})
        write_json_atomic(report, out_dir / "calibration.json")
        print(
            f"saved {final} (temperature {temperature:.2f}, thresholds real<={thresholds.real:.2f} "
            f"fake>={thresholds.fake:.2f}) in {report['train_seconds']:.0f} s",
            flush=True,
        )
    if rt.writer is not None:
        rt.writer.close()
    if rt.world > 1 and torch.distributed.is_initialized():
        torch.distributed.barrier()  # rank 0 has written the model before any rank leaves
        torch.distributed.destroy_process_group()
    return final
