"""Assembling the scorecard's data and configurations (library side of the ``scorecard`` stage).

* :func:`build_eval_data`: the SM covariance and precision of the corpus noise model, seen-universe replicas
  (corpus subsample), unseen universes (another seed) with their replicas and exact chi^2, SM replicas (cloud,
  null, inflated), and the signal replicas of the strength scan, chosen so that the chi^2 goodness-of-fit AUROC
  hits ``scorecard.gof_targets`` (analytic non-central chi^2, :mod:`.references`).
* :func:`paper_config` (the trained `train` stage encoder) and :func:`recommended_config` (metric learning,
  :mod:`.metric`), each with the replicas its probe and baselines are fit on.
* :func:`score_config`: the encoder and its baselines scored by :mod:`.scorecard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params
from ..data.joint_io import read_joint
from ..data.noise import NoiseModel
from ..data.templates_io import read_templates
from ..data.universes import align_coefficients, sample_coefficients
from ..errors import DataError
from .anomaly import auroc
from .datasets import load_split, load_theory
from .references import CountLikelihood, GofWhitening, Precision, noncentrality, strength_for_empirical_auroc
from .scorecard import (
    Embed,
    EvalData,
    Replicas,
    config_scorecard,
    input_retrieval,
    linear_baselines,
    reference_aurocs,
    score_embedding,
)
from .signals import SIGNALS, UNITS, SignalSpace

__all__ = [
    "ConfigModel", "build_eval_data", "fresh_universes", "paper_config", "recommended_config", "score_config",
    "strength_scan"
]

#: Bracket of the strength search: events (lower end absolute, upper end a fraction of the SM events in the
#: window), Z shift in GeV.
STRENGTH_RANGE = {"tail": (1e-3, 10.0), "resonance": (1e-3, 10.0), "combined": (1e-3, 0.3), "zshift": (1e-7, 20.0)}


@dataclass
class ConfigModel:
    """An encoder as a map raw spectra -> latent, its baselines' input features, and its training replicas."""

    embed: Embed
    features: Embed
    dim: int
    train: Replicas
    info: dict
    distance: Embed | None = None  # the latent block the SM-compatibility score and retrieval read (None: all)
    cloud: str = "mahalanobis"  # the SM-cloud distance of the score and the contours (scorecard.EuclideanCloud)


def _subsample(split, per_universe: int, coeffs: np.ndarray, rng: np.random.Generator) -> Replicas:
    """At most ``per_universe`` replicas of each universe of a corpus split (vectorised rank within label)."""
    lab = split.label
    order = np.lexsort((rng.random(len(lab)), lab))
    first = np.searchsorted(lab[order], lab[order], side="left")
    keep = order[(np.arange(len(lab)) - first) < per_universe]
    keep.sort()
    return Replicas(split.x[keep].astype(np.float64), lab[keep], coeffs[lab[keep]])


def _replicas(noise: NoiseModel, y: np.ndarray, cross: np.ndarray | None, n: int, seed: int,
              coeffs: np.ndarray, offset: int = 0) -> Replicas:
    """``n`` replicas of each spectrum y[u] (stream [seed, u]), labels offset + u."""
    xs = [noise.sample(y[u], n, np.random.default_rng([seed, u]), None if cross is None else cross[u])
          for u in range(len(y))]
    lab = np.repeat(np.arange(len(y)) + offset, n)
    return Replicas(np.concatenate(xs), lab, np.repeat(coeffs, n, axis=0))


def fresh_universes(params: Params, theory, templates, joint, n: int, seed: int):
    """(coefficients [n, P] over the theory's operators, spectra [n, B], 2-D cross sections or None)."""
    u = params.universes
    c = sample_coefficients(n, len(theory.operators), seed, u.log_lo, u.log_hi, u.p_zero_max, u.zero_scope)
    order = params.physics.order
    y = templates.predict(align_coefficients(theory.operators, c, templates.operators, order), order=order)
    cross = joint.cross_sections(theory.operators, c, order) if joint is not None else None
    return c, y, cross


def _sm_density(params: Params, lo: float, hi: float):
    """dsigma/dm_ll of the SM (pb/GeV) from the oracle, tabulated once (0.05 GeV at the Z, 0.5 GeV elsewhere)
    and interpolated linearly: the strength scans call it many times."""
    from ..physics.oracle import oracle_from_params

    oracle = oracle_from_params(params)
    m_z = oracle.ew.m_z
    grid = np.union1d(np.arange(lo, hi + 1e-9, 0.5), np.arange(max(lo, m_z - 25), min(hi, m_z + 25), 0.05))
    f = oracle.mass_spectrum(grid, cuts=True, order="linear")[:, 0]
    return lambda m: np.interp(m, grid, f)


def strength_scan(space: SignalSpace, lik: CountLikelihood, noise: NoiseModel, cov: np.ndarray, targets,
                  n: int = 2000, seed: int = 0) -> dict[str, list[tuple[str, np.ndarray, dict]]]:
    """Per signal, the strengths (physical units) at which the measured GoF AUROC (:class:`CountLikelihood`) of
    ``n`` signal against ``n`` SM replicas equals each target, with common random numbers so that the AUROC is
    monotone in the strength; as (key, delta [pb/GeV], info), key = the strength to 4 significant digits."""
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    a = v * np.sqrt(np.clip(w, 0.0, None))
    rng = np.random.default_rng(seed)
    gof_null = lik.gof(noise.from_normals(rng.standard_normal((n, a.shape[0])), space.y_sm, a, cov))
    z_sig = rng.standard_normal((n, a.shape[0]))

    def gof_auroc_of(sig):
        return lambda s: auroc(lik.gof(noise.from_normals(z_sig, space.y_sm + space.delta(sig, s), a, cov)),
                               gof_null)

    out = {}
    for sig in SIGNALS:
        lo, hi = STRENGTH_RANGE[sig]
        if UNITS[sig] == "events":
            hi = hi * space.sm_events
        out[sig] = []
        for target in targets:
            s = strength_for_empirical_auroc(target, gof_auroc_of(sig), lo, hi)
            delta = space.delta(sig, s)
            out[sig].append((f"{s:.4g}", delta, {
                "value": s, "units": UNITS[sig], "target_gof_auroc": target,
                "gaussian_noncentrality": noncentrality(delta, lik.prec_full) if lik.prec_full else None,
                "events_moved": space.events_moved(delta)}))
    return out


def build_eval_data(params: Params, corpus_dir: Path, spectra: Path, universes: Path, templates_path: Path,
                    joint_path: Path) -> tuple[EvalData, dict]:
    sp = params.scorecard
    t = read_templates(templates_path)
    theory = load_theory(spectra, universes)
    noise = NoiseModel.from_params(params, t)
    joint = read_joint(joint_path)
    if tuple(joint.operators) != tuple(t.operators):
        raise DataError(f"{joint_path} and {templates_path} cover different operators; re-run `dvc repro`")
    cross_sm = joint.sm if noise.nugget < 1 else None
    cov_sm = noise.covariance(theory.y_sm, cross_sm)
    prec = Precision(cov_sm, params.heads.chi2_rcond)
    rng = np.random.default_rng(sp.seed)
    seen_train = _subsample(load_split(corpus_dir, "train"), sp.seen_train_per_universe, theory.coeffs, rng)
    seen_test = _subsample(load_split(corpus_dir, "test"), sp.seen_test_per_universe, theory.coeffs, rng)
    c_un, y_un, cross_un = fresh_universes(params, theory, t, joint if noise.nugget < 1 else None, sp.n_unseen,
                                           params.universes.seed + 1)
    unseen = _replicas(noise, y_un, cross_un, sp.unseen_replicas, sp.seed + 1, c_un)

    def sm(n: int, stream: int, cov=cov_sm) -> np.ndarray:
        return noise.sample(theory.y_sm, n, np.random.default_rng([sp.seed, stream]), cov=cov)

    def gaussian(n: int, stream: int, k: float) -> np.ndarray:  # k x the uncertainty, no Poisson re-mapping
        w, v = np.linalg.eigh(cov_sm)
        a = v * np.sqrt(np.clip(w, 0.0, None))
        z = np.random.default_rng([sp.seed, stream]).standard_normal((n, theory.y_sm.size))
        return theory.y_sm + k * (z @ a.T)

    edges = {b.observable: b.edges for b in t.binnings}
    space = SignalSpace(theory.y_sm, joint.sm, edges["mll"], edges["pt"], noise.lumi,
                        _sm_density(params, edges["mll"][0], edges["mll"][-1]),
                        sp.tail_from_gev, sp.bw_mass_gev, sp.bw_width_gev)
    lik = CountLikelihood(theory.y_sm, cov_sm, noise.counts_per_unit(), noise.poisson_below,
                          params.heads.chi2_rcond, full=prec)
    scan = strength_scan(space, lik, noise, cov_sm, sp.gof_targets, sp.n_signal, sp.seed + 7)
    signals = {sig: {} for sig in scan}
    strengths = {sig: {} for sig in scan}
    for si, (sig, points) in enumerate(scan.items()):
        for ti, (key, delta, info) in enumerate(points):
            x = noise.sample(theory.y_sm + delta, sp.n_signal, np.random.default_rng([sp.seed, 100 + 10 * si + ti]),
                             cov=cov_sm)
            signals[sig][key] = (x, delta)
            strengths[sig][key] = info
    ev = EvalData(y_sm=theory.y_sm, prec=prec, lik=lik, seen_train=seen_train, seen_test=seen_test, unseen=unseen,
                  unseen_truth_chi2=prec.chi2(y_un, theory.y_sm), sm_fit=sm(sp.n_sm_fit, 1),
                  sm_null=sm(sp.n_sm_null, 2),
                  sm_inflated={k: gaussian(sp.n_sm_fit, 10 + i, k) for i, k in enumerate(params.heads.sigma_levels)},
                  signals=signals, levels=tuple(params.heads.sigma_levels), knn_k=params.train.knn_k)
    ctx = {"strengths": strengths, "units": UNITS, "noise": noise, "joint": joint, "templates": t, "theory": theory,
           "nu": prec.nu}
    return ev, ctx


def paper_config(model_dir: Path, ev: EvalData) -> ConfigModel:
    """The `train` stage's encoder (the paper's architecture, loss and 2-D latent) with its input transform."""
    import torch

    from .bundle import load_encoder

    model, meta = load_encoder(model_dir)

    def embed(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(np.float64)

    def features(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.features(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(np.float64)

    dim = int(model.encoder.cfg.latent_dim)
    return ConfigModel(embed, features, dim, ev.seen_train, {"latent_dim": dim, "train": meta.get("train")})


def recommended_config(params: Params, ev: EvalData, ctx: dict) -> ConfigModel:
    """Metric learning on chi^2 distances, trained on the seen replicas plus ``extra_universes`` more."""
    from .metric import MetricConfig, train_metric
    from .transforms import InputTransform

    rp = params.scorecard.recommended
    parts = [ev.seen_train]
    if rp.extra_universes:
        noise, joint = ctx["noise"], ctx["joint"]
        c, y, cross = fresh_universes(params, ctx["theory"], ctx["templates"], joint if noise.nugget < 1 else None,
                                      rp.extra_universes, params.universes.seed + 2)
        parts.append(_replicas(noise, y, cross, rp.replicas_per_universe, params.scorecard.seed + 2, c,
                               offset=int(ev.seen_train.label.max()) + 1))
    train = Replicas(np.concatenate([p.x for p in parts]), np.concatenate([p.label for p in parts]),
                     np.concatenate([p.coeffs for p in parts]))
    cfg = MetricConfig(latent_dim=rp.latent_dim, depth=rp.depth, width=rp.width, lr=rp.lr, steps=rp.steps,
                       batch_size=rp.batch_size, identity_init=rp.identity_init, coef_width=rp.coef_width,
                       coef_weight=rp.coef_weight, seed=rp.seed)
    white = GofWhitening(ev.lik) if rp.whitening == "gof" else ev.prec
    emb, stats = train_metric(train.x, train.label, white, ev.y_sm, cfg, coeffs=train.coeffs)
    tr = InputTransform.fit(params.train.input_transform, train.x, ev.y_sm, params.train.transform_floor)
    # baselines reduce to the width of the whole latent (metric block + supervised head) but at most the inputs'
    dim = min(emb.latent_dim, ev.prec.nu)
    return ConfigModel(emb, lambda x: tr(x).astype(np.float64), dim, train,
                       {"latent_dim": emb.latent_dim, "n_universes": int(len(np.unique(train.label))),
                        "supervised_coefficient_head": stats["coef_dim"] > 0, "whitening": rp.whitening, **stats},
                       distance=emb.metric, cloud=rp.cloud)


def score_config(name: str, cm: ConfigModel, ev: EvalData, scenario: str) -> tuple[dict, dict, pd.DataFrame]:
    """(scorecard entry, details, AUROC curves) of one configuration."""
    ev_c = EvalData(**{**ev.__dict__, "seen_train": cm.train}) if cm.train is not ev.seen_train else ev
    # k-NN on the seen universes always uses the corpus universes (same for every configuration)
    enc = score_embedding(cm.embed, ev_c, cm.distance, cm.cloud, knn=ev)  # type: ignore[arg-type]
    base_fns = linear_baselines(cm.train, cm.features, ev.prec, ev.y_sm, cm.dim)
    bases = {bname: score_embedding(fn, ev_c, knn=ev) for bname, fn in base_fns.items()}
    if "reference_aurocs" not in ev.extra:  # the same for every configuration: computed once
        ev.extra["reference_aurocs"] = reference_aurocs(ev)
    refs = ev.extra["reference_aurocs"]
    entry = config_scorecard(scenario, enc, bases, refs)
    table = [{"signal": sig, "strength": float(key), "auroc": v["auroc"], "auroc_gof": v["auroc_gof"],
              "auroc_optimal": v["auroc_optimal"], **{f"auroc_{b}": bases[b]["anomaly"][sig][key] for b in bases}}
             for sig, per in entry["anomaly"].items() for key, v in per.items()]  # list form: docs markers
    details = {"info": cm.info, "encoder": enc, "baselines": bases, "input_retrieval": input_retrieval(ev),
               "anomaly_table": table,
               "min_gap_to_gof": min(r["auroc"] - r["auroc_gof"] for r in table) if table else None}
    rows = []
    for sig, per in refs.items():
        for key, r in per.items():
            rows += [{"config": name, "signal": sig, "strength": float(key), "method": m, "auroc": v}
                     for m, v in (("gof", r["auroc_gof"]), ("optimal", r["auroc_optimal"]),
                                  ("encoder", enc["anomaly"][sig][key]),
                                  *((b, bases[b]["anomaly"][sig][key]) for b in bases))]
    return entry, details, pd.DataFrame(rows)
