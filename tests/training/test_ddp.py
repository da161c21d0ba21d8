"""Training under torchrun is data-parallel: two CPU ranks (gloo) draw different batches and still
end every stage with the same weights, because every trained parameter goes through DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("this torch build has no gloo backend for CPU process groups", allow_module_level=True)

from tests.training.tiny import tiny_run_overrides  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")
CONFIG = ROOT / "training" / "configs" / "callshield_v5.yaml"


def test_two_ranks_train_in_lockstep(tiny_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    overrides = [
        *tiny_run_overrides(tiny_manifest, tmp_path, out),
        "threads=1",
        "encoder.steps=3",
        "encoder.warmup=1",
        "encoder.compress=1",
        "encoder.dann_weight=0.5",  # the compression adversary trains inside the DDP forward
        "model.name=mnv2_tconv",
        "head.steps=3",  # a learned temporal head, trained through DDP too
        "head.batch=8",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, str(WORKER), str(out), str(CONFIG), *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt") for r in (0, 1)]
    assert len(ranks[0]["batches"]) == 3 and len(ranks[1]["batches"]) == 3
    assert not set(ranks[0]["batches"]) & set(ranks[1]["batches"]), "the ranks drew the same batches"
    params0, params1 = ranks[0]["params"], ranks[1]["params"]
    assert params0.keys() == params1.keys()
    drifted = [name for name in params0 if not torch.equal(params0[name], params1[name])]
    assert not drifted, f"replicas drifted apart (gradients not all-reduced): {drifted[:5]}"
    assert (out / "model.pt").is_file()  # rank 0 saved the model
