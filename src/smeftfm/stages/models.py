"""The ``train`` (contrastive encoder + PCA baseline) and ``heads`` (DPN, anomalies, retrieval) stages."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_dir, json_safe, write_json, write_text
from ..config import Params
from ..data.parquet_io import file_hash, read_parquet, write_parquet
from ..errors import DataError, SmeftfmError
from ..physics.constants import DEFAULT_EW
from ..physics.observables import column_names
from ..tracking import log_torch_model, stage_run

_log = logging.getLogger(__name__)


def _probe_targets(x: np.ndarray, labels: np.ndarray, columns: tuple[str, ...], operators: tuple[str, ...],
                   coeffs: np.ndarray, zpeak_col: str) -> dict[str, np.ndarray]:
    """Linear-probe targets per replica: log of the Z-peak m_ll bin, the highest-mass bin (pb/GeV), each C_i."""
    mll_cols = [i for i, c in enumerate(columns) if c.startswith("mll_")]
    iz = columns.index(zpeak_col)
    zpeak = x[:, iz].astype(np.float64)
    if np.any(zpeak <= 0):
        raise DataError("a replica has a non-positive Z-peak bin; the corpus uncertainty model is broken")
    out = {"log_zpeak": np.log(zpeak), "mll_highest": x[:, mll_cols[-1]].astype(np.float64)}
    for k, op in enumerate(operators):
        out[f"C_{op}"] = coeffs[labels, k]
    return out


def _zpeak_column(meta: dict, columns: tuple[str, ...], params: Params) -> str:
    """The m_ll column whose bin holds m_Z."""
    b = params.observables.mll
    if b is None:
        raise DataError("the encoder probes need an m_ll histogram; list observables.mll in params.yaml")
    edges = b.bin_edges()
    i = int(np.searchsorted(edges, DEFAULT_EW.m_z) - 1)
    name = column_names("mll", len(edges) - 1)[i]
    if name not in columns:
        raise DataError(f"the corpus has no column {name} for the Z-peak bin")
    return name


def run_train(params: Params, corpus_dir: Path, spectra_path: Path, universes_path: Path, model_dir: Path,
              embeddings_dir: Path, metrics_path: Path, plots_path: Path) -> dict:
    """Train the encoder, fit the PCA baseline, write model, embeddings, metrics and the loss curve."""

    from ..device import pick_device
    from ..models.baselines import embedding_metrics, fit_pca
    from ..models.bundle import save_encoder
    from ..models.datasets import load_corpus_meta, load_split, load_theory
    from ..models.encoder import EmbeddingModel, EncoderConfig, embed
    from ..models.training import TrainConfig, train_encoder
    from ..models.transforms import InputTransform

    tp = params.train
    theory = load_theory(spectra_path, universes_path)
    splits = {s: load_split(corpus_dir, s) for s in ("train", "val", "test")}
    _check_provenance(load_corpus_meta(corpus_dir).get("spectra_sha256"), spectra_path, "the corpus")
    cols = splits["train"].columns
    if cols != theory.columns:
        raise DataError("corpus and spectra bin columns differ; re-run the corpus stage")
    n_univ = len(theory.labels)
    for s, sp in splits.items():
        if sp.label.min() < 0 or sp.label.max() >= n_univ:
            raise DataError(f"corpus split {s} has labels outside 0..{n_univ - 1}; re-run `dvc repro`")

    with stage_run("train", {"train": tp.model_dump()}) as run:
        t0 = time.perf_counter()
        transform = InputTransform.fit(tp.input_transform, splits["train"].x, theory.y_sm, tp.transform_floor)
        feats = {s: transform(sp.x) for s, sp in splits.items()}
        device = pick_device()
        enc_cfg = EncoderConfig(n_inputs=len(cols), depth=tp.depth, width=tp.width, latent_dim=tp.latent_dim,
                                dropout=tp.dropout, batch_norm=tp.batch_norm)
        cfg = TrainConfig.from_params(tp)

        def on_epoch(rec: dict) -> None:
            vals = {"train_loss": rec["train_loss"], "val_loss": rec["val_loss"], "epoch_seconds": rec["seconds"]}
            run.log_metrics({k: v for k, v in vals.items() if np.isfinite(v)}, step=rec["epoch"])
            _log.info("epoch %d train %.4f val %.4f", rec["epoch"], rec["train_loss"], rec["val_loss"])

        if tp.nproc > 1:  # DDP on tp.nproc torchrun ranks (models/distributed.py); this process logs
            from ..models.distributed import launch

            res = launch(tp.nproc, feats["train"], splits["train"].label, feats["val"], splits["val"].label,
                         enc_cfg, cfg)
            for rec in res.history:
                on_epoch(rec)
        else:
            res = train_encoder(feats["train"], splits["train"].label, feats["val"], splits["val"].label,
                                enc_cfg, cfg, device, on_epoch)
        enc = res.encoder
        z = {s: embed(enc, f, device) for s, f in feats.items()}
        pca = fit_pca(feats["train"], tp.latent_dim, tp.seed)
        zp = {s: pca.transform(f).astype(np.float32) for s, f in feats.items()}

        zcol = _zpeak_column(theory.meta, cols, params)
        tgt = {s: _probe_targets(splits[s].x, splits[s].label, cols, theory.operators, theory.coeffs, zcol)
               for s in ("train", "test")}
        lab_tr, lab_te = splits["train"].label, splits["test"].label
        m_enc = embedding_metrics(z["train"], lab_tr, z["test"], lab_te, tgt["train"], tgt["test"],
                                  tp.knn_k, tp.silhouette_n, tp.seed)
        m_pca = embedding_metrics(zp["train"], lab_tr, zp["test"], lab_te, tgt["train"], tgt["test"],
                                  tp.knn_k, tp.silhouette_n, tp.seed)
        for m in (m_enc, m_pca):
            c_r2 = [v for k, v in m.items() if k.startswith("r2_C_") and v is not None]
            m["r2_C_mean"] = float(np.mean(c_r2)) if c_r2 else None
        metrics = {
            "encoder": m_enc, "pca": m_pca,
            "encoder_beats_pca_knn": bool(m_enc["knn_accuracy"] > m_pca["knn_accuracy"]),
            "best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss, "epochs_run": len(res.history) - 1,
            "stopped_early": res.stopped_early, "train_seconds": res.seconds,
            "samples_per_second": res.samples_per_second, "pca_explained_variance": float(
                pca.explained_variance_ratio_.sum()),
            "clipped_fraction_train": transform.clipped_fraction(splits["train"].x),
            "n_train": len(lab_tr), "n_val": len(splits["val"].label), "n_test": len(lab_te),
            "n_universes": n_univ, "device": str(device),
        }
        metrics = json_safe(metrics)

        meta = {"train": tp.model_dump(), "best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss,
                "operators": list(theory.operators), "columns": list(cols), "universes": list(theory.names)}
        save_encoder(model_dir, enc.cpu(), transform, meta)
        _write_embeddings(embeddings_dir, splits, z, zp, theory)
        write_json(metrics_path, metrics)
        hist = pd.DataFrame(res.history)
        write_text(plots_path, hist.to_csv(index=False, float_format="%.6g"))

        run.log_metrics({"encoder": m_enc, "pca": m_pca})
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)})
        run.log_artifact(metrics_path)
        run.log_artifact(plots_path)
        run.set_tags({"device": str(device)})
        model = EmbeddingModel(enc.cpu(), transform).eval()
        log_torch_model(run, model, "encoder", splits["train"].x[:8], registered_name="smeftfm-encoder")
        run.log_metrics({"stage_seconds": time.perf_counter() - t0})
    return metrics


def _write_embeddings(target: Path, splits, z: dict, zp: dict, theory) -> None:
    """``replicas.parquet`` (every replica: split, label, replica, z_*, pca_*) and ``universes.parquet``
    (per universe: mean and std of its *test* replica embeddings)."""
    rows = []
    for s, sp in splits.items():
        df = pd.DataFrame({"split": s, "label": sp.label.astype(np.int32), "replica": sp.replica.astype(np.int32)})
        for k in range(z[s].shape[1]):
            df[f"z_{k}"] = z[s][:, k]
        for k in range(zp[s].shape[1]):
            df[f"pca_{k}"] = zp[s][:, k]
        rows.append(df)
    rep = pd.concat(rows, ignore_index=True)
    test = rep[rep["split"] == "test"]
    zc = [c for c in rep.columns if c.startswith(("z_", "pca_"))]
    g = test.groupby("label")[zc]
    uni = g.mean().add_suffix("").reset_index()
    std = g.std().add_suffix("_std").reset_index(drop=True)
    uni = pd.concat([uni, std], axis=1)
    uni.insert(0, "universe", [theory.names[i] for i in uni["label"]])
    uni["n_test"] = g.size().to_numpy()
    meta = {"latent": [c for c in zc if c.startswith("z_")], "baseline": "pca", "operators": list(theory.operators)}
    with atomic_dir(target) as tmp:
        write_parquet(rep, tmp / "replicas.parquet", meta)
        write_parquet(uni, tmp / "universes.parquet", meta)


# --------------------------------------------------------------------------------------------- heads
def run_heads(params: Params, embeddings_dir: Path, model_dir: Path, spectra_path: Path, universes_path: Path,
              templates_path: Path, out_dir: Path, metrics_path: Path) -> dict:
    """DPN head, latent uncertainty maps, anomaly AUROCs and SM retrieval with its chi^2 truth."""
    import torch

    from ..data.templates_io import read_templates
    from ..models.anomaly import SIGNALS, auroc, injected_spectra
    from ..models.datasets import load_theory
    from ..models.dirichlet import DPNConfig, dpn_outputs, expected_calibration_error, train_dpn
    from ..models.references import Precision
    from ..models.registry import load_heads_encoder
    from ..models.retrieval import (
        LatentContours,
        chi2_threshold,
        coefficient_ranges,
        null_ranges,
        precision_recall,
    )

    hp = params.heads
    rng = np.random.default_rng(hp.seed)
    theory = load_theory(spectra_path, universes_path)
    templates = read_templates(templates_path)
    _check_provenance(theory.meta.get("templates_sha256"), templates_path, str(spectra_path))
    model, meta, encoder_source = load_heads_encoder(hp.encoder_uri, model_dir)  # models/registry.py
    rep = read_parquet(Path(embeddings_dir) / "replicas.parquet")
    uni = read_parquet(Path(embeddings_dir) / "universes.parquet")
    zc = sorted((c for c in rep.columns if c.startswith("z_") and c[2:].isdigit()), key=lambda c: int(c[2:]))
    if not zc:
        raise DataError(f"{embeddings_dir}/replicas.parquet has no latent columns z_*; re-run `smeftfm train`")
    n_univ = len(theory.labels)
    if len(zc) < 2:
        raise SmeftfmError("the heads need a latent of at least 2 dimensions (maps, contours); "
                           "set train.latent_dim >= 2")

    with stage_run("heads", {"heads": hp.model_dump()}) as run:
        run.set_tags({"encoder_source": encoder_source})
        t0 = time.perf_counter()
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
        dpn_metrics = {"accuracy": float(correct.mean()),
                       "ece": expected_calibration_error(o_te["confidence"], correct, hp.ece_bins),
                       "mean_entropy_test": float(o_te["entropy"].mean()), "mean_mi_test": float(o_te["mi"].mean()),
                       "max_entropy": float(np.log(n_univ))}

        # uncertainty maps over the latent plane
        lo, hi = z_tr.min(0), z_tr.max(0)
        pad = 0.25 * (hi - lo)
        axes = [np.linspace(lo[k] - pad[k], hi[k] + pad[k], hp.grid_n) for k in range(2)]
        g0, g1 = np.meshgrid(*axes, indexing="ij")
        grid = np.tile(np.median(z_tr, 0), (g0.size, 1)).astype(np.float32)  # slice at the median beyond 2-D
        grid[:, 0], grid[:, 1] = g0.ravel(), g1.ravel()
        o_g = dpn_outputs(head, grid)
        maps = pd.DataFrame({"z_0": grid[:, 0], "z_1": grid[:, 1], "entropy": o_g["entropy"],
                             "expected_entropy": o_g["expected_entropy"], "mi": o_g["mi"],
                             "alpha0": o_g["alpha0"]})

        # SM replicas and injected anomalies, all with the corpus uncertainty model
        from .data import corpus_noise  # the corpus' Sigma(rho) and 2-D templates: one Sigma everywhere

        noise, joint = corpus_noise(params, templates, Path(templates_path).with_name("joint.parquet"))
        cross_sm = None if joint is None else joint.sm
        y_sm = theory.y_sm
        cov_sm = np.asarray(noise.covariance(y_sm, cross_sm), dtype=np.float64)

        def embed_raw(y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.as_tensor(y, dtype=torch.float32)).numpy()

        z_sm = embed_raw(noise.sample(y_sm, hp.n_sm_replicas, rng, cov=cov_sm))
        mll_edges = _edges(templates, "mll")
        pt_edges = _edges(templates, "pt")
        density = _sm_density(params) if hp.zshift_density == "oracle" else None
        # the signals deform the m_ll and p_T histograms; any further observable keeps its SM values
        mp = np.r_[templates.slice("mll"), templates.slice("pt")]
        inj = {k: _put(y_sm, mp, v) for k, v in injected_spectra(
            y_sm[mp], mll_edges, pt_edges, _injection(hp), density,
            sigma=np.sqrt(np.clip(np.diag(cov_sm), 0.0, None))[mp]).items()}
        ref = rng.choice(len(z_te), size=min(hp.n_anomaly_replicas, len(z_te)), replace=False)
        o_ref = dpn_outputs(head, z_te[ref])
        base = noise.sample(y_sm, hp.n_anomaly_replicas, rng, cov=cov_sm)
        anomaly_metrics, scored = {}, []
        o_sm = dpn_outputs(head, z_sm[: hp.n_anomaly_replicas])
        anomaly_metrics["sm_reference"] = {"auroc_mi": auroc(o_sm["mi"], o_ref["mi"]),
                                           "auroc_entropy": auroc(o_sm["entropy"], o_ref["entropy"])}
        for sig in SIGNALS:
            z_a = embed_raw(base + (inj[sig] - y_sm))
            o_a = dpn_outputs(head, z_a)
            anomaly_metrics[sig] = {"auroc_mi": auroc(o_a["mi"], o_ref["mi"]),
                                    "auroc_entropy": auroc(o_a["entropy"], o_ref["entropy"]),
                                    "median_mi": float(np.median(o_a["mi"]))}
            scored.append(pd.DataFrame({"signal": sig, "z_0": z_a[:, 0], "z_1": z_a[:, 1],
                                        "entropy": o_a["entropy"], "mi": o_a["mi"]}))
        scored.append(pd.DataFrame({"signal": "in_distribution", "z_0": z_te[ref, 0],
                                    "z_1": z_te[ref, 1],
                                    "entropy": o_ref["entropy"], "mi": o_ref["mi"]}))
        inj_df = pd.DataFrame({sig: inj[sig] for sig in SIGNALS} | {"SM": y_sm, "column": list(theory.columns)})

        # retrieval: latent contours of the SM vs exact chi^2 truth
        contours = LatentContours(z_sm)
        uni = uni.sort_values("label")
        z_u = uni[zc].to_numpy(np.float64)
        y_u = theory.y[uni["label"].to_numpy()]
        prec = Precision(cov_sm, hp.chi2_rcond)  # the scorecard's truth: Sigma scaled to correlations first
        chi2, dof = prec.chi2(y_u, y_sm), prec.nu
        chi2_diag = (((y_u - y_sm) ** 2) / np.where(np.diag(cov_sm) > 0, np.diag(cov_sm), np.inf)).sum(1)
        n_bins = int(np.sum(np.diag(cov_sm) > 0))
        d2 = contours.mahalanobis2(z_u)
        retrieval_metrics, table, ranges, violin = {}, [], [], []
        for lvl in hp.sigma_levels:
            key = f"{lvl:g}sigma"
            inside = d2 <= contours.radius2(lvl)
            truth = chi2 <= chi2_threshold(lvl, dof)
            retrieval_metrics[key] = precision_recall(inside, truth)
            # secondary truth ignoring bin correlations (the full-covariance chi^2 is dominated by the
            # RBF kernel's small eigen-directions; see docs/models.md)
            diag = precision_recall(inside, chi2_diag <= chi2_threshold(lvl, n_bins))
            retrieval_metrics[key].update({f"diag_{k}": v for k, v in diag.items() if k != "n_retrieved"})
            labels_in = uni["label"].to_numpy()[inside]
            table.append({"level": key, "universes": [int(v) for v in labels_in],
                          "names": [theory.names[v] for v in labels_in], "count": int(inside.sum()),
                          "truth": [int(v) for v in uni["label"].to_numpy()[truth]],
                          "truth_diagonal": [int(v) for v in uni["label"].to_numpy()[chi2_diag <= chi2_threshold(
                              lvl, n_bins)]]})
            cr = coefficient_ranges(theory.coeffs[uni["label"].to_numpy()], inside)
            n_lo, n_hi = null_ranges(theory.coeffs[uni["label"].to_numpy()], int(inside.sum()), 500, rng)
            for k, op in enumerate(theory.operators):
                ranges.append({"level": key, "operator": op, "lo": cr["lo"][k], "hi": cr["hi"][k],
                               "range": cr["range"][k], "ratio": cr["ratio"][k], "null_lo": n_lo[k],
                               "null_hi": n_hi[k]})
            violin.append(_long_coefficients(key, labels_in, theory))
        violin.append(_long_coefficients("all", uni["label"].to_numpy(), theory))
        per_universe = pd.DataFrame({"universe": uni["universe"].to_numpy(), "label": uni["label"].to_numpy(),
                                     "chi2": chi2, "chi2_diagonal": chi2_diag, "latent_mahalanobis2": d2}
                                    | {c: z_u[:, i] for i, c in enumerate(zc)})
        contour_df = pd.concat([pd.DataFrame({"level": f"{lvl:g}sigma", "z_0": e[:, 0], "z_1": e[:, 1]})
                                for lvl in hp.sigma_levels for e in [contours.ellipse(lvl)]], ignore_index=True)

        with atomic_dir(out_dir) as tmp:
            torch.save({"state": head.state_dict(), "latent_dim": len(zc), "n_classes": n_univ,
                        "hidden": hp.dpn_hidden, "depth": hp.dpn_depth}, tmp / "dpn.pt")
            write_parquet(maps, tmp / "latent_maps.parquet", {"grid_n": hp.grid_n, "units": "nats"})
            write_parquet(pd.concat(scored, ignore_index=True), tmp / "anomaly_scores.parquet", {})
            write_parquet(inj_df, tmp / "injected_spectra.parquet", {"units": "pb/GeV"})
            write_parquet(pd.DataFrame(z_sm, columns=zc), tmp / "sm_embedding.parquet",
                          {"center": contours.center.tolist(), "cov": contours.cov.tolist()})
            write_parquet(contour_df, tmp / "contours.parquet", {})
            write_parquet(per_universe, tmp / "retrieval_universes.parquet", {"chi2_dof": dof})
            write_parquet(pd.DataFrame(ranges), tmp / "retrieval_ranges.parquet", {})
            write_parquet(pd.concat(violin, ignore_index=True), tmp / "retrieval_coefficients.parquet", {})
            write_json(tmp / "retrieval_table.json", json_safe({"levels": table, "chi2_dof": dof}))
        metrics = json_safe({"dpn": dpn_metrics, "anomaly": anomaly_metrics, "retrieval": retrieval_metrics,
                              "chi2_dof": dof, "n_sm_replicas": hp.n_sm_replicas,
                              "seconds": time.perf_counter() - t0})
        write_json(metrics_path, metrics)
        run.log_metrics({"dpn": dpn_metrics, "anomaly": anomaly_metrics,
                         "retrieval": {k: {kk: vv for kk, vv in v.items() if vv is not None}
                                       for k, v in retrieval_metrics.items()}})
        run.log_artifact(metrics_path)
        run.log_artifact(out_dir / "retrieval_table.json")
    return metrics


def _long_coefficients(level: str, labels: np.ndarray, theory) -> pd.DataFrame:
    """Long table (level, label, operator, value) of the coefficients of the given universes (violin data)."""
    labels = np.asarray(labels, dtype=np.int64)
    n_op = len(theory.operators)
    return pd.DataFrame({"level": level, "label": np.repeat(labels, n_op).astype(np.int32),
                         "operator": np.tile(np.asarray(theory.operators, dtype=object), len(labels)),
                         "value": theory.coeffs[labels].ravel()})


def _check_provenance(recorded: str | None, path: Path, what: str) -> None:
    """Fail when ``what`` records a hash of ``path`` that differs from the file on disk (stale inputs)."""
    if recorded and file_hash(path) != recorded:
        raise DataError(f"{what} was built from a different {path} (hash {recorded} vs {file_hash(path)}); "
                        "re-run the upstream stages (`dvc repro`)")


def _put(y: np.ndarray, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of ``y`` with ``y[idx] = values``."""
    out = np.array(y, dtype=np.float64, copy=True)
    out[idx] = values
    return out


def _edges(templates, observable: str) -> np.ndarray:
    for b in templates.binnings:
        if b.observable == observable:
            return np.asarray(b.edges, dtype=np.float64)
    raise DataError(f"templates have no {observable} binning")


def _injection(hp):
    from ..models.anomaly import InjectionConfig

    return InjectionConfig(units=hp.signal_units, tail_amplitude=hp.tail_amplitude, z_shift_gev=hp.z_shift_gev,
                           bw_mass_gev=hp.bw_mass_gev, bw_width_gev=hp.bw_width_gev, bw_strength=hp.bw_strength)


def _sm_density(params: Params):
    """dsigma/dm_ll of the SM in the acceptance (pb/GeV), from the oracle, for the exact Z-peak shift."""
    from ..physics.oracle import oracle_from_params, quadrature_from_params

    try:
        oracle = oracle_from_params(params)
    except SmeftfmError as err:
        _log.warning("exact SM density unavailable (%s); the Z-shift uses the binned cumulative", err)
        return None

    def density(m: np.ndarray) -> np.ndarray:
        return oracle.mass_spectrum(m, cuts=True, order="linear", spec=quadrature_from_params(params))[:, 0]

    return density
