"""Oracle speed: the full quadratic template set and the event-level rate with all morphing terms.

Prints: seconds for the 92-bin quadratic templates of the 17 interfering operators (171 terms), and events/s of
d^3 sigma/(dm dy dcos theta_CS) for 10^6 events with all linear and quadratic terms, on CPU (numpy and torch) and on
CUDA when present; the PDF look-up share is printed separately (it runs on the CPU for every backend).

Run: LHAPDF_DATA_PATH=../shared/pdfsets .venv/bin/python benchmarks/oracle.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

if "LHAPDF_DATA_PATH" not in os.environ:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "pdfsets"
    if shared.is_dir():
        os.environ["LHAPDF_DATA_PATH"] = str(shared)

from smeftfm.physics.oracle import Oracle  # noqa: E402


def _events(n: int, rng: np.random.Generator):
    return rng.uniform(50, 650, n), rng.uniform(-2.4, 2.4, n), rng.uniform(-0.98, 0.98, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    oracle = Oracle()
    n_ops = len(oracle.operators)
    print(f"oracle: {n_ops} operators, PDF {oracle.pdf.name}/{oracle.pdf.member} via {oracle.pdf.backend}")

    t0 = time.perf_counter()
    tpl = oracle.binned_templates("quadratic")
    t_tpl = time.perf_counter() - t0
    print(f"templates: {tpl.values.shape[1]} bins x {tpl.values.shape[0]} terms (quadratic) in {t_tpl:.2f} s")

    rng = np.random.default_rng(1)
    m, y, c = _events(args.events, rng)
    t0 = time.perf_counter()
    oracle.luminosities(m, y)
    t_pdf = time.perf_counter() - t0
    print(f"PDF luminosities alone: {args.events / t_pdf:,.0f} events/s ({t_pdf:.2f} s)")

    t0 = time.perf_counter()
    terms = oracle.event_terms(m, y, c, order="quadratic")
    t_np = time.perf_counter() - t0
    print(f"event rate, numpy, {terms.shape[1]} terms: {args.events / t_np:,.0f} events/s ({t_np:.2f} s)")

    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        t0 = time.perf_counter()
        out = oracle.event_terms(m, y, c, order="quadratic", backend="torch", device=dev)
        if dev == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter() - t0
        assert out.shape == terms.shape
        print(f"event rate, torch/{dev}: {args.events / t:,.0f} events/s ({t:.2f} s); "
              f"amplitude part {args.events / max(t - t_pdf, 1e-9):,.0f} events/s")
    if not torch.cuda.is_available():
        print("CUDA: not present on this machine")


if __name__ == "__main__":
    main()
