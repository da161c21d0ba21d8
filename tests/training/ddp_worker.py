"""One torchrun rank of `test_ddp.py`: trains through ``run_training`` and records what it saw.

Each rank writes ``rankN.pt`` to OUT_DIR: a digest of every encoder batch it drew, and its
detector's parameters after every training stage (when its metadata is made). Data-parallel
training means different batches per rank and, all the same, equal parameters on every rank.

Usage: python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR CONFIG [k=v ...]
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import training.train as train
from training.config import load_config


def main(out_dir: Path, config: str, overrides: list[str]) -> None:
    batch_digests: list[str] = []
    draw_batch = train.sample_encoder_batch
    make_meta = train.make_meta

    def recording_draw(*args: Any, **kwargs: Any) -> Any:
        batch = draw_batch(*args, **kwargs)
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(c).tobytes() for c in batch.crops))
        batch_digests.append(digest.hexdigest())
        return batch

    def recording_make_meta(cfg: Any, model: torch.nn.Module, *args: Any) -> Any:
        params = {name: p.detach().cpu().clone() for name, p in model.named_parameters()}
        rank = int(os.environ.get("RANK", "0"))
        torch.save({"batches": batch_digests, "params": params}, out_dir / f"rank{rank}.pt")
        return make_meta(cfg, model, *args)

    train.sample_encoder_batch = recording_draw  # type: ignore[assignment]
    train.make_meta = recording_make_meta  # type: ignore[assignment]
    train.run_training(load_config(config, overrides))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
