r"""The ManifoldInformer study behind the ``informer`` stage: event sets, training over seeds, probe R^2 metrics.

* **Event sets** (:func:`informer_events`): an SM pool resampled into training views and three probe sets (fit,
  test, plain SM), drawn from ``p_SM (m/m_lo)^mass_tilt`` and weighted back to the SM (the plain SM set is
  unweighted, the literal protocol), with the per-event morphing terms from the oracle.
* **Training** (:func:`train_informers`): ``informer.stack`` models at a time in one stacked network (on this
  2-core CPU one at a time is fastest: a stack of ten keeps its activations out of cache). With ``aux_weight`` > 0 the
  headline informer carries the supervised auxiliary objective and, with ``jepa_companion``, a JEPA-only companion
  per seed (same initialisation and working points, weight 0) trains in the same stack and is reported beside it.
* **Scores** (:func:`score_informers`): held-out linear-probe R^2 of the tangents ``lin:k/SM`` and distinct
  curvatures ``quad:a*b/SM`` from the full features ``[lifts, learned]``, the learned block alone and the lifts alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_dir
from ..data.events import sample_events, tilt_weights
from ..physics.kinematics import KinematicMap
from ..physics.morphing import term_names
from ..physics.oracle import Oracle
from .informer import (
    EventEncoder,
    EventPool,
    InformerConfig,
    distinct_columns,
    encode,
    event_lifts,
    pooled,
    probe_r2,
    train_informers,
)
from .ridge import RidgeHead

__all__ = ["InformerEvents", "InformerStudy", "informer_config", "informer_events", "probe_scores",
           "run_informer_study", "save_informer_study", "score_informers"]


def informer_config(ip) -> InformerConfig:
    """:class:`InformerConfig` from the ``informer`` params block."""
    return InformerConfig(**{k: getattr(ip, k) for k in InformerConfig.__dataclass_fields__})


@dataclass
class InformerEvents:
    """Training pool and probe sets: lifts ``[n, 77]``, targets ``T/SM`` ``[n, n_terms]``, importance weights."""

    pool: EventPool
    mean: np.ndarray
    std: np.ndarray
    fit: tuple[np.ndarray, np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray, np.ndarray]
    sm: tuple[np.ndarray, np.ndarray]
    names: list[str]


def informer_events(oracle: Oracle, ip, device: torch.device | str = "cpu") -> InformerEvents:
    """Draw the pool and probe sets of ``ip`` (``informer`` params) from ``oracle`` at the SM."""
    kmap = KinematicMap.from_oracle(oracle)
    k = len(oracle.operators)
    r_pool, r_fit, r_test, r_sm = (np.random.default_rng(s) for s in np.random.SeedSequence(ip.seed).spawn(4))

    def draw(n, rng, tilt):
        m, y, c = sample_events(oracle, np.zeros(k), n, rng, mass_tilt=tilt)
        terms = oracle.event_terms(m, y, c, order="quadratic")
        return event_lifts(m, y, c, kmap), terms[:, 1:] / terms[:, :1], terms, tilt_weights(m, tilt,
                                                                                             oracle.acceptance.m_lo)

    pool_lifts, _, pool_terms, pool_w = draw(ip.n_pool, r_pool, ip.mass_tilt)
    fit_lifts, y_fit, _, w_fit = draw(ip.n_probe_fit, r_fit, ip.mass_tilt)
    test_lifts, y_test, _, w_test = draw(ip.n_probe, r_test, ip.mass_tilt)
    sm_lifts, y_sm, _, _ = draw(ip.n_probe, r_sm, 0.0)
    mean = np.average(pool_lifts, axis=0, weights=pool_w)
    std = np.sqrt(np.average((pool_lifts - mean) ** 2, axis=0, weights=pool_w)) + 1e-12
    pool = EventPool(pool_lifts, pool_terms, k, weights=pool_w).to(device)
    return InformerEvents(pool, mean, std, (fit_lifts, y_fit, w_fit), (test_lifts, y_test, w_test),
                          (sm_lifts, y_sm), term_names(tuple(oracle.operators), "quadratic")[1:])


def probe_scores(ev: InformerEvents, features, boot: bool):
    """Probe fitted on the fit set: weighted R^2 on the tilted test set (+ bootstrap se and plain SM-sample R^2)."""
    (xf, yf, wf), (xt, yt, wt), (xs, ys) = ev.fit, ev.test, ev.sm
    f_fit, f_test = features(xf), features(xt)
    if not boot:
        return probe_r2(f_fit, yf, f_test, yt, weights_fit=wf, weights_test=wt)
    r2, se = probe_r2(f_fit, yf, f_test, yt, weights_fit=wf, weights_test=wt, n_boot=200)
    return r2, se, probe_r2(f_fit, yf, features(xs), ys, weights_fit=wf)


def _ridge_head_check(enc: EventEncoder, ev: InformerEvents, cfg: InformerConfig, seed: int) -> float:
    """Max relative deviation of the rank-one-updated ridge head from the direct solve on pooled context rows."""
    gen = torch.Generator(device=ev.pool.device).manual_seed(seed)
    cs = np.random.default_rng(seed).uniform(-cfg.coeff_max, cfg.coeff_max, size=(16, ev.pool.n_operators))
    views, wts = ev.pool.draw(cs, cfg.events_per_set, gen)
    with torch.no_grad():
        keys = pooled(enc(views[0]), wts[0]).double().cpu().numpy()
        vals = pooled(enc(views[1]), wts[1]).double().cpu().numpy()
    keys, vals = keys - keys.mean(0), vals - vals.mean(0)
    direct = RidgeHead.fit(keys, vals, cfg.ridge)
    inc = RidgeHead(keys.shape[1], vals.shape[1], cfg.ridge)
    for k, v in zip(keys, vals, strict=True):
        inc.update(k, v)
    return float(np.max(np.abs(inc.weights - direct.weights)) / max(np.max(np.abs(direct.weights)), 1e-300))


def score_informers(ev: InformerEvents, encoders: list[EventEncoder], companions: list[EventEncoder],
                    histories: list[list[dict]], cfg: InformerConfig, seeds: list[int]) -> dict:
    """Probe-R^2 metrics of the trained encoders (medians over seeds; distinct curvature terms only)."""
    names, (_, y_test, w_test) = ev.names, ev.test
    lifts_r2, _, lifts_r2_sm = probe_scores(ev, lambda x: (x - ev.mean) / ev.std, True)
    full = [probe_scores(ev, lambda x, e=e: encode(e, x), True) for e in encoders]
    r2, se, r2_sm = (np.array([f[i] for f in full]) for i in range(3))  # [seeds, terms]
    learned = np.array([probe_scores(ev, lambda x, e=e: encode(e, x, True), False) for e in encoders])
    med, med_sm, med_l = np.median(r2, axis=0), np.median(r2_sm, axis=0), np.median(learned, axis=0)
    tan = [i for i, n in enumerate(names) if n.startswith("lin:")]
    cur_all = [i for i, n in enumerate(names) if n.startswith("quad:")]
    cur = [cur_all[j] for j in distinct_columns(y_test[:, cur_all], w_test)]
    out = {
        "objective": "jepa+supervised_aux" if cfg.aux_weight > 0 else "jepa",
        "aux_weight": cfg.aux_weight,
        "steps": cfg.steps,
        "lr_schedule": cfg.lr_schedule,
        "probe_r2": {n: [float(x) for x in r2[:, i]] for i, n in enumerate(names)},
        "probe_r2_median": {n: float(med[i]) for i, n in enumerate(names)},
        "probe_r2_bootstrap_se": {n: [float(x) for x in se[:, i]] for i, n in enumerate(names)},
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
        "learned_only_r2": {n: [float(x) for x in learned[:, i]] for i, n in enumerate(names) if i in tan},
        "learned_only_r2_median": {n: float(med_l[i]) for i, n in enumerate(names)},
        "tangent_r2_min_learned_only": float(np.min(med_l[tan])),
        "lifts_only_tangent_r2_min": float(np.min(lifts_r2[tan])),
        "n_seeds": len(seeds),
        "sherman_morrison_rel_dev_max": max(_ridge_head_check(e, ev, cfg, s) for e, s in zip(encoders, seeds,
                                                                                                strict=True)),
        "final_loss": {str(s): h[-1] for s, h in zip(seeds, histories, strict=True)},
        "n_params": int(sum(p.numel() for p in encoders[0].mlp.parameters())),
        "jepa_only": None,
    }
    if companions:  # the self-supervised JEPA-only informer of the same seeds, reported beside the supervised one
        fc = np.array([probe_scores(ev, lambda x, e=e: encode(e, x), False) for e in companions])
        lc = np.array([probe_scores(ev, lambda x, e=e: encode(e, x, True), False) for e in companions])
        mf, ml = np.median(fc, axis=0), np.median(lc, axis=0)
        out["jepa_only"] = {"probe_r2_median": {names[i]: float(mf[i]) for i in tan},
                            "learned_only_r2_median": {names[i]: float(ml[i]) for i in tan},
                            "learned_only_r2": {names[i]: [float(x) for x in lc[:, i]] for i in tan},
                            "tangent_r2_min": float(np.min(mf[tan])),
                            "tangent_r2_min_learned_only": float(np.min(ml[tan])), "n_seeds": len(companions)}
    return out


@dataclass
class InformerStudy:
    """Trained encoders (headline per seed, JEPA-only companions), snapshots per seed and the metrics."""

    cfg: InformerConfig
    seeds: list[int]
    encoders: list[EventEncoder]
    companions: list[EventEncoder]
    snapshots: dict[int, dict[int, dict]]
    histories: dict[int, list[dict]]
    metrics: dict = field(default_factory=dict)
    n_lifts: int = 0
    operators: list[str] = field(default_factory=list)


def run_informer_study(oracle: Oracle, ip, device: torch.device | str = "cpu") -> InformerStudy:
    """Events, training of every seed at once (and the JEPA-only companions), probe metrics with stage timings."""
    t0 = time.perf_counter()
    cfg, seeds = informer_config(ip), [int(s) for s in ip.seeds]
    ev = informer_events(oracle, ip, device)
    t_setup = time.perf_counter()
    twin = cfg.aux_weight > 0 and ip.jepa_companion
    aux = [cfg.aux_weight] * len(seeds) + ([0.0] * len(seeds) if twin else [])
    models = seeds * (2 if twin else 1)
    snaps: dict[int, dict] = {}
    trained: list = []
    for lo in range(0, len(models), ip.stack):  # ``stack`` models per stacked network (1: one after another)
        part: dict[int, dict] = {}
        trained += train_informers(ev.pool, cfg, models[lo : lo + ip.stack], ev.mean, ev.std,
                                   aux_weights=aux[lo : lo + ip.stack], snapshot_steps=(0, max(1, cfg.steps // 10)),
                                   snapshots=part)
        snaps.update({lo + j: v for j, v in part.items()})
    t_train = time.perf_counter()
    encs = [e for e, _ in trained]
    hist = [h for _, h in trained]
    metrics = score_informers(ev, encs[: len(seeds)], encs[len(seeds):], hist[: len(seeds)], cfg, seeds)
    t_end = time.perf_counter()
    metrics["seconds"] = {"setup": t_setup - t0, "train": t_train - t_setup, "score": t_end - t_train,
                          "total": t_end - t0, "torch_threads": torch.get_num_threads()}
    return InformerStudy(cfg, seeds, encs[: len(seeds)], encs[len(seeds):],
                         {s: snaps.get(i, {}) for i, s in enumerate(seeds)}, dict(zip(seeds, hist, strict=False)),
                         metrics, int(ev.pool.lifts.shape[1]), list(oracle.operators))


def save_informer_study(study: InformerStudy, out_dir: Path) -> None:
    """Write ``out_dir`` atomically: ``encoder_seed{s}.pt`` per seed, snapshots ``encoder_seed{s}_step{k}.pt``
    (step 0 = untrained), the JEPA-only companions under ``jepa/`` and ``config.json``."""
    with atomic_dir(out_dir) as tmp:
        (tmp / "jepa").mkdir()
        for i, seed in enumerate(study.seeds):
            torch.save({k: v.cpu() for k, v in study.encoders[i].state_dict().items()}, tmp / f"encoder_seed{seed}.pt")
            for step, sst in study.snapshots[seed].items():
                torch.save(sst, tmp / f"encoder_seed{seed}_step{step}.pt")
            if study.companions:
                torch.save({k: v.cpu() for k, v in study.companions[i].state_dict().items()},
                           tmp / "jepa" / f"encoder_seed{seed}.pt")
        (tmp / "config.json").write_text(json.dumps({"config": study.cfg.to_dict(), "operators": study.operators,
                                                     "n_lifts": study.n_lifts, "seeds": study.seeds}, indent=2))
