"""Benchmark of the ManifoldInformer training step against a bare torch loop of the same shapes (same run).

Prints, per step (median over ``--steps`` after ``--warmup``):

* the full :func:`smeftfm.models.informer.train_informer` step (view draw from the pool, online + EMA-target
  encoders, ridge head, VICReg terms, Adam, EMA update), from its wall time over ``--steps`` steps;
* its parts, timed separately with the same shapes: the view draw (``EventPool.draw``: [M, N_pool] weights and
  multinomial resampling), the online forward + backward + Adam step of the MLP on the view's events, the
  target forward, and the EMA update;
* the bare baseline: an ``nn.Sequential`` MLP of the same widths, one forward/backward/Adam step on a random
  tensor of the view's shape (``M x n`` events x ``n_lifts``) — the irreducible compute of a step;
* the ratio full step / bare step, and the projected stage time (seeds x steps x step + set-up not included).

Run from the project root: ``python benchmarks/informer.py [--params params.yaml] [--steps 20] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("SMEFTFM_TRACKING", "off")


def _median_time(fn, n: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    args = ap.parse_args()

    import torch
    from torch import nn

    from smeftfm.config import load_params
    from smeftfm.data.events import sample_events, tilt_weights
    from smeftfm.models.informer import EventEncoder, EventPool, InformerConfig, event_lifts, train_informer
    from smeftfm.models.mlp import mlp
    from smeftfm.physics.kinematics import KinematicMap
    from smeftfm.physics.operators import resolve
    from smeftfm.physics.oracle import oracle_from_params

    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(args.params)
    ip = params.informer
    ops = tuple(resolve(params.loop.leading)) + tuple(resolve(params.loop.subleading))
    cfg = InformerConfig(embed_dim=ip.embed_dim, hidden=ip.hidden, depth=ip.depth, events_per_set=ip.events_per_set,
                         working_points=ip.working_points, steps=args.steps, lr=ip.lr, ridge=ip.ridge, ema=ip.ema,
                         var_weight=ip.var_weight, cov_weight=ip.cov_weight, coeff_max=ip.coeff_max,
                         aux_weight=ip.aux_weight)
    t0 = time.perf_counter()
    oracle = oracle_from_params(params, ops)
    kmap = KinematicMap.from_oracle(oracle)
    m, y, c = sample_events(oracle, np.zeros(len(ops)), ip.n_pool, np.random.default_rng(0), mass_tilt=ip.mass_tilt)
    terms = oracle.event_terms(m, y, c, order="quadratic")
    lifts = event_lifts(m, y, c, kmap)
    w = tilt_weights(m, ip.mass_tilt, oracle.acceptance.m_lo)
    mean, std = lifts.mean(0), lifts.std(0) + 1e-12
    pool = EventPool(lifts, terms, len(ops), weights=w)
    t_setup = time.perf_counter() - t0

    # full training step
    t1 = time.perf_counter()
    train_informer(pool, cfg, 0, mean, std, log_every=10**9)
    t_full = (time.perf_counter() - t1) / args.steps

    # parts with the same shapes
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    coeffs = rng.uniform(-cfg.coeff_max, cfg.coeff_max, size=(cfg.working_points, len(ops)))
    t_draw = _median_time(lambda: pool.draw(coeffs, cfg.events_per_set, gen), args.steps)
    views, _ = pool.draw(coeffs, cfg.events_per_set, gen)
    enc = EventEncoder(lifts.shape[1], cfg, mean, std)
    opt = torch.optim.Adam(enc.parameters(), lr=cfg.lr)

    def online():
        loss = enc.learned(views[0]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def target():
        with torch.no_grad():
            enc.learned(views[1])

    t_online = _median_time(online, args.steps)
    t_target = _median_time(target, args.steps)
    tgt = [p.detach().clone() for p in enc.parameters()]

    def ema():
        with torch.no_grad():
            for pt, po in zip(tgt, enc.parameters(), strict=True):
                pt.mul_(cfg.ema).add_(po.detach(), alpha=1.0 - cfg.ema)

    t_ema = _median_time(ema, args.steps)

    # bare baseline: the same MLP shapes, random input, one forward/backward/Adam step
    bare = mlp(lifts.shape[1], cfg.hidden, cfg.depth, cfg.embed_dim, activation=nn.SiLU)
    bopt = torch.optim.Adam(bare.parameters(), lr=cfg.lr)
    x = torch.randn(cfg.working_points * cfg.events_per_set, lifts.shape[1])

    def bare_step():
        loss = bare(x).pow(2).mean()
        bopt.zero_grad(set_to_none=True)
        loss.backward()
        bopt.step()

    t_bare = _median_time(bare_step, args.steps)
    n_par = sum(p.numel() for p in bare.parameters())
    print(f"torch threads {torch.get_num_threads()}, pool {ip.n_pool} events, M = {cfg.working_points} working "
          f"points x n = {cfg.events_per_set} events per view, MLP {lifts.shape[1]}->{cfg.hidden}x{cfg.depth}->"
          f"{cfg.embed_dim} ({n_par / 1e6:.2f} M parameters); set-up {t_setup:.1f} s")
    print(f"full training step:             {1e3 * t_full:8.1f} ms")
    print(f"  view draw (pool weights + multinomial): {1e3 * t_draw:8.1f} ms")
    print(f"  online forward+backward+Adam:  {1e3 * t_online:8.1f} ms")
    print(f"  target forward:                {1e3 * t_target:8.1f} ms")
    print(f"  EMA update:                    {1e3 * t_ema:8.1f} ms")
    print(f"bare torch step (same MLP shapes, random input): {1e3 * t_bare:8.1f} ms; "
          f"ratio full / bare {t_full / t_bare:5.2f}x")
    n_steps = ip.steps * len(ip.seeds)
    print(f"projected training time at params ({len(ip.seeds)} seeds x {ip.steps} steps): {n_steps * t_full:7.1f} s "
          f"(bare: {n_steps * t_bare:7.1f} s)")


if __name__ == "__main__":
    main()
