r"""The scorecard: every head against the exact optimum, baselines and unseen universes (``scorecard`` stage).

An *embedding* is any map from raw spectra x [n, B] (pb/GeV) to a latent z [n, d]; the encoder of a
configuration and its baselines (PCA, noise-whitened PCA, LDA, all to the same d and fit on the same seen
replicas) are scored by the same functions:

* ``knn_seen``: k-NN universe accuracy on test replicas of the seen universes (fit on their train replicas).
* ``coefficient_r2_unseen``: a linear probe latent -> Wilson coefficients, fit on seen-universe replicas, R^2
  (mean over operators) on replicas of *unseen* universes (drawn with another seed).
* anomaly (SM as the null): score = squared latent distance to the cloud of SM replica embeddings (fit on SM
  replicas independent of the null sample): Mahalanobis (``cloud="mahalanobis"``, the paper's 2-D latent) or
  Euclidean scaled by the cloud's mean squared radius per dimension (``cloud="euclidean"``, the recommended
  encoder, whose latent is already in sigma units: there the Mahalanobis rescaling would blow up the rare-event
  coordinates of the Poisson bins); AUROC of signal replicas against SM replicas, beside the
  chi^2 goodness-of-fit test and the Neyman-Pearson statistic (:mod:`.references`) on the same replicas.
* retrieval of unseen universes around the SM, against the exact chi^2 truth, two readings:
  ``contour``: the universe's mean embedding (over its replicas) inside the k-sigma Mahalanobis contour of the SM
  cloud (r_k^2 = chi^2_d quantile at the two-sided k-sigma probability, the paper's Fig. 10 reading);
  ``inflated``: inside the 1-sigma (68.3 %) contour of the cloud of SM replicas drawn with k times the
  uncertainty (covariance k^2 Sigma).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsClassifier

from ..errors import SmeftfmError
from .anomaly import auroc
from .references import CountLikelihood, Precision
from .retrieval import LatentContours, chi2_threshold

__all__ = [
    "EuclideanCloud", "EvalData", "Replicas", "anomaly_aurocs", "coefficient_r2_unseen", "config_scorecard",
    "input_retrieval", "knn_seen", "linear_baselines", "memoised", "reference_aurocs", "retrieval", "score_embedding",
    "truth_mask", "universe_means"
]

Embed = Callable[[np.ndarray], np.ndarray]
Cloud = Literal["mahalanobis", "euclidean"]


class EuclideanCloud:
    """The SM cloud as an isotropic ball: d^2(z) = ||z - mean||^2 / s^2, s^2 = the cloud's mean squared radius per
    latent dimension (1 for a latent in units of the SM noise), contours at the chi^2_d quantile like
    :class:`LatentContours` (same interface)."""

    def __init__(self, z_sm: np.ndarray):
        z_sm = np.asarray(z_sm, dtype=np.float64)
        if z_sm.ndim != 2 or len(z_sm) < 2:
            raise SmeftfmError("the SM cloud needs at least two replica embeddings")
        self.center = z_sm.mean(0)
        self.dim = z_sm.shape[1]
        self.s2 = float(np.mean(np.sum((z_sm - self.center) ** 2, axis=1))) / self.dim
        if not self.s2 > 0:
            raise SmeftfmError("the SM replica embeddings are degenerate (zero spread)")

    def mahalanobis2(self, z: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(np.asarray(z, dtype=np.float64)) - self.center
        return np.einsum("ni,ni->n", d, d) / self.s2

    def radius2(self, k: float) -> float:
        return chi2_threshold(k, self.dim)


def _cloud(z_sm: np.ndarray, kind: Cloud) -> LatentContours | EuclideanCloud:
    return EuclideanCloud(z_sm) if kind == "euclidean" else LatentContours(z_sm)


def memoised(embed: Embed) -> Embed:
    """``embed`` computed once per input array object (the evaluation arrays are embedded by several scores)."""
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def f(x: np.ndarray) -> np.ndarray:
        hit = cache.get(id(x))
        if hit is None or hit[0] is not x:
            hit = (x, embed(x))
            cache[id(x)] = hit
        return hit[1]

    return f


@dataclass
class Replicas:
    """Raw replicas x [n, B] (pb/GeV) with universe labels and the per-replica coefficients [n, P]."""

    x: np.ndarray
    label: np.ndarray
    coeffs: np.ndarray


@dataclass
class EvalData:
    """Everything the scores need that does not depend on the encoder."""

    y_sm: np.ndarray
    prec: Precision
    lik: CountLikelihood
    seen_train: Replicas
    seen_test: Replicas
    unseen: Replicas  # replicas of the unseen universes
    unseen_truth_chi2: np.ndarray  # exact chi^2 of each unseen universe's theory spectrum vs the SM
    sm_fit: np.ndarray  # SM replicas defining the latent SM cloud
    sm_null: np.ndarray  # SM replicas: the anomaly null sample
    sm_inflated: dict[float, np.ndarray]  # SM replicas with k x the uncertainty, per level k
    signals: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]  # signal -> strength key -> (replicas, delta)
    levels: tuple[float, ...] = (1.0, 3.0, 6.0)
    knn_k: int = 15
    extra: dict = field(default_factory=dict)


def linear_baselines(train: Replicas, features: Embed, prec: Precision, y_sm: np.ndarray, dim: int,
                     seed: int = 0) -> dict[str, Embed]:
    """PCA and LDA on ``features`` (the encoder's input transform) and PCA on SM-whitened inputs, to ``dim``."""
    f_tr = features(train.x)
    pca = PCA(n_components=dim, random_state=seed).fit(f_tr)
    n_cls = len(np.unique(train.label))
    lda = LinearDiscriminantAnalysis(n_components=min(dim, n_cls - 1, f_tr.shape[1])).fit(f_tr, train.label)
    wpca = PCA(n_components=dim, random_state=seed).fit(prec.whiten(train.x, y_sm))
    return {"pca": lambda x: pca.transform(features(x)),
            "lda": lambda x: lda.transform(features(x)),
            "pca_whitened": lambda x: wpca.transform(prec.whiten(x, y_sm))}


def knn_seen(embed: Embed, ev: EvalData) -> float:
    z_tr, z_te = embed(ev.seen_train.x), embed(ev.seen_test.x)
    clf = KNeighborsClassifier(n_neighbors=ev.knn_k, n_jobs=1).fit(z_tr, ev.seen_train.label)
    return float(np.mean(clf.predict(z_te) == ev.seen_test.label))


def coefficient_r2_unseen(embed: Embed, ev: EvalData) -> float:
    """Mean over operators of the R^2 on unseen universes of a linear probe fit on seen replicas."""
    probe = LinearRegression().fit(embed(ev.seen_train.x), ev.seen_train.coeffs)
    pred = probe.predict(embed(ev.unseen.x))
    ok = ev.unseen.coeffs.std(0) > 0
    return float(r2_score(ev.unseen.coeffs[:, ok], pred[:, ok], multioutput="uniform_average"))


def anomaly_aurocs(embed: Embed, ev: EvalData, cloud_kind: Cloud = "mahalanobis") -> dict[str, dict[str, float]]:
    """AUROC of the latent SM-compatibility score per signal and strength."""
    cloud = _cloud(embed(ev.sm_fit), cloud_kind)
    s_null = cloud.mahalanobis2(embed(ev.sm_null))
    return {sig: {key: auroc(cloud.mahalanobis2(embed(x)), s_null) for key, (x, _) in per.items()}
            for sig, per in ev.signals.items()}


def reference_aurocs(ev: EvalData) -> dict[str, dict[str, dict[str, float]]]:
    """AUROC of the goodness-of-fit test and of the signal's likelihood ratio (:class:`CountLikelihood`), same
    replicas as the encoder's."""
    gof_null = ev.lik.gof(ev.sm_null)
    out: dict = {}
    for sig, per in ev.signals.items():
        out[sig] = {}
        for key, (x, delta) in per.items():
            out[sig][key] = {"auroc_gof": auroc(ev.lik.gof(x), gof_null),
                             "auroc_optimal": auroc(ev.lik.ratio(x, delta), ev.lik.ratio(ev.sm_null, delta))}
    return out


def _prf(retrieved: np.ndarray, truth: np.ndarray) -> dict:
    tp = int(np.sum(retrieved & truth))
    n_ret, n_true = int(retrieved.sum()), int(truth.sum())
    p = tp / n_ret if n_ret else None
    r = tp / n_true if n_true else None
    f1 = 2 * p * r / (p + r) if (p is not None and r is not None and p + r > 0) else (0.0 if n_true else None)
    return {"precision": p, "recall": r, "f1": f1, "n_true": n_true, "n_retrieved": n_ret}


def universe_means(z: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Mean embedding per universe label 0..U-1."""
    u = np.unique(label)
    return np.stack([z[label == k].mean(0) for k in u])


def truth_mask(ev: EvalData, k: float) -> np.ndarray:
    return ev.unseen_truth_chi2 <= chi2_threshold(k, ev.prec.nu)


def retrieval(embed: Embed, ev: EvalData, cloud_kind: Cloud = "mahalanobis") -> dict[str, dict[str, dict]]:
    """P/R/F1 of both readings at each level against the exact truth (unseen universes)."""
    z_u = universe_means(embed(ev.unseen.x), ev.unseen.label)
    cloud = _cloud(embed(ev.sm_fit), cloud_kind)
    d2 = cloud.mahalanobis2(z_u)
    out: dict = {"contour": {}, "inflated": {}}
    for k in ev.levels:
        key = f"{k:g}sigma"
        truth = truth_mask(ev, k)
        out["contour"][key] = _prf(d2 <= cloud.radius2(k), truth)
        infl = _cloud(embed(ev.sm_inflated[k]), cloud_kind)
        out["inflated"][key] = _prf(infl.mahalanobis2(z_u) <= infl.radius2(1.0), truth)
    return out


def input_retrieval(ev: EvalData) -> dict[str, dict]:
    """The input-space statistic: chi^2 of each unseen universe's mean replica vs the SM, against the truth."""
    means = universe_means(ev.unseen.x, ev.unseen.label)
    chi2 = ev.prec.chi2(means, ev.y_sm)
    return {f"{k:g}sigma": _prf(chi2 <= chi2_threshold(k, ev.prec.nu), truth_mask(ev, k)) for k in ev.levels}


def score_embedding(embed: Embed, ev: EvalData, distance: Embed | None = None, cloud_kind: Cloud = "mahalanobis",
                    knn: EvalData | None = None) -> dict:
    """All figures of merit of one embedding; the SM-compatibility score and retrieval read ``distance`` (a block
    of the latent, e.g. the metric block of the recommended encoder) when given, k-NN and the probe the whole
    latent. k-NN runs on the seen universes of ``knn`` (default ``ev``)."""
    embed = memoised(embed)
    dist = embed if distance is None else memoised(distance)
    return {"knn_seen": knn_seen(embed, ev if knn is None else knn),
            "coefficient_r2_unseen": coefficient_r2_unseen(embed, ev),
            "anomaly": anomaly_aurocs(dist, ev, cloud_kind), "retrieval": retrieval(dist, ev, cloud_kind)}


def config_scorecard(scenario: str, encoder: dict, baselines: dict[str, dict], refs: dict) -> dict:
    """One configuration's entry of ``scorecard.json`` (exactly the contract's keys)."""
    anomaly = {sig: {key: {"auroc": encoder["anomaly"][sig][key], **refs[sig][key]} for key in per}
               for sig, per in refs.items()}
    retr = {key: {k: v[k] for k in ("precision", "recall", "f1", "n_true")}
            for key, v in encoder["retrieval"]["contour"].items()}
    return {"scenario": scenario, "anomaly": anomaly, "retrieval": retr,
            "coefficient_r2_unseen": {"encoder": encoder["coefficient_r2_unseen"],
                                      "lda": baselines["lda"]["coefficient_r2_unseen"],
                                      "pca_whitened": baselines["pca_whitened"]["coefficient_r2_unseen"]},
            "knn_seen": {"encoder": encoder["knn_seen"], "lda": baselines["lda"]["knn_seen"],
                         "pca": baselines["pca"]["knn_seen"]}}
