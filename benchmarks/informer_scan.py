"""Scan of the ManifoldInformer training budget: held-out tangent R^2 over seeds against training steps and settings.

For each scan point (a named override of the ``informer`` params) the script trains, one model at a time, the
supervised informer (the point's ``aux_weight``) and its JEPA-only companion (aux weight 0; skipped where only the
aux weight changes, since the companion does not depend on it) for every seed of
``informer.seeds``, on the stage's own event sets (:func:`smeftfm.models.informer_study.informer_events`), and
scores each at intermediate checkpoints and at the end with the stage's held-out linear probe (fit set -> tilted
test set, importance-weighted R^2 of the tangents ``lin:k/SM``). Reported per checkpoint and arm: the median over
seeds of each tangent's R^2 from the learned features alone and from the full features, and their minimum over
tangents (the stage's headline ``tangent_r2_min_learned_only``). Also: CPU seconds per scan point (training and
scoring, one thread), so the cost of each setting is measured in the same run.

With a cosine schedule an intermediate checkpoint is not the end point of a shorter run (the rate has not decayed);
with a constant rate it is.

Writes ``reports/metrics/informer_scan.json`` (points merged into an existing file; quoted in docs/aletheia.md).
Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/informer_scan.py [--points NAME ...]`` (~4-10 CPU min a point).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("SMEFTFM_TRACKING", "off")

OUT = Path("reports/metrics/informer_scan.json")
#: scan points: overrides of the params' informer settings
POINTS: dict[str, dict] = {
    "steps600_aux1": {"steps": 600, "aux_weight": 1.0},  # the stage's setting until this scan
    "steps600_aux1_events128": {"steps": 600, "aux_weight": 1.0, "events_per_set": 128},
    "steps300_aux1": {"steps": 300, "aux_weight": 1.0},
    "steps300_aux1_cosine": {"steps": 300, "aux_weight": 1.0, "lr_schedule": "cosine"},
    "steps300_aux3": {"steps": 300, "aux_weight": 3.0},
    "steps300_aux10": {"steps": 300, "aux_weight": 10.0},
}
#: the JEPA-only arm does not depend on aux_weight: these points train the supervised arm only
SUPERVISED_ONLY = ("steps300_aux3", "steps300_aux10")
CHECKPOINTS = (150, 200, 300, 400, 450)


def scan_point(ev, cfg, seeds: list[int], jepa: bool = True) -> dict:
    """Both arms over ``seeds``: R^2 per checkpoint (learned-only and full), medians and their minima."""
    import torch

    from smeftfm.models.informer import EventEncoder, encode, train_informers
    from smeftfm.models.informer_study import probe_scores

    tan = [i for i, n in enumerate(ev.names) if n.startswith("lin:")]
    steps = tuple(s for s in CHECKPOINTS if s < cfg.steps)
    out: dict = {"config": cfg.to_dict(), "tangents": [ev.names[i] for i in tan], "checkpoints": {}}
    c0 = time.process_time()
    arms = (("supervised", cfg.aux_weight), ("jepa_only", 0.0))[: 2 if jepa else 1]
    for arm, aux in arms:
        for s in seeds:
            snaps: dict = {}
            ((enc, _),) = train_informers(ev.pool, cfg, [s], ev.mean, ev.std, log_every=10**9, aux_weights=[aux],
                                          snapshot_steps=steps, snapshots=snaps)
            states = {st: snaps[0][st] for st in steps} | {cfg.steps: enc.state_dict()}
            for st, sd in states.items():
                e = EventEncoder(ev.pool.lifts.shape[1], cfg, ev.mean, ev.std)
                e.load_state_dict(sd)
                with torch.no_grad():
                    lo = probe_scores(ev, lambda x, e=e: encode(e, x, True), False)[tan]
                    fu = probe_scores(ev, lambda x, e=e: encode(e, x), False)[tan]
                rec = out["checkpoints"].setdefault(str(st), {}).setdefault(arm, {"learned_only": [], "full": []})
                rec["learned_only"].append([float(v) for v in lo])
                rec["full"].append([float(v) for v in fu])
            print(f"  {arm} seed {s}: {time.process_time() - c0:.0f} CPU s", flush=True)
    for arms in out["checkpoints"].values():
        for rec in arms.values():
            ml, mf = np.median(rec["learned_only"], axis=0), np.median(rec["full"], axis=0)
            rec["learned_only_median"] = [float(v) for v in ml]
            rec["tangent_r2_min_learned_only"] = float(ml.min())
            rec["tangent_r2_min"] = float(mf.min())
    out["cpu_seconds"] = time.process_time() - c0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", nargs="+", default=list(POINTS), choices=list(POINTS))
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    import torch

    from smeftfm.atomic import json_safe, write_json
    from smeftfm.config import load_params
    from smeftfm.models.informer_study import informer_config, informer_events
    from smeftfm.physics.operators import resolve
    from smeftfm.physics.oracle import oracle_from_params

    torch.set_num_threads(1)
    params = load_params(args.params)
    ip = params.informer
    ops = tuple(resolve(params.loop.leading)) + tuple(resolve(params.loop.subleading))
    ev = informer_events(oracle_from_params(params, ops), ip)
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    res.setdefault("points", {})
    res.update({"n_seeds": len(ip.seeds), "threads": 1, "checkpoints": list(CHECKPOINTS)})
    for name in args.points:
        cfg = dataclasses.replace(informer_config(ip), **POINTS[name])
        print(f"{name}: {POINTS[name]}", flush=True)
        res["points"][name] = scan_point(ev, cfg, list(ip.seeds), jepa=name not in SUPERVISED_ONLY)
        res["points"][name]["load_average_1min_end"] = os.getloadavg()[0]
        write_json(OUT, json_safe(res))
        for st, arms in res["points"][name]["checkpoints"].items():
            print(f"  step {st:>4}: learned-only tangent R^2 min (median over seeds): "
                  + ", ".join(f"{a} {r['tangent_r2_min_learned_only']:.4f}" for a, r in arms.items()), flush=True)


if __name__ == "__main__":
    main()
