"""Benchmark of the ``informer`` stage: its training step against a bare torch loop of the same shapes (same run).

Prints (medians over ``--steps`` after warm-up; CPU time of this process and wall time):

* set-up: the event sets of :func:`smeftfm.models.informer_study.informer_events` (oracle sampling, lifts);
* the full :func:`smeftfm.models.informer.train_informers` step for every model of the stage's stack
  (``informer.seeds``, doubled by the JEPA-only companions when the supervised auxiliary objective is on): view
  draw, stacked online + EMA-target MLPs, ridge heads, VICReg, auxiliary loss, one Adam step, EMA update;
* the bare baseline: per model, an ``nn.Sequential`` of the same widths doing one forward/backward/Adam step on a
  random tensor of the view's shape (``M x n`` events x ``n_lifts``) plus a no-grad forward of the target view, in
  the configured precision — the irreducible compute of one step, model after model;
* the same bare loop in float32 (the precision of the earlier stage);
* scoring of one encoder (three probe fits), and the projected stage time = set-up + steps x step + scoring.

The figures are written to ``reports/metrics/informer_benchmark.json`` (quoted in ``docs/aletheia.md``).
Run from the project root: ``python benchmarks/informer.py [--params params.yaml] [--steps 10] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("SMEFTFM_TRACKING", "off")


def _timed(fn, n: int, warmup: int = 1) -> tuple[float, float]:
    """(CPU s, wall s) per call, medians over ``n`` calls."""
    for _ in range(warmup):
        fn()
    cpu, wall = [], []
    for _ in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return float(np.median(cpu)), float(np.median(wall))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    ap.add_argument("--out", default="reports/metrics/informer_benchmark.json")
    args = ap.parse_args()

    import torch
    from torch import nn

    from smeftfm.atomic import write_json
    from smeftfm.config import load_params
    from smeftfm.models.informer import encode, train_informers
    from smeftfm.models.informer_study import informer_config, informer_events, probe_scores
    from smeftfm.models.mlp import mlp
    from smeftfm.physics.operators import resolve
    from smeftfm.physics.oracle import oracle_from_params

    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(args.params)
    ip = params.informer
    ops = tuple(resolve(params.loop.leading)) + tuple(resolve(params.loop.subleading))
    cfg = informer_config(ip)
    twin = cfg.aux_weight > 0 and ip.jepa_companion
    seeds = list(ip.seeds) * (2 if twin else 1)
    aux = [cfg.aux_weight] * len(ip.seeds) + ([0.0] * len(ip.seeds) if twin else [])
    n_models = len(seeds)

    c0, w0 = time.process_time(), time.perf_counter()
    ev = informer_events(oracle_from_params(params, ops), ip)
    setup = (time.process_time() - c0, time.perf_counter() - w0)

    # full step: train_informers over (warm-up + steps) steps minus a 1-step run (model construction, set-up)
    def run(n_steps: int):
        c, w = time.process_time(), time.perf_counter()
        out = train_informers(ev.pool, cfg.__class__(**{**cfg.to_dict(), "steps": n_steps}), seeds[: ip.stack],
                              ev.mean, ev.std, log_every=10**9, aux_weights=aux[: ip.stack])
        return time.process_time() - c, time.perf_counter() - w, out

    run(2)  # warm-up (allocator, autocast caches)
    c1, w1, _ = run(1)
    cn, wn, trained = run(1 + args.steps)
    chunks = -(-n_models // ip.stack)  # the stage trains n_models in chunks of ``stack``
    full = (chunks * (cn - c1) / args.steps, chunks * (wn - w1) / args.steps)

    # bare torch loop of the same shapes, model after model
    n_ev, p = cfg.working_points * cfg.events_per_set, ev.pool.lifts.shape[1]

    def bare_model():
        return mlp(p, cfg.hidden, cfg.depth, cfg.embed_dim, activation=nn.SiLU)

    nets = [bare_model() for _ in range(n_models)]
    tgts = [bare_model() for _ in range(n_models)]
    opts = [torch.optim.Adam(n.parameters(), lr=cfg.lr) for n in nets]
    x0, x1 = torch.randn(n_ev, p), torch.randn(n_ev, p)

    def bare_step(low: bool):
        for net, tgt, opt in zip(nets, tgts, opts, strict=True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
                loss = net(x0).float().pow(2).mean()
                with torch.no_grad():
                    tgt(x1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    low = cfg.precision == "bfloat16"
    bare = _timed(lambda: bare_step(low), args.steps)
    bare32 = _timed(lambda: bare_step(False), max(3, args.steps // 2))
    enc = trained[0][0]
    score = _timed(lambda: (probe_scores(ev, lambda x: encode(enc, x), True),
                            probe_scores(ev, lambda x: encode(enc, x, True), False)), 1, warmup=0)
    score_all = (score[0] * len(ip.seeds) + 0.5 * score[0] * (n_models - len(ip.seeds)),
                 score[1] * len(ip.seeds) + 0.5 * score[1] * (n_models - len(ip.seeds)))
    stage = tuple(setup[i] + cfg.steps * full[i] + score_all[i] for i in range(2))
    n_par = sum(q.numel() for q in nets[0].parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
          f"; load average {os.getloadavg()[0]:.2f}")
    print(f"stack: {n_models} models ({len(ip.seeds)} seeds{' + JEPA-only companions' if twin else ''}), "
          f"M = {cfg.working_points} working points x n = {cfg.events_per_set} events per view, MLP {p}->"
          f"{cfg.hidden}x{cfg.depth}->{cfg.embed_dim} ({n_par / 1e6:.2f} M parameters each), {cfg.precision}")
    print(f"set-up (event sets):                   cpu {setup[0]:7.1f} s   wall {setup[1]:7.1f} s")
    print(f"full step, {n_models} models in stacks of {ip.stack}: cpu {1e3 * full[0]:7.1f} ms  "
          f"wall {1e3 * full[1]:7.1f} ms")
    print(f"bare torch loop, same shapes:          cpu {1e3 * bare[0]:7.1f} ms  wall {1e3 * bare[1]:7.1f} ms"
          f"   ratio full / bare (cpu) {full[0] / bare[0]:5.2f}x")
    print(f"bare torch loop, float32:              cpu {1e3 * bare32[0]:7.1f} ms  wall {1e3 * bare32[1]:7.1f} ms")
    print(f"scoring (all models):                  cpu {score_all[0]:7.1f} s   wall {score_all[1]:7.1f} s")
    print(f"projected informer stage ({cfg.steps} steps):   cpu {stage[0]:7.1f} s   wall {stage[1]:7.1f} s")
    write_json(Path(args.out), {
        "threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0], "n_models": n_models,
        "n_seeds": len(ip.seeds), "stack": ip.stack, "precision": cfg.precision, "hidden": cfg.hidden,
        "steps": cfg.steps,
        "n_params_per_model": n_par, "setup_cpu_s": setup[0], "setup_wall_s": setup[1],
        "step_cpu_ms": 1e3 * full[0], "step_wall_ms": 1e3 * full[1], "bare_step_cpu_ms": 1e3 * bare[0],
        "bare_step_wall_ms": 1e3 * bare[1], "bare_float32_step_cpu_ms": 1e3 * bare32[0],
        "ratio_full_to_bare_cpu": full[0] / bare[0], "score_cpu_s": score_all[0], "score_wall_s": score_all[1],
        "stage_projected_cpu_s": stage[0], "stage_projected_wall_s": stage[1]})


if __name__ == "__main__":
    main()
