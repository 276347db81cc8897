"""The ``loop`` (ALETHEIA) and ``informer`` (ManifoldInformer) stages.

``loop``: probe and validation events from the SM, exact per-event log-likelihood ratios, the complete-then-expand
loop for every acquisition arm, the controls, the dictionary-extension variant and the coefficient-box scan. Writes
``data/loop/trace.parquet`` (the arms), ``data/loop/variants.parquet`` (controls, variants, scan),
``reports/loop_table.md`` (Table-2 format, beside the paper) and ``reports/metrics/loop.json``; each cycle is an
``aletheia.cycle`` span in MLflow Tracing (and OTLP when configured).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..atomic import json_safe, write_json, write_text
from ..config import Params
from ..errors import DataError, SmeftfmError
from ..loop.controller import Tier
from ..loop.outputs import log_study, traced_runner, write_traces
from ..loop.pipeline import run_study
from ..loop.study import build_draw, oracle_side, settings_from_params  # noqa: F401  (re-exported for benchmarks)
from ..loop.tracing import LoopTracer
from ..physics.kinematics import KinematicMap
from ..physics.operators import resolve
from ..physics.oracle import oracle_from_params
from ..reports.loop_table import loop_table_markdown
from ..tracking import stage_run

__all__ = ["build_draw", "oracle_side", "run_informer", "run_loop", "settings_from_params", "tiers_from_screen"]


# ------------------------------------------------------------------------------------------------ tiers
def tiers_from_screen(params: Params, screen_json: Path | None) -> tuple[Tier, ...]:
    """Leading and subleading tiers from ``params.loop``, checked against the screening output's tiers."""
    lp = params.loop
    leading, subleading = resolve(lp.leading), resolve(lp.subleading)
    if screen_json is not None:
        if not Path(screen_json).exists():
            raise DataError(f"screening output {screen_json} not found; run `smeftfm screen` first (or `dvc repro`)")
        try:
            table = json.loads(Path(screen_json).read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{screen_json} is not valid JSON ({err}); re-run `smeftfm screen`") from None
        for tier, ops in (("leading", leading), ("subleading", subleading)):
            for op in ops:
                row = table.get(op)
                if row is None or not row.get("interferes", False):
                    raise SmeftfmError(f"loop.{tier} lists {op}, which the screening finds not interfering; "
                                       f"pick interfering operators from {screen_json}")
                if row.get("tier") != tier:
                    raise SmeftfmError(f"loop.{tier} lists {op}, but the screening puts it in tier "
                                       f"'{row.get('tier')}'; move it to loop.{row.get('tier')}")
    tiers = [Tier("leading", tuple(leading))]
    if subleading:
        tiers.append(Tier("subleading", tuple(subleading)))
    return tuple(tiers)


def run_loop(params: Params, screen_json: Path | None, out_dir: Path, table_path: Path, metrics_path: Path,
             scorecard_path: Path | None = None, informer_dir: Path | None = None,
             informer_metrics_path: Path | None = None) -> dict:
    """The ``loop`` stage: :func:`smeftfm.loop.pipeline.run_study`, then traces, tables and metrics on disk."""
    tiers = tiers_from_screen(params, screen_json)
    informer_metrics = _read_json(informer_metrics_path) if informer_metrics_path is not None else None
    with stage_run("loop", {"loop": params.loop.model_dump(), "physics": params.physics.model_dump()}) as run:
        t0 = time.perf_counter()
        blas = threadpool_limits(limits=1, user_api="blas")  # small matrices: one BLAS thread avoids oversubscription
        tracer = LoopTracer(run.mlflow, run.run.info.experiment_id if run.run is not None else None, run_id=run.run_id)
        study = run_study(params, tiers, traced_runner(tracer), informer_dir, informer_metrics)
        tracer.shutdown()
        blas.restore_original_limits()
        metrics = json_safe({**study.metrics, "seconds": {**study.metrics["seconds"],
                                                             "stage": time.perf_counter() - t0}})
        write_traces(study, tiers, params.loop.floor, out_dir)
        write_text(table_path, loop_table_markdown(study))
        write_json(metrics_path, metrics)
        if scorecard_path is not None:
            write_json(scorecard_path, json_safe(study.scorecard))
        log_study(run, study, metrics)
        run.log_artifact(table_path)
        run.log_artifact(metrics_path)
    return metrics


def _read_json(path: Path) -> dict:
    if not Path(path).exists():
        raise DataError(f"{path} not found; run `smeftfm informer` first (or `dvc repro informer`)")
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); re-run `smeftfm informer`") from None


# ------------------------------------------------------------------------------------------------ informer
def run_informer(params: Params, out_dir: Path, metrics_path: Path) -> dict:
    """The ``informer`` stage: JEPA training over ``informer.seeds``, linear-probe R^2 of the morphing terms.

    Targets on held-out probe events: tangents ``lin:k/SM`` and curvatures ``quad:a*b/SM`` (per-event ratios).
    Pool and probe sets are drawn from ``p_SM (m/m_lo)^mass_tilt`` and weighted back to the SM, so the weighted
    probe fit and R^2 estimate the SM-population values with enough high-mass events; the probe is fitted on one
    set and scored on an independent one, and also on a plain (unbiased, unweighted) SM sample. Writes
    ``models/informer/`` (one state dict per seed + config) and ``reports/metrics/informer.json``.
    """
    import torch

    from ..atomic import atomic_dir
    from ..data.events import sample_events, tilt_weights
    from ..device import pick_device
    from ..models.informer import (
        EventPool,
        InformerConfig,
        distinct_columns,
        encode,
        event_lifts,
        pooled,
        probe_r2,
        train_informer,
    )
    from ..models.ridge import RidgeHead
    from ..physics.morphing import term_names

    ip = params.informer
    ops = tuple(resolve(params.loop.leading)) + tuple(resolve(params.loop.subleading))
    cfg = InformerConfig(embed_dim=ip.embed_dim, hidden=ip.hidden, depth=ip.depth, events_per_set=ip.events_per_set,
                         working_points=ip.working_points, steps=ip.steps, lr=ip.lr, ridge=ip.ridge, ema=ip.ema,
                         var_weight=ip.var_weight, cov_weight=ip.cov_weight, coeff_max=ip.coeff_max,
                         aux_weight=ip.aux_weight)
    with stage_run("informer", {"informer": ip.model_dump(), "operators": list(ops)}) as run:
        t0 = time.perf_counter()
        oracle = oracle_from_params(params, ops)
        kmap = KinematicMap.from_oracle(oracle)
        r_pool, r_fit, r_test, r_sm = (np.random.default_rng(s) for s in np.random.SeedSequence(ip.seed).spawn(4))

        def draw(n, rng, tilt):
            m, y, c = sample_events(oracle, np.zeros(len(ops)), n, rng, mass_tilt=tilt)
            terms = oracle.event_terms(m, y, c, order="quadratic")
            return event_lifts(m, y, c, kmap), terms[:, 1:] / terms[:, :1], terms, \
                tilt_weights(m, tilt, oracle.acceptance.m_lo)

        pool_lifts, _, pool_terms, pool_w = draw(ip.n_pool, r_pool, ip.mass_tilt)
        fit_lifts, y_fit, _, w_fit = draw(ip.n_probe_fit, r_fit, ip.mass_tilt)
        test_lifts, y_test, _, w_test = draw(ip.n_probe, r_test, ip.mass_tilt)
        sm_lifts, y_sm, _, _ = draw(ip.n_probe, r_sm, 0.0)  # a plain SM sample: the literal protocol, unweighted
        mean = np.average(pool_lifts, axis=0, weights=pool_w)
        std = np.sqrt(np.average((pool_lifts - mean) ** 2, axis=0, weights=pool_w)) + 1e-12
        pool = EventPool(pool_lifts, pool_terms, len(ops), weights=pool_w).to(pick_device())
        names = term_names(ops, "quadratic")[1:]
        t_setup = time.perf_counter() - t0

        def score(features):
            """Probe fitted on the fit set: (weighted R^2 on the tilted test set, its bootstrap standard error,
            plain R^2 on the SM sample)."""
            f_fit, f_test, f_sm = (features(x) for x in (fit_lifts, test_lifts, sm_lifts))
            r2, se = probe_r2(f_fit, y_fit, f_test, y_test, weights_fit=w_fit, weights_test=w_test, n_boot=200)
            return r2, se, probe_r2(f_fit, y_fit, f_sm, y_sm, weights_fit=w_fit)

        def score_weighted(features):
            """Weighted R^2 on the tilted test set only (probe fitted on the fit set)."""
            return probe_r2(features(fit_lifts), y_fit, features(test_lifts), y_test, weights_fit=w_fit,
                            weights_test=w_test)

        lifts_r2, _, lifts_r2_sm = score(lambda x: (x - mean) / std)
        per_seed, per_seed_se, per_seed_sm, learned_r2, histories, sm_dev = [], [], [], [], {}, []
        states = {}
        snap_steps = (0, max(1, cfg.steps // 10))
        snaps: dict[int, dict] = {}
        for seed in ip.seeds:
            snap = {}
            enc, hist = train_informer(pool, cfg, seed, mean, std, snapshot_steps=snap_steps, snapshots=snap)
            snaps[seed] = snap
            histories[seed] = hist
            states[seed] = {k: v.cpu() for k, v in enc.state_dict().items()}
            r2, se, r2_sm = score(lambda x, e=enc: encode(e, x))
            per_seed.append(r2)
            per_seed_se.append(se)
            per_seed_sm.append(r2_sm)
            learned_r2.append(score_weighted(lambda x, e=enc: encode(e, x, True)))
            # ridge head on pooled context rows of working points: rank-one updates == direct solve
            gen = torch.Generator(device=pool.device).manual_seed(seed)
            cs = np.random.default_rng(seed).uniform(-cfg.coeff_max, cfg.coeff_max, size=(16, len(ops)))
            views, wts = pool.draw(cs, cfg.events_per_set, gen)
            with torch.no_grad():
                keys = pooled(enc(views[0]), wts[0]).double().cpu().numpy()
                vals = pooled(enc(views[1]), wts[1]).double().cpu().numpy()
            keys, vals = keys - keys.mean(0), vals - vals.mean(0)
            direct = RidgeHead.fit(keys, vals, ip.ridge)
            inc = RidgeHead(keys.shape[1], vals.shape[1], ip.ridge)
            for k, v in zip(keys, vals, strict=True):
                inc.update(k, v)
            sm_dev.append(float(np.max(np.abs(inc.weights - direct.weights)) / max(np.max(np.abs(direct.weights)),
                                                                                      1e-300)))
            for h in hist:
                run.log_metrics({f"seed{seed}_loss": h["loss"], f"seed{seed}_pred": h["pred"]}, step=h["step"])
        r2 = np.array(per_seed)  # [seeds, terms]
        med = np.median(r2, axis=0)
        med_sm = np.median(np.array(per_seed_sm), axis=0)
        tan = [i for i, n in enumerate(names) if n.startswith("lin:")]
        cur_all = [i for i, n in enumerate(names) if n.startswith("quad:")]
        cur = [cur_all[j] for j in distinct_columns(y_test[:, cur_all], w_test)]  # distinct functions only
        metrics = json_safe({
            "probe_r2": {n: [float(x) for x in r2[:, i]] for i, n in enumerate(names)},
            "probe_r2_median": {n: float(med[i]) for i, n in enumerate(names)},
            "probe_r2_bootstrap_se": {n: [float(x) for x in np.array(per_seed_se)[:, i]] for i, n in enumerate(names)},
            "tangent_r2_median": float(np.median(med[tan])),
            "tangent_r2_min": float(np.min(med[tan])),
            "curvature_r2_median": float(np.median(med[cur])),
            "curvature_terms_distinct": [names[i] for i in cur],
            "curvature_r2_median_all_terms": float(np.median(med[cur_all])),
            "contract_tangent_r2_ge_0p99": bool(np.min(med[tan]) >= 0.99),
            "probe_r2_sm_sample_median": {n: float(med_sm[i]) for i, n in enumerate(names)},
            "tangent_r2_sm_sample_median": float(np.median(med_sm[tan])),
            "lifts_only_r2": {n: float(lifts_r2[i]) for i, n in enumerate(names)},
            "lifts_only_r2_sm_sample": {n: float(lifts_r2_sm[i]) for i, n in enumerate(names)},
            "learned_only_r2_median": {n: float(np.median(np.array(learned_r2)[:, i])) for i, n in enumerate(names)},
            "tangent_r2_min_learned_only": float(np.min(np.median(np.array(learned_r2), axis=0)[tan])),
            "lifts_only_tangent_r2_min": float(np.min(lifts_r2[tan])),
            "n_seeds": len(ip.seeds),
            "sherman_morrison_rel_dev_max": float(max(sm_dev)),
            "final_loss": {str(s): histories[s][-1] for s in ip.seeds},
            "seconds": {"setup": t_setup, "total": time.perf_counter() - t0},
            "n_params": int(sum(p.numel() for p in enc.mlp.parameters())),
        })
        with atomic_dir(out_dir) as tmp:
            for seed, st in states.items():
                torch.save(st, tmp / f"encoder_seed{seed}.pt")
                for step, sst in snaps[seed].items():  # earlier checkpoints (step 0 = untrained) for the loop
                    torch.save(sst, tmp / f"encoder_seed{seed}_step{step}.pt")
            (tmp / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "operators": list(ops),
                                                         "n_lifts": int(pool_lifts.shape[1]),
                                                         "seeds": list(ip.seeds)}, indent=2))
        write_json(metrics_path, metrics)
        run.log_metrics({"tangent_r2_median": metrics["tangent_r2_median"],
                         "curvature_r2_median": metrics["curvature_r2_median"],
                         "seconds": metrics["seconds"]["total"]})
        run.log_artifact(metrics_path)
    return metrics
