"""The training recipe: encoder stage (frames, with DANN), head stage (windows of features), calibration.

Why two stages rather than end-to-end clips: on two CPU cores a clip of T=8 crops costs eight
encoder passes, and consecutive crops are nearly identical, so end-to-end clip batches buy little
diversity for a lot of compute. Stage 1 trains the per-frame encoder on independent crops (real
faces, live face swaps, self-blended pseudo-fakes), with a gradient-reversal domain classifier
pulling clean and call-degraded features together. Stage 2 freezes the encoder, encodes every cached
clip once, and trains the temporal head on windows of features, which is fast enough to see every
window many times. ``altfreeze.rounds`` > 0 then alternates end-to-end clip training with the head
frozen and head training with the encoder frozen (AltFreezing, Wang et al. CVPR 2023).

Calibration (temperature) and the decision thresholds are fitted on train-split identities held out
from both stages, never on the val split.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from engines.artifact import ModelMeta, Thresholds
from realtime.atomic import atomic_path, write_json_atomic
from realtime.crop import CropSpec
from realtime.errors import UserError
from training.augment import augment_crop, augment_window
from training.cache import CacheSpec, build_cache
from training.clips import Clip, ClipGroups, heldout_identities, load_clips, pick
from training.config import DataConfig, EncoderStage, TrainConfig, config_to_dict
from training.manifest import ManifestRow, read_manifest
from training.metrics import sigmoid
from training.models import Detector, create_detector
from training.models.domain import DomainClassifier, IdentityAdversary, dann_strength
from training.parallel import EncoderObjective, data_parallel
from training.render import load_autoencoder, reconstruct, rendered_fake, save_autoencoder, train_autoencoder
from training.sbi import sample_params, self_blend, self_blend_clip
from training.swapregion import cell_targets, face_region
from training.transplant import transplant_pair


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


def load_data(cfg: TrainConfig, rt: Runtime) -> tuple[ClipGroups, list[Clip], list[Clip]]:
    """Build (or reuse) the crop caches and split train rows into fit / calibration identities."""
    rows = read_manifest(cfg.data.manifest)
    train_rows = [r for r in rows if r.split == "train"]
    excluded = set(cfg.data.exclude_multi_face_fakes)
    cache_dir = Path(cfg.data.cache_dir).expanduser()
    clean_spec = clean_cache_spec(cfg.data)
    call_spec = replace(
        clean_spec,
        domain="call",
        max_frames=cfg.data.call_max_frames,
        seed=cfg.seed,
        landmarks_for_real=False,
    )
    clean_entries = build_shared_cache(train_rows, clean_spec, cache_dir, rt)
    video_rows = [r for r in train_rows if r.kind == "video"]
    call_entries = build_shared_cache(video_rows, call_spec, cache_dir, rt)

    heldout = heldout_identities(train_rows, cfg.data)

    def is_calib(row: ManifestRow) -> bool:
        return row.identity in heldout

    fit_rows = [r for r in train_rows if not is_calib(r) and not (r.label == "fake" and r.path in excluded)]
    calib_rows = [r for r in train_rows if is_calib(r) and r.kind == "video"]
    groups = ClipGroups.build(
        load_clips(fit_rows, clean_entries, "clean"),
        load_clips([r for r in fit_rows if r.kind == "video"], call_entries, "call"),
    )
    calib = load_clips(calib_rows, clean_entries, "clean") + load_clips(calib_rows, call_entries, "call")
    pair_reals = load_clips([r for r in fit_rows if r.pair_id and r.label == "real"], clean_entries, "clean")
    return groups, calib, pair_reals


def sample_sbi_crop(rng: np.random.Generator, groups: ClipGroups) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended pseudo-fake and its blend mask (where it is fake)."""
    clip = pick(rng, groups.sbi_sources)
    i = int(rng.integers(len(clip.data)))
    return self_blend(clip.data.crops[i], clip.mesh_at(i), sample_params(rng, clip.data.crops.shape[1]))


def sample_transplant(
    rng: np.random.Generator, groups: ClipGroups, swap: np.ndarray, twin: np.ndarray, twin_clip: Clip
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A swap and its real twin pasted into a random frame of another real stream with landmarks,
    and the paste mask (None when there is no other stream and the pair is returned as it is)."""
    hosts = [c for c in groups.sbi_sources if c.row.path != twin_clip.row.path]
    if not hosts:
        return swap, twin, None
    host = pick(rng, hosts)
    k = int(rng.integers(len(host.data)))
    return transplant_pair(swap, twin, host.data.crops[k], host.mesh_at(k), rng)


class FrameBatch(NamedTuple):
    """One encoder batch: crops, labels (1 = fake), each real footage fake's manifest identity (its
    face model; "" otherwise) and where each crop is fake (``(S, S)`` float32; all zeros for real
    crops, None where a fake has no landmarks to say)."""

    crops: list[np.ndarray]
    labels: list[int]
    identities: list[str]
    regions: list[np.ndarray | None]


def sample_frame_batch(
    rng: np.random.Generator,
    groups: ClipGroups,
    pairs: dict[str, Clip],
    batch: int,
    sbi_fraction: float,
    twin_prob: float = 0.5,
    transplant_prob: float = 0.0,
    extra_stills: int = 0,
    render_fraction: float = 0.0,
) -> FrameBatch:
    """Half real, half fake crops. A live-swap fake often brings its own real twin (same frame of
    the same stream), so the encoder must learn the swap rather than the scene; with
    ``transplant_prob`` the pair is pasted into a third, real stream (training.transplant).

    ``extra_stills`` real photos are appended beyond ``batch``: every training fake wears a
    polished celebrity face model while the twins show ordinary people, and LFW's real public
    figures take away "looks like a film star" as evidence of a swap (MODEL_CARD.md).

    ``render_fraction`` of the fakes are decoder-rendered pseudo-fakes (training.render) of the
    real clips in ``groups.renders``."""
    out = FrameBatch([], [], [], [])

    def add(crop: np.ndarray, label: int, identity: str, region: np.ndarray | None) -> None:
        out.crops.append(crop)
        out.labels.append(label)
        out.identities.append(identity)
        out.regions.append(region if label else np.zeros(crop.shape[:2], np.float32))

    shares = {
        "sbi": sbi_fraction,
        "render": render_fraction,
        "other": 0.1,
        "live": max(0.0, 0.9 - sbi_fraction - render_fraction),
    }
    rendered = [c for c in groups.sbi_sources if c.row.path in groups.renders]
    available = {
        "sbi": groups.sbi_sources,
        "render": rendered,
        "other": groups.other_fakes,
        "live": groups.live_fakes,
    }
    kinds = [k for k in shares if available[k] and shares[k] > 0]
    weights = np.array([shares[k] for k in kinds])
    n_fake = batch // 2
    while kinds and sum(out.labels) < n_fake:
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        if kind == "sbi":
            fake, blend = sample_sbi_crop(rng, groups)
            add(fake, 1, "", blend)
            continue
        if kind == "render":
            clip = pick(rng, rendered)
            i = int(rng.integers(len(clip.data)))
            rendering = groups.renders[clip.row.path][i]
            fake, rendered_region = rendered_fake(clip.data.crops[i], rendering, clip.mesh_at(i), rng)
            add(fake, 1, "", rendered_region)
            continue
        clip = pick(rng, available[kind])
        i = int(rng.integers(len(clip.data)))
        add(clip.data.crops[i], 1, clip.row.identity, face_region(clip.mesh_at(i), clip.data.crops.shape[1]))
        twin = pairs.get(clip.row.pair_id) if kind == "live" else None
        if twin is not None and rng.random() < twin_prob and len(out.crops) < batch:
            j = int(np.searchsorted(twin.data.frame_index, clip.data.frame_index[i]))
            add(twin.data.crops[min(j, len(twin.data) - 1)], 0, "", None)
            # drawn only when enabled, so recipes without transplants keep their random stream
            if transplant_prob > 0 and rng.random() < transplant_prob:
                swap_in_host, twin_in_host, mask = sample_transplant(
                    rng, groups, out.crops[-2], out.crops[-1], twin
                )
                out.crops[-2], out.crops[-1] = swap_in_host, twin_in_host
                if mask is not None:
                    out.regions[-2] = mask
    while len(out.crops) < batch:
        source = groups.still_reals if (rng.random() < 0.25 and groups.still_reals) else groups.video_reals
        clip = pick(rng, source)
        add(clip.data.crops[int(rng.integers(len(clip.data)))], 0, "", None)
    for _ in range(extra_stills if groups.still_reals else 0):
        clip = pick(rng, groups.still_reals)
        add(clip.data.crops[int(rng.integers(len(clip.data)))], 0, "", None)
    return out


def region_loss(
    cell_logits: torch.Tensor, regions: list[np.ndarray | None], flips: list[bool]
) -> torch.Tensor:
    """Binary cross-entropy of each crop's ``(h, w)`` cell logits against the share of the cell
    its fake region covers (0 everywhere on real crops); crops whose region is unknown sit out."""
    grid = (cell_logits.shape[-1], cell_logits.shape[-2])
    known = [(k, region) for k, region in enumerate(regions) if region is not None]
    if not known:
        return cell_logits.sum() * 0.0
    shares = [cell_targets(region[:, ::-1] if flips[k] else region, grid) for k, region in known]
    target = torch.from_numpy(np.stack(shares)).to(cell_logits.device)
    rows = [k for k, _ in known]
    return F.binary_cross_entropy_with_logits(cell_logits[rows], target)


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


STAGES = ("encoder", "head", "altfreeze", "done")


def stage_done(resume: dict[str, Any] | None, stage: str) -> bool:
    return resume is not None and STAGES.index(resume["stage"]) > STAGES.index(stage)


def draw_encoder_batch(
    rng: np.random.Generator, groups: ClipGroups, pairs: dict[str, Clip], st: EncoderStage
) -> tuple[FrameBatch, list[np.ndarray], list[bool]]:
    """One encoder-stage batch as the network sees it: the drawn crops, each degraded
    (``st.augment``) and then mirrored with probability 1/2; the flips are returned because the
    per-cell loss must mirror its swap regions the same way."""
    batch = sample_frame_batch(
        rng,
        groups,
        pairs,
        st.batch,
        st.sbi_fraction,
        st.twin_prob,
        st.transplant_prob,
        st.extra_stills,
        st.render_fraction,
    )
    crops = [augment_crop(c, rng, st.augment) for c in batch.crops]
    flips = [rng.random() < 0.5 for _ in crops]
    crops = [c[:, ::-1] if flip else c for c, flip in zip(crops, flips, strict=True)]
    return batch, crops, flips


def probe_linear_head(
    cfg: TrainConfig,
    rt: Runtime,
    model: Detector,
    groups: ClipGroups,
    pairs: dict[str, Clip],
    rng: np.random.Generator,
) -> None:
    """Linear probing before fine-tuning (LP-FT, Kumar et al., ICLR 2022): train the projection and
    frame classifier on the frozen ImageNet trunk first, then fine-tune everything.

    Why: fine-tuning with a freshly initialised head sends large, arbitrary gradients into the
    pretrained trunk in the first steps, and the trunk then bends towards whatever separates the
    training set fastest (here, the look of a dozen face models); starting from a head that already
    fits the frozen features distorts them less, which is what made LP-FT generalise better out of
    distribution than plain fine-tuning. The trunk runs in eval mode without a gradient, so a probe
    step costs about a third of a fine-tuning step. Under torchrun every rank probes and the
    data-parallel wrapper built afterwards gives all of them rank 0's result."""
    st = cfg.encoder
    head_params = [*model.project.parameters(), *model.frame_classifier.parameters()]
    opt = torch.optim.AdamW(head_params, lr=st.probe_lr, weight_decay=st.weight_decay)
    model.trunk.eval()
    model.project.train()
    bar = tqdm(range(st.probe_steps), desc="stage 1: linear probe", disable=not rt.main)
    for _ in bar:
        batch, crops, _ = draw_encoder_batch(rng, groups, pairs, st)
        x = to_tensor(crops, rt.device, model)
        y = torch.tensor(batch.labels, dtype=torch.float32, device=rt.device)
        with torch.no_grad(), autocast(rt):
            pooled = model.trunk(x).mean(dim=(2, 3)).float()
        logit = model.frame_classifier(model.project(pooled)).squeeze(-1)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if rt.main:
            acc = ((logit.detach() > 0).float() == y).float().mean().item()
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.2f}")


def train_encoder(
    cfg: TrainConfig,
    rt: Runtime,
    model: Detector,
    domain: DomainClassifier,
    groups: ClipGroups,
    pairs: dict[str, Clip],
    rng: np.random.Generator,
    ckpt: Checkpointer,
    resume: dict[str, Any] | None,
) -> None:
    st = cfg.encoder
    if st.probe_steps > 0 and (resume is None or resume["stage"] != "encoder"):
        probe_linear_head(cfg, rt, model, groups, pairs, rng)
    freeze_trunk_blocks(model, st.freeze_blocks)
    fake_ids = sorted({c.row.identity for c in groups.live_fakes + groups.other_fakes})
    id_index = {name: k for k, name in enumerate(fake_ids)}
    # built only when used: its initialisation would otherwise move the torch RNG of every recipe
    adversary = (
        IdentityAdversary(model.feature_dim, len(fake_ids)).to(rt.device)
        if st.identity_adv_weight > 0 and len(fake_ids) > 1
        else None
    )
    params = [p for p in model.parameters() if p.requires_grad] + list(domain.parameters())
    if adversary is not None:
        params += list(adversary.parameters())
    opt = torch.optim.AdamW(params, lr=st.lr, weight_decay=st.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, st.steps, st.warmup))
    start = 0
    if resume is not None and resume["stage"] == "encoder":
        opt.load_state_dict(resume["opt_state"])
        sched.load_state_dict(resume["sched_state"])
        domain.load_state_dict(resume["domain_state"])
        if adversary is not None and "identity_state" in resume:
            adversary.load_state_dict(resume["identity_state"])
        start = resume["step"]
        rng.bit_generator.state = resume["rng_state"]  # rank 0's stream: the checkpoint holds only it
        if rt.rank > 0:  # other ranks must keep drawing batches of their own
            rng.bit_generator.state = np.random.default_rng((cfg.seed, rt.rank, start)).bit_generator.state
    objective = data_parallel(EncoderObjective(model, domain, adversary), rt.world)
    model.train()
    freeze_trunk_blocks(model, st.freeze_blocks)
    domain.train()
    if adversary is not None:
        adversary.train()
    bar = tqdm(
        range(start, st.steps), desc="stage 1: encoder", disable=not rt.main, initial=start, total=st.steps
    )
    for step in bar:
        batch, crops, flips = draw_encoder_batch(rng, groups, pairs, st)
        labels, identities = batch.labels, batch.identities
        target_crops: list[np.ndarray] = []
        if st.dann_weight > 0 and groups.target:
            for _ in range(st.target_batch):
                clip = pick(rng, groups.target)
                target_crops.append(clip.data.crops[int(rng.integers(len(clip.data)))])
        x = to_tensor(crops + target_crops, rt.device, model)
        y = torch.tensor(labels, dtype=torch.float32, device=rt.device)
        id_rows = [k for k, name in enumerate(identities) if name in id_index]
        strength = dann_strength(step / st.steps)
        with autocast(rt):
            out = objective(
                x,
                len(crops),
                strength if target_crops else None,
                id_rows if len(id_rows) > 1 else [],
                strength,
                with_cells=st.cell_weight > 0,
            )
            frame_logit = out.frame_logit.float()
            cls_loss = F.binary_cross_entropy_with_logits(frame_logit, y)
            loss = cls_loss
            cell_loss = torch.zeros((), device=rt.device)
            if out.cell_logits is not None:
                cell_loss = region_loss(out.cell_logits.float(), batch.regions, flips)
                loss = loss + st.cell_weight * cell_loss
            dom_loss = torch.zeros((), device=rt.device)
            if out.domain_logit is not None:
                d_label = torch.cat([torch.zeros(len(crops)), torch.ones(len(target_crops))]).to(rt.device)
                dom_loss = F.binary_cross_entropy_with_logits(out.domain_logit.float(), d_label)
                loss = loss + st.dann_weight * dom_loss
            id_loss = torch.zeros((), device=rt.device)
            if out.identity_logits is not None:
                id_target = torch.tensor([id_index[identities[k]] for k in id_rows], device=rt.device)
                id_loss = F.cross_entropy(out.identity_logits.float(), id_target)
                loss = loss + st.identity_adv_weight * id_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            acc = ((frame_logit > 0).float() == y).float().mean().item()
        if rt.main:
            bar.set_postfix(loss=f"{cls_loss.item():.3f}", dom=f"{dom_loss.item():.3f}", acc=f"{acc:.2f}")
            if rt.writer is not None:
                rt.writer.add_scalar("encoder/cls_loss", cls_loss.item(), step)
                rt.writer.add_scalar("encoder/domain_loss", dom_loss.item(), step)
                rt.writer.add_scalar("encoder/identity_loss", id_loss.item(), step)
                rt.writer.add_scalar("encoder/cell_loss", cell_loss.item(), step)
                rt.writer.add_scalar("encoder/acc", acc, step)
                rt.writer.add_scalar("encoder/lr", sched.get_last_lr()[0], step)
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < st.steps:
            ckpt.save(
                "encoder",
                step + 1,
                model,
                {
                    "opt_state": opt.state_dict(),
                    "sched_state": sched.state_dict(),
                    "domain_state": domain.state_dict(),
                    "identity_state": adversary.state_dict() if adversary is not None else {},
                    "rng_state": rng.bit_generator.state,
                },
            )


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
    feats: np.ndarray  # (N, D)
    label: int
    kind: str  # "real", "live", "other", "sbi"
    row: ManifestRow | None
    domain: str


def featurise(
    cfg: TrainConfig, rt: Runtime, model: Detector, groups: ClipGroups, rng: np.random.Generator
) -> list[FeatureClip]:
    """Encode every training video clip once (clip-consistent augmentation on half of them), plus
    self-blended pseudo-fake versions of the real clips."""
    out: list[FeatureClip] = []
    jobs: list[tuple[Clip, str]] = [(c, "real") for c in groups.video_reals]
    jobs += [(c, "live") for c in groups.live_fakes] + [(c, "other") for c in groups.other_fakes]
    sbi_jobs = [c for c in groups.sbi_sources if c.row.kind == "video"] * cfg.head.sbi_clips_per_real
    total = len(jobs) + len(sbi_jobs)
    bar = tqdm(total=total, desc="stage 2: encoding clips", disable=not rt.main)
    for clip, kind in jobs:
        crops = list(clip.data.crops)
        if rng.random() < 0.5:
            crops = augment_window(crops, rng, cfg.encoder.augment)
        out.append(FeatureClip(encode_clip(model, crops, rt), clip.label, kind, clip.row, "clean"))
        bar.update()
    for clip in sbi_jobs:
        marks = [clip.mesh_at(i) for i in range(len(clip.data))]
        jitter = cfg.head.sbi_jitter if rng.random() < 0.5 else 0.0
        fakes, _ = self_blend_clip(list(clip.data.crops), marks, rng, jitter=jitter)
        if rng.random() < 0.5:
            fakes = augment_window(fakes, rng, cfg.encoder.augment)
        out.append(FeatureClip(encode_clip(model, fakes, rt), 1, "sbi", clip.row, "clean"))
        bar.update()
    bar.close()
    return out


def sample_windows(
    rng: np.random.Generator, clips: list[FeatureClip], batch: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    reals = [c for c in clips if c.label == 0]
    fakes_by_kind = {k: [c for c in clips if c.kind == k] for k in ("live", "sbi", "other")}
    shares = {"live": 0.5, "sbi": 0.4, "other": 0.1}
    xs, ys = [], []
    for b in range(batch):
        if b % 2 == 0:
            clip = reals[int(rng.integers(len(reals)))]
        else:
            kinds = [k for k in shares if fakes_by_kind[k]]
            p = np.array([shares[k] for k in kinds])
            kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
            clip = fakes_by_kind[kind][int(rng.integers(len(fakes_by_kind[kind])))]
        n = len(clip.feats)
        start = int(rng.integers(max(1, n - window + 1)))
        idx = np.minimum(np.arange(start, start + window), n - 1)
        xs.append(clip.feats[idx])
        ys.append(clip.label)
    return np.stack(xs).astype(np.float32), np.array(ys, np.float32)


def train_head(
    cfg: TrainConfig,
    rt: Runtime,
    model: Detector,
    feats: list[FeatureClip],
    rng: np.random.Generator,
    steps: int,
    tag: str = "head",
) -> None:
    st = cfg.head
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.head.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, steps, 50))
    model.head.train()
    head = data_parallel(model.head, rt.world)  # Detector.score_window is this head's forward
    bar = tqdm(range(steps), desc=f"stage 2: {tag}", disable=not rt.main)
    for step in bar:
        x, y = sample_windows(rng, feats, st.batch, cfg.model.window)
        xt = torch.from_numpy(x).to(rt.device)
        xt = xt + 0.05 * torch.randn_like(xt) * xt.std()
        logit = head(xt)
        loss = F.binary_cross_entropy_with_logits(logit, torch.from_numpy(y).to(rt.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if rt.main and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if rt.writer is not None:
                rt.writer.add_scalar(f"{tag}/loss", loss.item(), step)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()


def train_altfreeze_encoder(
    cfg: TrainConfig, rt: Runtime, model: Detector, groups: ClipGroups, rng: np.random.Generator, round_i: int
) -> None:
    """AltFreezing's spatial phase: end-to-end clips with the temporal head frozen."""
    af = cfg.altfreeze
    for p in model.head.parameters():
        p.requires_grad_(False)
    freeze_trunk_blocks(model, cfg.encoder.freeze_blocks)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.encoder.lr * 0.3, weight_decay=cfg.encoder.weight_decay)
    net = data_parallel(model, rt.world)
    model.train()
    freeze_trunk_blocks(model, cfg.encoder.freeze_blocks)
    t = cfg.model.window
    bar = tqdm(range(af.encoder_steps), desc=f"altfreeze {round_i}: encoder", disable=not rt.main)
    for _ in bar:
        clips, labels = [], []
        for b in range(af.clip_batch):
            if b % 2 == 0:
                clip = pick(rng, groups.video_reals)
                start = int(rng.integers(max(1, len(clip.data) - t + 1)))
                window = clip.window(start, t)
            elif rng.random() < 0.5 and groups.sbi_sources:
                clip = pick(
                    rng, [c for c in groups.sbi_sources if c.row.kind == "video"] or groups.sbi_sources
                )
                start = int(rng.integers(max(1, len(clip.data) - t + 1)))
                marks = [clip.mesh_at(min(start + k, len(clip.data) - 1)) for k in range(t)]
                window, _ = self_blend_clip(
                    clip.window(start, t), marks, rng, jitter=cfg.head.sbi_jitter * rng.random()
                )
            else:
                clip = pick(rng, groups.live_fakes or groups.other_fakes)
                start = int(rng.integers(max(1, len(clip.data) - t + 1)))
                window = clip.window(start, t)
            clips.append(augment_window(window, rng, cfg.encoder.augment))
            labels.append(b % 2)
        x = to_tensor([c for w in clips for c in w], rt.device, model).view(
            af.clip_batch, t, 3, *clips[0][0].shape[:2]
        )
        with autocast(rt):
            out = net(x)
            y = torch.tensor(labels, dtype=torch.float32, device=rt.device)
            loss = F.binary_cross_entropy_with_logits(out["logit"].float(), y)
            loss = loss + 0.5 * F.binary_cross_entropy_with_logits(
                out["frame_logit"].float(), y[:, None].expand(-1, t)
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
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


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """1-D search for the temperature minimising the negative log-likelihood."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(math.log(0.25), math.log(64.0), 120)):
        p = sigmoid(logits / t)
        nll = -np.mean(labels * np.log(p + 1e-7) + (1 - labels) * np.log(1 - p + 1e-7))
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def calibrate(
    cfg: TrainConfig, rt: Runtime, model: Detector, calib: list[Clip]
) -> tuple[float, Thresholds, dict[str, Any]]:
    """Temperature from window logits, thresholds from video-level scores of held-out identities.

    The fake threshold is set so that at most ``target_fpr`` of held-out real videos (clean and
    call-degraded) would be called fake; the real threshold sits below the fake one by the same
    margin the gauge's hysteresis needs.
    """
    logits, labels, video_logits = [], [], []
    for clip in calib:
        if len(clip.data) < 2:
            continue
        wl = window_logits(model, encode_clip(model, clip.data.crops, rt), cfg.model.window, rt)
        logits.append(wl)
        labels.append(np.full(len(wl), clip.label))
        video_logits.append((wl, clip.label, clip.row.source, clip.domain))
    if not logits:
        return 1.0, Thresholds(), {"n_calib_videos": 0}
    temp = fit_temperature(np.concatenate(logits), np.concatenate(labels).astype(np.float64))
    scores = [(float(np.mean(sigmoid(wl / temp))), lab, src, dom) for wl, lab, src, dom in video_logits]
    real_scores = np.array([s for s, lab, _, _ in scores if lab == 0])
    fake_scores = np.array([s for s, lab, _, _ in scores if lab == 1])
    q = float(np.quantile(real_scores, 1 - cfg.target_fpr)) if len(real_scores) else 0.5
    fake_thr = float(np.clip(q + 0.02, 0.5, 0.9))
    real_thr = float(max(0.05, fake_thr - 0.25))
    suspicious = float((real_thr + fake_thr) / 2)
    report = {
        "n_calib_videos": len(scores),
        "temperature": temp,
        "calib_real_scores": sorted(np.round(real_scores, 4).tolist()),
        "calib_fake_scores": sorted(np.round(fake_scores, 4).tolist()),
    }
    return temp, Thresholds(real=real_thr, suspicious=suspicious, fake=fake_thr), report


# ------------------------------------------------------------------------------------- driver


def make_meta(
    cfg: TrainConfig, model: Detector, temperature: float, thresholds: Thresholds, report: dict[str, Any]
) -> ModelMeta:
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
        training_data=f"{cfg.data.manifest} split=train (calibration on held-out train identities)",
        metrics={"calibration": report},
    )


def build_renders(cfg: TrainConfig, rt: Runtime, groups: ClipGroups, out_dir: Path) -> dict[str, np.ndarray]:
    """Every landmarked real clip's crops as a face autoencoder draws them (training.render).

    The autoencoder is ``encoder.renderer`` when that names a file; otherwise it is trained here on
    the run's own real crops (fit identities only, so a held-out fold stays unseen) and kept as
    ``out_dir/renderer.pt``, which a resumed run reuses. Only rank 0 trains it."""
    st = cfg.encoder
    given = Path(st.renderer).expanduser() if st.renderer else None
    kept = out_dir / "renderer.pt"
    if given is None and not kept.is_file() and rt.main:
        crops = np.concatenate([c.data.crops for c in groups.video_reals + groups.still_reals])
        seed_rng = np.random.default_rng((cfg.seed, 1))  # its own stream: the batches' stays as it was
        save_autoencoder(train_autoencoder(crops, st.render_steps, seed_rng), kept)
    if rt.world > 1:
        torch.distributed.barrier()  # under torchrun every rank renders with rank 0's autoencoder
    model = load_autoencoder(given or kept)
    return {c.row.path: reconstruct(model, c.data.crops) for c in groups.sbi_sources}


def run_training(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train, calibrate and save ``out_dir/model.pt``; returns its path."""
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rt = setup_runtime(cfg, out_dir)
    rng = seed_everything(cfg.seed + rt.rank)
    t0 = time.time()
    groups, calib, pair_reals = load_data(cfg, rt)
    pairs = {c.row.pair_id: c for c in pair_reals}
    if rt.main:
        print(f"training clips: {groups.summary()}; calibration clips: {len(calib)}", flush=True)
    if not groups.video_reals:
        raise UserError(f"no real training videos with a face in {cfg.data.manifest} (split 'train')")
    if not (groups.live_fakes or groups.other_fakes or groups.sbi_sources):
        raise UserError(
            f"no fake training material in {cfg.data.manifest}: no usable fakes and no real faces to blend"
        )
    imagenet = str(Path(cfg.model.imagenet).expanduser()) if cfg.model.imagenet else None
    model = create_detector(cfg.model.name, feature_dim=cfg.model.feature_dim, imagenet=imagenet)
    model.to(rt.device)
    # channels_last is faster for the depthwise convolutions on CPU; Module.to accepts it at run time
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    domain = DomainClassifier(cfg.model.feature_dim).to(rt.device)
    ckpt = Checkpointer(out_dir, cfg, rt)
    state = ckpt.load() if resume else None
    if state is not None:
        model.load_state_dict(state["model_state"])
        if rt.main:
            print(f"resuming from {ckpt.path}: stage {state['stage']} step {state['step']}", flush=True)
    if not stage_done(state, "encoder"):
        if cfg.encoder.render_fraction > 0:
            groups.renders = build_renders(cfg, rt, groups, out_dir)
        train_encoder(cfg, rt, model, domain, groups, pairs, rng, ckpt, state)
        ckpt.save("head", 0, model, {})
    if not stage_done(state, "head"):
        if cfg.head.steps > 0:
            feats = featurise(cfg, rt, model, groups, rng)
            train_head(cfg, rt, model, feats, rng, cfg.head.steps)
        ckpt.save("altfreeze", 0, model, {})
    for r in range(cfg.altfreeze.rounds):
        if state is not None and state["stage"] == "done":
            break
        train_altfreeze_encoder(cfg, rt, model, groups, rng, r)
        feats = featurise(cfg, rt, model, groups, rng)
        train_head(cfg, rt, model, feats, rng, cfg.altfreeze.head_steps, tag=f"altfreeze {r}: head")
    model.eval()
    temperature, thresholds, report = calibrate(cfg, rt, model, calib)
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
