"""Benchmark of the ALETHEIA loop on CPU with the default ``params.yaml`` settings.

Prints the wall time to the four gates (set-up: oracle, probe/validation events, quadratic terms and
normalisations; then the residual-energy run and the random-arm seeds the fourth gate compares against), the
per-cycle cost, and the per-cycle cost relative to a bare baseline measured in the same run: one evaluation of the
candidate log-likelihood ratios (``log(T @ mono.T)`` on the probe events), the irreducible work of a cycle.

Run from the project root: ``python benchmarks/loop.py [--params params.yaml]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("SMEFTFM_TRACKING", "off")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions of the loop runs (best time is reported)")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from smeftfm.config import load_params
    from smeftfm.loop.acquisition import candidate_pool
    from smeftfm.loop.study import build_draw, gate_summary, oracle_side, run_gates, settings_from_params
    from smeftfm.stages.loop import tiers_from_screen

    torch.set_num_threads(1)
    params = load_params(args.params)
    lp = params.loop
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        tiers = tiers_from_screen(params, None)
        settings = settings_from_params(params, tiers)
        loop, _ = build_draw(params, oracle_side(params, settings.operators), settings, 0)
        t_setup = time.perf_counter() - t0
        seeds = lp.seeds

        best_main, best_rand, n_cycles, n_rand_cycles = np.inf, np.inf, 0, 0
        for _ in range(args.repeat):
            t1 = time.perf_counter()
            mains = [loop.run("residual_energy", extension=lp.extension, seed=s) for s in seeds]
            t2 = time.perf_counter()
            randoms = [loop.run("random", extension=lp.extension, seed=s) for s in seeds]
            t3 = time.perf_counter()
            best_main, best_rand = min(best_main, t2 - t1), min(best_rand, t3 - t2)
            n_cycles, n_rand_cycles = sum(len(r.records) for r in mains), sum(len(r.records) for r in randoms)
        g = gate_summary([run_gates(m, r) for m, r in zip(mains, randoms, strict=True)])

        pool = candidate_pool(np.random.default_rng(0), np.ones(len(settings.operators), bool),
                              np.full(len(settings.operators), lp.coeff_max), lp.n_candidates)
        reps = 20
        tb = time.perf_counter()
        for _ in range(reps):
            loop.probe(pool)
        t_base = (time.perf_counter() - tb) / reps

    per_cycle = (best_main + best_rand) / max(n_cycles + n_rand_cycles, 1)
    print(f"probe events N = {lp.n_probe} (+ {lp.n_probe} validation), candidates/cycle = {lp.n_candidates}, "
          f"operators = {list(settings.operators)}")
    print(f"set-up (oracle, events, quadratic terms, normalisations): {t_setup:8.2f} s")
    print(f"residual-energy arm: {len(seeds)} seeds, {n_cycles} cycles in {best_main:8.3f} s")
    print(f"random arm: {len(seeds)} seeds, {n_rand_cycles} cycles in {best_rand:8.3f} s")
    print(f"wall time to the four gates (set-up + runs): {t_setup + best_main + best_rand:8.2f} s  (target < 60 s)")
    print(f"gates: {g}")
    print(f"per-cycle cost: {1e3 * per_cycle:8.2f} ms; bare baseline (candidate l_C evaluation): "
          f"{1e3 * t_base:8.2f} ms; ratio {per_cycle / t_base:6.1f}x")


if __name__ == "__main__":
    main()
