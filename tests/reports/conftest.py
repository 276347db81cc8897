"""Synthetic pipeline outputs in the layouts the report reads (small, written in well under a second).

The spectra follow a Breit-Wigner Z peak on a falling continuum (pb/GeV) with per-operator linear shapes that
grow with m_ll (four-fermion) or sit at the pole (vertex); the latent plane places each universe at a point
that depends on its coefficients, so the figures have structure to show.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smeftfm.data.parquet_io import write_parquet
from smeftfm.data.templates_io import write_templates
from smeftfm.physics.oracle import DEFAULT_BINNINGS, Templates
from smeftfm.stages.report import ReportInputs

OPS = ("clq3", "ceu", "cHq3")


def _templates() -> Templates:
    m = DEFAULT_BINNINGS[0].centers
    pt = DEFAULT_BINNINGS[1].centers
    bw = 60.0 / ((m - 91.19) ** 2 + 2.5**2 / 4 * 4) + 2.0 * (60.0 / m) ** 4
    jac = 40.0 * np.exp(-0.5 * ((pt - 44.0) / 8.0) ** 2) + 3.0 * (40.0 / pt) ** 4
    sm = np.concatenate([bw, jac])
    shape4f = np.concatenate([(m / 300.0) ** 2, (pt / 150.0) ** 2])
    shape_v = np.concatenate([np.exp(-0.5 * ((m - 91.19) / 15) ** 2) * 0.1 + 0.02,
                              np.full(pt.size, 0.05)])
    lin = np.stack([sm * shape4f, -0.6 * sm * shape4f, sm * shape_v])
    return Templates(DEFAULT_BINNINGS, OPS, "linear", np.vstack([sm, lin]))


def write_synthetic_outputs(root: Path, n_univ: int = 12, n_rep: int = 40, seed: int = 0) -> ReportInputs:
    """Write every report input under ``root`` and return their paths."""
    rng = np.random.default_rng(seed)
    inp = ReportInputs(**{k: root / v for k, v in ReportInputs().__dict__.items()})
    t = _templates()
    write_templates(t, inp.templates)
    screen = {op: {"interferes": True, "rel_effect": 0.5 + i, "rel_effect_integrated": 0.01, "tier": "leading",
                   "power_counting": "s/L2", "reason": "vector contact term", "max_bin": "mll[59]"}
              for i, op in enumerate(OPS)}
    screen["cHG"] = {"interferes": False, "rel_effect": 0.0, "rel_effect_integrated": 0.0, "tier": "none",
                     "power_counting": "v2s/L4", "reason": "gluonic: no O(1/Lambda^2) effect", "max_bin": ""}
    inp.screen.parent.mkdir(parents=True, exist_ok=True)
    inp.screen.write_text(json.dumps(screen))

    coeffs = rng.normal(0, 0.4, (n_univ, len(OPS)))
    names = ["SM"] + [f"U{i:03d}" for i in range(n_univ)]
    labels = np.arange(-1, n_univ, dtype=np.int32)
    allc = np.vstack([np.zeros(len(OPS)), coeffs])
    uni = pd.DataFrame({"universe": names, "label": labels} | {op: allc[:, k] for k, op in enumerate(OPS)})
    write_parquet(uni, inp.universes, {"operators": list(OPS)})
    y = t.predict(allc)
    cols = [f"mll_{i:02d}" for i in range(60)] + [f"pt_{i:02d}" for i in range(32)]
    spec = pd.DataFrame({"universe": names, "label": labels, "has_negative": np.any(y <= 0, axis=1)})
    spec = pd.concat([spec, pd.DataFrame(y, columns=cols)], axis=1)
    write_parquet(spec, inp.spectra, {})

    centre = coeffs[:, :2] * 3.0
    rows = []
    for split, n in (("train", n_rep), ("test", n_rep // 2)):
        lab = np.repeat(np.arange(n_univ), n)
        z = centre[lab] + rng.normal(0, 0.3, (lab.size, 2))
        rows.append(pd.DataFrame({"split": split, "label": lab.astype(np.int32),
                                  "replica": np.tile(np.arange(n), n_univ).astype(np.int32),
                                  "z_0": z[:, 0], "z_1": z[:, 1], "pca_0": z[:, 0] * 0.5, "pca_1": z[:, 1]}))
    rep = pd.concat(rows, ignore_index=True)
    g = rep[rep["split"] == "test"].groupby("label")[["z_0", "z_1", "pca_0", "pca_1"]].mean().reset_index()
    g.insert(0, "universe", [names[i + 1] for i in g["label"]])
    inp.embeddings.mkdir(parents=True, exist_ok=True)
    write_parquet(rep, inp.embeddings / "replicas.parquet", {})
    write_parquet(g, inp.embeddings / "universes.parquet", {})

    train = {"encoder": {"knn_accuracy": 0.8, "silhouette": 0.4, "r2_log_zpeak": 0.9, "r2_mll_highest": 0.7,
                         "r2_C_clq3": 0.6, "r2_C_mean": 0.5},
             "pca": {"knn_accuracy": 0.6, "silhouette": 0.2, "r2_log_zpeak": 0.8, "r2_mll_highest": 0.5,
                     "r2_C_clq3": 0.4, "r2_C_mean": None}}
    inp.train_metrics.parent.mkdir(parents=True, exist_ok=True)
    inp.train_metrics.write_text(json.dumps(train))
    inp.train_history.parent.mkdir(parents=True, exist_ok=True)
    ep = np.arange(6)
    pd.DataFrame({"epoch": ep, "train_loss": 1 / (1 + ep), "val_loss": 1.1 / (1 + ep) + 0.01}).to_csv(
        inp.train_history, index=False)

    h = inp.heads
    h.mkdir(parents=True, exist_ok=True)
    gx = np.linspace(-3, 3, 20)
    g0, g1 = np.meshgrid(gx, gx, indexing="ij")
    r2 = g0.ravel() ** 2 + g1.ravel() ** 2
    write_parquet(pd.DataFrame({"z_0": g0.ravel(), "z_1": g1.ravel(), "entropy": np.log1p(r2),
                                "mi": r2 / (1 + r2)}), h / "latent_maps.parquet", {})
    sigs = ("tail_excess", "z_shift", "resonance", "combined")
    inj = {s: y[0] * (1 + 0.2 * (k + 1) * np.linspace(0, 1, 92)) for k, s in enumerate(sigs)}
    write_parquet(pd.DataFrame(inj | {"SM": y[0], "column": cols}), h / "injected_spectra.parquet", {})
    sc = [pd.DataFrame({"signal": s, "z_0": rng.normal(2 + k, 0.2, 30), "z_1": rng.normal(2, 0.2, 30),
                        "entropy": rng.random(30), "mi": rng.random(30)}) for k, s in enumerate(sigs)]
    sc.append(pd.DataFrame({"signal": "in_distribution", "z_0": rng.normal(0, 1, 50), "z_1": rng.normal(0, 1, 50),
                            "entropy": rng.random(50), "mi": rng.random(50) * 0.2}))
    write_parquet(pd.concat(sc, ignore_index=True), h / "anomaly_scores.parquet", {})
    z_sm = rng.normal(0, 0.3, (200, 2))
    write_parquet(pd.DataFrame(z_sm, columns=["z_0", "z_1"]), h / "sm_embedding.parquet", {})
    levels = ("1sigma", "3sigma", "6sigma")
    tt = np.linspace(0, 2 * np.pi, 50)
    write_parquet(pd.concat([pd.DataFrame({"level": lv, "z_0": r * 0.3 * np.cos(tt), "z_1": r * 0.3 * np.sin(tt)})
                             for lv, r in zip(levels, (1.5, 3.4, 6.3), strict=True)], ignore_index=True),
                  h / "contours.parquet", {})
    d = np.hypot(*g[["z_0", "z_1"]].to_numpy().T) / 0.3
    inside = {lv: g["label"].to_numpy()[d <= r] for lv, r in zip(levels, (1.5, 3.4, 6.3), strict=True)}
    table = {"levels": [{"level": lv, "universes": [int(x) for x in inside[lv]],
                         "names": [names[int(x) + 1] for x in inside[lv]], "count": int(inside[lv].size),
                         "truth": [int(x) for x in inside[lv]]} for lv in levels], "chi2_dof": 80}
    (h / "retrieval_table.json").write_text(json.dumps(table))
    write_parquet(pd.DataFrame({"universe": g["universe"], "label": g["label"], "chi2": d ** 2,
                                "latent_mahalanobis2": d ** 2, "z_0": g["z_0"], "z_1": g["z_1"]}),
                  h / "retrieval_universes.parquet", {})
    viol, rng_rows = [], []
    for lv in ("all", *levels):
        labs = np.arange(n_univ) if lv == "all" else inside[lv]
        for lab in labs:
            for k, op in enumerate(OPS):
                viol.append({"level": lv, "label": int(lab), "operator": op, "value": coeffs[lab, k]})
        if lv != "all":
            for k, op in enumerate(OPS):
                sel = coeffs[labs, k] if labs.size else np.array([np.nan])
                full = np.ptp(coeffs[:, k])
                rng_rows.append({"level": lv, "operator": op, "lo": np.min(sel), "hi": np.max(sel),
                                 "range": np.ptp(sel), "ratio": np.ptp(sel) / full, "null_lo": 0.2,
                                 "null_hi": 0.6})
    write_parquet(pd.DataFrame(viol), h / "retrieval_coefficients.parquet", {})
    write_parquet(pd.DataFrame(rng_rows), h / "retrieval_ranges.parquet", {})
    heads = {"dpn": {"accuracy": 0.7, "ece": 0.05, "max_entropy": float(np.log(n_univ))},
             "anomaly": {s: {"auroc_mi": 0.6 + 0.1 * k, "auroc_entropy": 0.5} for k, s in enumerate(sigs)},
             "retrieval": {lv: {"n_retrieved": int(inside[lv].size), "n_true": int(inside[lv].size),
                                "true_positives": int(inside[lv].size), "precision": 1.0 if inside[lv].size else None,
                                "recall": 1.0 if inside[lv].size else None} for lv in levels}}
    inp.heads_metrics.write_text(json.dumps(heads))

    cyc = []
    for run, arm, ext in (("headline", "residual_energy", "exact"), ("random_s0", "random", "exact"),
                          ("epig", "epig", "exact")):
        s1 = 4.0
        for c in range(8):
            pre = s1 * (1.3 if c < 4 else 1.0)
            extend = arm != "random" and c in (1, 2, 3)
            post = pre / 20 if extend else pre
            action = "psi_extend" if extend else ("unlock_tier" if c == 5 else "acquire")
            cyc.append({"cycle": c, "tier": "leading" if c < 5 else "subleading", "psi_dim": 5 + min(c, 3),
                        "sigma1_pre": pre, "sigma2_pre": pre / 3, "sigma_ratio": 3.0, "sigma1_post": post,
                        "sigma1_val_pre": pre * 1.1, "sigma1_val_post": post * 1.1, "action": action,
                        "events": action if action != "acquire" else "", "arm": arm, "extension": ext, "seed": 0,
                        "run": run})
            s1 = post
    inp.loop_trace.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(pd.DataFrame(cyc), inp.loop_trace, {})
    inp.loop_metrics.write_text(json.dumps({"collapse": {"first": 20.0, "overall": 150.0, "n_extensions": 3},
                                            "cycles_to_completion": {"residual_energy": 8, "epig": 8,
                                                                     "random_median": 9.0},
                                            "unlock_triggered_extension": False,
                                            "gates": {"extension_occurred": True},
                                            "settings": {"floor": 0.25}}))
    inp.informer_metrics.write_text(json.dumps({"probe_r2": {"lin:clq3": [0.999, 0.998, 0.997],
                                                             "lin:ceu": [0.995, 0.99, 0.993],
                                                             "quad:clq3*clq3": [0.9, 0.92, 0.95]}}))
    import shutil

    shutil.copytree(_tiny_fit_outputs(), inp.fit, dirs_exist_ok=True)
    write_synthetic_scorecard(inp)
    return inp


@functools.lru_cache(maxsize=1)
def _tiny_fit_outputs() -> Path:
    """data/fit from one real, small fit (ATLAS 7 TeV data, two operators, coarse quadrature), made once."""
    import tempfile

    import yaml

    from smeftfm.config import parse_params
    from smeftfm.stages.fit import run_fit

    root = Path(__file__).resolve().parents[2]
    raw = yaml.safe_load((root / "tests/fixtures/params_tiny.yaml").read_text())
    raw["fit"].update({"root": str(root / "data/measurements"), "operators": ["clq1", "clq3", "cHe"], "toys": 0})
    out = Path(tempfile.mkdtemp(prefix="smeftfm-tinyfit-"))
    run_fit(parse_params(raw), out / "fit", out / "fit.json", out / "details.json")
    return out / "fit"


def write_synthetic_scorecard(inp: ReportInputs) -> None:
    """scorecard.json (the contract's shape), evaluation.json and the AUROC curves of the scorecard stage."""
    sigs = ("tail", "resonance", "zshift", "combined")
    anomaly = {s: {f"{v:g}": {"auroc": 0.6, "auroc_gof": 0.7, "auroc_optimal": 0.8} for v in (1.5, 3.0)}
               for s in sigs}
    retrieval = {lv: {"precision": 0.5, "recall": None, "f1": None, "n_true": 0} for lv in ("1sigma", "3sigma",
                                                                                       "6sigma")}
    entry = {"scenario": "L_eff", "anomaly": anomaly, "retrieval": retrieval,
             "coefficient_r2_unseen": {"encoder": 0.1, "lda": 0.2, "pca_whitened": 0.15},
             "knn_seen": {"encoder": 0.5, "lda": 0.6, "pca": 0.3}}
    inp.scorecard_metrics.parent.mkdir(parents=True, exist_ok=True)
    inp.scorecard_metrics.write_text(json.dumps({"paper": entry, "recommended": None}))
    inp.scorecard_details.write_text(json.dumps({"strengths": {s: {k: {"units": "events"} for k in anomaly[s]}
                                                               for s in sigs}, "paper": {}}))
    rows = [{"config": "paper", "signal": s, "strength": v, "method": m, "auroc": a}
            for s in sigs for v in (1.5, 3.0) for m, a in (("gof", 0.7), ("optimal", 0.8), ("encoder", 0.6))]
    write_parquet(pd.DataFrame(rows), inp.scorecard / "anomaly_curves.parquet", {"units": {s: "events" for s in sigs}})


@pytest.fixture()
def synthetic_outputs(tmp_path) -> tuple[Path, ReportInputs]:
    return tmp_path, write_synthetic_outputs(tmp_path)


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's headless-capable ``chromium``; installed with apt-get when missing (needs root)."""
    import os
    import shutil
    import subprocess

    exe = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if exe is None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        install = [*sudo, "apt-get", "install", "-y", "-q", "chromium"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        res = subprocess.run(install, capture_output=True, text=True, env=env)
        if res.returncode != 0:  # a stale package index: refresh it once and retry
            subprocess.run([*sudo, "apt-get", "update", "-q"], capture_output=True, env=env)
            res = subprocess.run(install, capture_output=True, text=True, env=env)
        exe = shutil.which("chromium")
        if exe is None:
            raise RuntimeError(f"could not install chromium:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return exe


def open_in_chromium(exe: str, html: Path, workdir: Path) -> tuple[str, Path]:
    """Load ``html`` in headless Chromium: return the DOM after load and the path of a full-page screenshot."""
    import subprocess

    url = html.resolve().as_uri()
    shot = workdir / "screenshot.png"
    base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    if dom.returncode != 0 or "<img" not in dom.stdout:
        raise AssertionError(f"chromium --dump-dom failed ({dom.returncode}): {dom.stderr[-2000:]}")
    shot_run = subprocess.run([*base, "--window-size=1280,2400", f"--screenshot={shot}", url],
                              capture_output=True, text=True, timeout=120)
    if shot_run.returncode != 0 or not shot.exists():
        raise AssertionError(f"chromium --screenshot failed ({shot_run.returncode}): {shot_run.stderr[-2000:]}")
    return dom.stdout, shot


def check_page(dom: str, folder: Path, shot: Path) -> list[str]:
    """Assert every <img> of the DOM is a PNG file in ``folder`` that decodes, and the screenshot is not blank.

    Returns the image sources.
    """
    import re

    from PIL import Image

    srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', dom)
    assert srcs, "the page shows no image"
    for src in srcs:
        assert "://" not in src and not src.startswith("/"), f"image {src} is not a file beside index.html"
        p = folder / src
        assert p.exists(), f"missing image {p}"
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            a = np.asarray(im.convert("L"), dtype=float)
            assert a.var() > 0, f"image {p} is blank"
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"), dtype=float)
    assert px.var() > 0, "the screenshot is blank"
    return srcs
