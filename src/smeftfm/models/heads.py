"""The heads on the frozen latent, as named steps: DPN fit, uncertainty maps, anomaly AUROCs, SM retrieval.

The ``heads`` stage (:func:`smeftfm.stages.models.run_heads`) only wires these together. One
``numpy.random.Generator`` is threaded through the steps in a fixed order (DPN training rows, SM replicas, reference
rows, anomaly base replicas, null ranges), so the outputs are a pure function of ``heads.seed``.
Units: spectra in pb/GeV, entropies and mutual information in nats, chi^2 dimensionless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..atomic import atomic_dir, json_safe, write_json
from ..config import Params
from ..data.parquet_io import write_parquet
from ..errors import DataError, SmeftfmError
from .anomaly import SIGNALS, InjectionConfig, auroc, injected_spectra
from .datasets import Theory
from .dirichlet import DirichletHead, DPNConfig, dpn_outputs, expected_calibration_error, train_dpn
from .references import Precision
from .retrieval import LatentContours, chi2_threshold, coefficient_ranges, null_ranges, precision_recall

__all__ = ["AnomalyResult", "DPNResult", "RetrievalResult", "anomaly_study", "fit_dpn", "latent_columns",
           "retrieval_study", "sm_density", "uncertainty_maps", "write_heads"]

_log = logging.getLogger(__name__)


def latent_columns(rep: pd.DataFrame, where: Path) -> list[str]:
    """The latent columns ``z_0, z_1, ...`` of an embeddings table, in order (at least two)."""
    zc = sorted((c for c in rep.columns if c.startswith("z_") and c[2:].isdigit()), key=lambda c: int(c[2:]))
    if not zc:
        raise DataError(f"{where} has no latent columns z_*; re-run `smeftfm train`")
    if len(zc) < 2:
        raise SmeftfmError("the heads need a latent of at least 2 dimensions (maps, contours); "
                           "set train.latent_dim >= 2")
    return zc


@dataclass
class DPNResult:
    head: DirichletHead
    z_train: np.ndarray  # the DPN's training rows of the latent
    z_test: np.ndarray
    y_test: np.ndarray
    metrics: dict


def fit_dpn(rep: pd.DataFrame, zc: list[str], n_univ: int, hp, rng: np.random.Generator) -> DPNResult:
    """Train the DPN on ``heads.dpn_train_rows`` training replicas; accuracy, ECE and entropies on the test split."""
    tr = rep[rep["split"] == "train"]
    te = rep[rep["split"] == "test"]
    pick = rng.choice(len(tr), size=min(hp.dpn_train_rows, len(tr)), replace=False)
    z_tr = tr[zc].to_numpy(np.float32)[pick]
    y_tr = tr["label"].to_numpy(np.int64)[pick]
    z_te, y_te = te[zc].to_numpy(np.float32), te["label"].to_numpy(np.int64)
    dcfg = DPNConfig(hidden=hp.dpn_hidden, depth=hp.dpn_depth, epochs=hp.dpn_epochs,
                     batch_size=hp.dpn_batch_size, lr=hp.dpn_lr, target_precision=hp.dpn_target_precision,
                     ood_fraction=hp.dpn_ood_fraction, seed=hp.seed)
    head = train_dpn(z_tr, y_tr, n_univ, dcfg)
    o_te = dpn_outputs(head, z_te)
    correct = o_te["pred"] == y_te
    metrics = {"accuracy": float(correct.mean()),
               "ece": expected_calibration_error(o_te["confidence"], correct, hp.ece_bins),
               "mean_entropy_test": float(o_te["entropy"].mean()), "mean_mi_test": float(o_te["mi"].mean()),
               "max_entropy": float(np.log(n_univ))}
    return DPNResult(head, z_tr, z_te, y_te, metrics)


def uncertainty_maps(head: DirichletHead, z_tr: np.ndarray, grid_n: int) -> pd.DataFrame:
    """DPN uncertainties (nats) on a ``grid_n`` x ``grid_n`` grid over the first two latent axes (padded by a
    quarter of the span; further axes sliced at the median of ``z_tr``)."""
    lo, hi = z_tr.min(0), z_tr.max(0)
    pad = 0.25 * (hi - lo)
    axes = [np.linspace(lo[k] - pad[k], hi[k] + pad[k], grid_n) for k in range(2)]
    g0, g1 = np.meshgrid(*axes, indexing="ij")
    grid = np.tile(np.median(z_tr, 0), (g0.size, 1)).astype(np.float32)  # slice at the median beyond 2-D
    grid[:, 0], grid[:, 1] = g0.ravel(), g1.ravel()
    o_g = dpn_outputs(head, grid)
    return pd.DataFrame({"z_0": grid[:, 0], "z_1": grid[:, 1], "entropy": o_g["entropy"],
                         "expected_entropy": o_g["expected_entropy"], "mi": o_g["mi"], "alpha0": o_g["alpha0"]})


def _edges(templates, observable: str) -> np.ndarray:
    for b in templates.binnings:
        if b.observable == observable:
            return np.asarray(b.edges, dtype=np.float64)
    raise DataError(f"templates have no {observable} binning")


def _injection(hp) -> InjectionConfig:
    return InjectionConfig(units=hp.signal_units, tail_amplitude=hp.tail_amplitude, z_shift_gev=hp.z_shift_gev,
                           bw_mass_gev=hp.bw_mass_gev, bw_width_gev=hp.bw_width_gev, bw_strength=hp.bw_strength)


def _put(y: np.ndarray, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of ``y`` with ``y[idx] = values``."""
    out = np.array(y, dtype=np.float64, copy=True)
    out[idx] = values
    return out


def sm_density(params: Params):
    """dsigma/dm_ll of the SM in the acceptance (pb/GeV), from the oracle, for the exact Z-peak shift (None, with
    a warning, when the oracle cannot be built)."""
    from ..physics.oracle import oracle_from_params, quadrature_from_params

    try:
        oracle = oracle_from_params(params)
    except SmeftfmError as err:
        _log.warning("exact SM density unavailable (%s); the Z-shift uses the binned cumulative", err)
        return None

    def density(m: np.ndarray) -> np.ndarray:
        return oracle.mass_spectrum(m, cuts=True, order="linear", spec=quadrature_from_params(params))[:, 0]

    return density


@dataclass
class AnomalyResult:
    z_sm: np.ndarray  # latent of the SM replicas [n_sm_replicas, d]
    metrics: dict
    scored: pd.DataFrame  # per replica: signal, z_0, z_1, entropy, mi
    injected: pd.DataFrame  # the injected spectra (pb/GeV) per signal, the SM and the column names


def anomaly_study(head: DirichletHead, model, dpn: DPNResult, noise, y_sm: np.ndarray, cov_sm: np.ndarray,
                  templates, theory: Theory, hp, density, rng: np.random.Generator) -> AnomalyResult:
    """SM replicas and injected anomalies under the corpus uncertainty model, embedded by ``model`` (raw spectra
    -> latent) and scored by the DPN's MI and entropy against in-distribution test replicas (AUROC)."""

    def embed_raw(y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(y, dtype=torch.float32)).numpy()

    z_sm = embed_raw(noise.sample(y_sm, hp.n_sm_replicas, rng, cov=cov_sm))
    # the signals deform the m_ll and p_T histograms; any further observable keeps its SM values
    mp = np.r_[templates.slice("mll"), templates.slice("pt")]
    inj = {k: _put(y_sm, mp, v) for k, v in injected_spectra(
        y_sm[mp], _edges(templates, "mll"), _edges(templates, "pt"), _injection(hp), density,
        sigma=np.sqrt(np.clip(np.diag(cov_sm), 0.0, None))[mp]).items()}
    z_te = dpn.z_test
    ref = rng.choice(len(z_te), size=min(hp.n_anomaly_replicas, len(z_te)), replace=False)
    o_ref = dpn_outputs(head, z_te[ref])
    base = noise.sample(y_sm, hp.n_anomaly_replicas, rng, cov=cov_sm)
    o_sm = dpn_outputs(head, z_sm[: hp.n_anomaly_replicas])
    metrics = {"sm_reference": {"auroc_mi": auroc(o_sm["mi"], o_ref["mi"]),
                                "auroc_entropy": auroc(o_sm["entropy"], o_ref["entropy"])}}
    scored = []
    for sig in SIGNALS:
        z_a = embed_raw(base + (inj[sig] - y_sm))
        o_a = dpn_outputs(head, z_a)
        metrics[sig] = {"auroc_mi": auroc(o_a["mi"], o_ref["mi"]), "auroc_entropy": auroc(o_a["entropy"],
                                                                                          o_ref["entropy"]),
                        "median_mi": float(np.median(o_a["mi"]))}
        scored.append(pd.DataFrame({"signal": sig, "z_0": z_a[:, 0], "z_1": z_a[:, 1], "entropy": o_a["entropy"],
                                    "mi": o_a["mi"]}))
    scored.append(pd.DataFrame({"signal": "in_distribution", "z_0": z_te[ref, 0], "z_1": z_te[ref, 1],
                                "entropy": o_ref["entropy"], "mi": o_ref["mi"]}))
    injected = pd.DataFrame({sig: inj[sig] for sig in SIGNALS} | {"SM": y_sm, "column": list(theory.columns)})
    return AnomalyResult(z_sm, metrics, pd.concat(scored, ignore_index=True), injected)


def _long_coefficients(level: str, labels: np.ndarray, theory: Theory) -> pd.DataFrame:
    """Long table (level, label, operator, value) of the coefficients of the given universes (violin data)."""
    labels = np.asarray(labels, dtype=np.int64)
    n_op = len(theory.operators)
    return pd.DataFrame({"level": level, "label": np.repeat(labels, n_op).astype(np.int32),
                         "operator": np.tile(np.asarray(theory.operators, dtype=object), len(labels)),
                         "value": theory.coeffs[labels].ravel()})


@dataclass
class RetrievalResult:
    contours: LatentContours
    dof: int
    metrics: dict
    table: list[dict]
    ranges: pd.DataFrame
    coefficients: pd.DataFrame  # long table of the retrieved universes' coefficients per level (violins)
    per_universe: pd.DataFrame
    contour_lines: pd.DataFrame


def retrieval_study(z_sm: np.ndarray, uni: pd.DataFrame, zc: list[str], theory: Theory, cov_sm: np.ndarray, hp,
                    rng: np.random.Generator) -> RetrievalResult:
    """Latent contours of the SM replicas vs the exact chi^2 truth of every universe, per ``heads.sigma_levels``."""
    contours = LatentContours(z_sm)
    uni = uni.sort_values("label")
    labels = uni["label"].to_numpy()
    z_u = uni[zc].to_numpy(np.float64)
    y_u = theory.y[labels]
    prec = Precision(cov_sm, hp.chi2_rcond)  # the scorecard's truth: Sigma scaled to correlations first
    y_sm = theory.y_sm
    chi2, dof = prec.chi2(y_u, y_sm), prec.nu
    chi2_diag = (((y_u - y_sm) ** 2) / np.where(np.diag(cov_sm) > 0, np.diag(cov_sm), np.inf)).sum(1)
    n_bins = int(np.sum(np.diag(cov_sm) > 0))
    d2 = contours.mahalanobis2(z_u)
    metrics, table, ranges, violin = {}, [], [], []
    for lvl in hp.sigma_levels:
        key = f"{lvl:g}sigma"
        inside = d2 <= contours.radius2(lvl)
        truth = chi2 <= chi2_threshold(lvl, dof)
        truth_diag = chi2_diag <= chi2_threshold(lvl, n_bins)
        metrics[key] = precision_recall(inside, truth)
        # secondary truth ignoring bin correlations (the full-covariance chi^2 is dominated by the
        # RBF kernel's small eigen-directions; see docs/models.md)
        diag = precision_recall(inside, truth_diag)
        metrics[key].update({f"diag_{k}": v for k, v in diag.items() if k != "n_retrieved"})
        labels_in = labels[inside]
        table.append({"level": key, "universes": [int(v) for v in labels_in],
                      "names": [theory.names[v] for v in labels_in], "count": int(inside.sum()),
                      "truth": [int(v) for v in labels[truth]], "truth_diagonal": [int(v) for v in labels[truth_diag]]})
        cr = coefficient_ranges(theory.coeffs[labels], inside)
        n_lo, n_hi = null_ranges(theory.coeffs[labels], int(inside.sum()), 500, rng)
        for k, op in enumerate(theory.operators):
            ranges.append({"level": key, "operator": op, "lo": cr["lo"][k], "hi": cr["hi"][k],
                           "range": cr["range"][k], "ratio": cr["ratio"][k], "null_lo": n_lo[k], "null_hi": n_hi[k]})
        violin.append(_long_coefficients(key, labels_in, theory))
    violin.append(_long_coefficients("all", labels, theory))
    per_universe = pd.DataFrame({"universe": uni["universe"].to_numpy(), "label": labels, "chi2": chi2,
                                 "chi2_diagonal": chi2_diag, "latent_mahalanobis2": d2}
                                | {c: z_u[:, i] for i, c in enumerate(zc)})
    lines = pd.concat([pd.DataFrame({"level": f"{lvl:g}sigma", "z_0": e[:, 0], "z_1": e[:, 1]})
                       for lvl in hp.sigma_levels for e in [contours.ellipse(lvl)]], ignore_index=True)
    return RetrievalResult(contours, dof, metrics, table, pd.DataFrame(ranges), pd.concat(violin, ignore_index=True),
                           per_universe, lines)


def write_heads(out_dir: Path, dpn: DPNResult, maps: pd.DataFrame, anomaly: AnomalyResult, ret: RetrievalResult,
                zc: list[str], n_univ: int, hp) -> None:
    """``data/heads/``: the DPN weights, maps, anomaly scores, injected spectra, SM embedding, contours and the
    retrieval tables, as one atomic directory."""
    with atomic_dir(out_dir) as tmp:
        torch.save({"state": dpn.head.state_dict(), "latent_dim": len(zc), "n_classes": n_univ,
                    "hidden": hp.dpn_hidden, "depth": hp.dpn_depth}, tmp / "dpn.pt")
        write_parquet(maps, tmp / "latent_maps.parquet", {"grid_n": hp.grid_n, "units": "nats"})
        write_parquet(anomaly.scored, tmp / "anomaly_scores.parquet", {})
        write_parquet(anomaly.injected, tmp / "injected_spectra.parquet", {"units": "pb/GeV"})
        write_parquet(pd.DataFrame(anomaly.z_sm, columns=zc), tmp / "sm_embedding.parquet",
                      {"center": ret.contours.center.tolist(), "cov": ret.contours.cov.tolist()})
        write_parquet(ret.contour_lines, tmp / "contours.parquet", {})
        write_parquet(ret.per_universe, tmp / "retrieval_universes.parquet", {"chi2_dof": ret.dof})
        write_parquet(ret.ranges, tmp / "retrieval_ranges.parquet", {})
        write_parquet(ret.coefficients, tmp / "retrieval_coefficients.parquet", {})
        write_json(tmp / "retrieval_table.json", json_safe({"levels": ret.table, "chi2_dof": ret.dof}))
