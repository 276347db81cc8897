"""The first thing to run on a GPU machine: the tiny pipeline on CUDA against the same pipeline on the CPU.

``make gpu-check`` (this script) does, when ``torch.cuda.is_available()``:

1. the oracle's event-level rate (the amplitude algebra that runs on the torch backend) for 20 000 random events,
   numpy on the CPU vs torch on CUDA, both float64: tolerance 1e-9 relative (summation order only);
2. the tiny pipeline (``tests/fixtures/params_tiny.yaml``: every stage, ``dvc repro`` in a scratch copy of the
   project) twice, with ``SMEFTFM_DEVICE=cpu`` and with ``SMEFTFM_DEVICE=cuda`` (the encoder then trains under
   automatic mixed precision, ``train.amp``), and compares every number of every ``reports/metrics`` file:
   * data and physics stages (screen, templates, joint, universes, spectra, corpus, events, fit inputs): these do
     not use the GPU, tolerance 1e-9 relative;
   * everything downstream of a trained network: float16 autocast and different kernels change the trained
     weights, so the tolerance is |cuda - cpu| <= 0.05 + 0.15 |cpu| (an AUROC or k-NN accuracy may move by a few
     hundredths; a broken CUDA path moves them by far more or produces NaN).

One line per comparison (``ok`` / ``FAIL``), a summary, exit code 1 on any failure. Timing keys are skipped.
Without a GPU it says so and exits 0.

Run: make gpu-check   (or LHAPDF_DATA_PATH=../shared/pdfsets .venv/bin/python benchmarks/gpu_check.py)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHYSICS_FILES = {"screen", "templates", "joint", "universes", "spectra", "corpus", "events"}
EXACT = 1e-9
NET_ABS, NET_REL = 0.05, 0.15


def leaves(obj, prefix: str = ""):
    """(dotted key, number) for every numeric leaf of a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{prefix}{k}.")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}{i}.")
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, int | float):
        yield prefix[:-1], float(obj)


def timing(key: str) -> bool:
    last = key.split(".")[-1]
    return last == "seconds" or last.endswith("_seconds") or last.endswith("per_second") or last == "device"


def compare(name: str, a: float, b: float, exact: bool) -> bool:
    if exact:
        tol = EXACT * max(abs(a), abs(b), 1e-300)
    else:
        tol = NET_ABS + NET_REL * abs(a)
    ok = bool(np.isfinite(b) == np.isfinite(a) and (not np.isfinite(a) or abs(a - b) <= tol))
    print(f"{'ok  ' if ok else 'FAIL'} {name:70s} cpu={a:.6g} cuda={b:.6g} tol={tol:.2g}")
    return ok


def oracle_check() -> list[bool]:
    from smeftfm.physics.oracle import Oracle

    rng = np.random.default_rng(0)
    m = rng.uniform(60.0, 600.0, 20_000)
    y = rng.uniform(-2.0, 2.0, 20_000)
    c = rng.uniform(-1.0, 1.0, 20_000)
    o = Oracle()
    ref = np.asarray(o.event_terms(m, y, c, "linear", backend="numpy"))
    gpu = o.event_terms(m, y, c, "linear", backend="torch", device="cuda").cpu().numpy()
    scale = np.abs(ref).max(axis=0) + 1e-300
    worst = float(np.max(np.abs(gpu - ref) / scale))
    ok = worst <= EXACT
    print(f"{'ok  ' if ok else 'FAIL'} {'oracle event_terms (20000 events, linear), max rel diff':70s} "
          f"{worst:.2e} tol={EXACT:.0e}")
    return [ok]


def tiny_repro(device: str, where: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import _copy_project

    repo = where / device
    _copy_project(repo)
    shutil.copy(ROOT / "tests" / "fixtures" / "params_tiny.yaml", repo / "params.yaml")
    env = dict(os.environ, SMEFTFM_DEVICE=device, SMEFTFM_TRACKING="off", SMEFTFM_PIPELINE_ID=f"gpu-check-{device}")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    git = ["git", "-c", "user.name=gpu-check", "-c", "user.email=gpu-check@example.invalid"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "tiny"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env, capture_output=True)
    print(f"-- dvc repro of the tiny pipeline on {device} ...", flush=True)
    res = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"tiny pipeline failed on {device}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return repo / "reports" / "metrics"


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device visible to torch {torch.__version__} (CUDA build: "
              f"{torch.version.cuda or 'none'}); nothing to compare. Run it on the GPU machine.")
        return 0
    print(f"gpu-check on {torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    results = oracle_check()
    with tempfile.TemporaryDirectory(prefix="smeftfm-gpu-check-") as tmp:
        cpu_dir, gpu_dir = tiny_repro("cpu", Path(tmp)), tiny_repro("cuda", Path(tmp))
        for f in sorted(cpu_dir.rglob("*.json")):
            rel = f.relative_to(cpu_dir)
            g = gpu_dir / rel
            if not g.exists():
                print(f"FAIL {rel}: missing in the CUDA run")
                results.append(False)
                continue
            a, b = dict(leaves(json.loads(f.read_text()))), dict(leaves(json.loads(g.read_text())))
            exact = rel.stem in PHYSICS_FILES
            for k in sorted(a):
                if timing(k):
                    continue
                if k not in b:
                    print(f"FAIL {rel}:{k} missing in the CUDA run")
                    results.append(False)
                    continue
                results.append(compare(f"{rel}:{k}", a[k], b[k], exact))
    bad = results.count(False)
    print(f"gpu-check: {len(results) - bad}/{len(results)} comparisons within tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
