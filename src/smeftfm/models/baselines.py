"""PCA baseline and the embedding figures of merit shared by encoder and baseline.

All metrics are fitted on the *train* replicas and evaluated on the *test* replicas (never on the data a
thing was fit to): k-NN universe accuracy, silhouette score (universe labels, on a test subsample: it is
O(n^2)), and linear-probe R^2 from the latent to physics targets.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score, silhouette_score
from sklearn.neighbors import KNeighborsClassifier

from ..errors import SmeftfmError

__all__ = ["embedding_metrics", "fit_pca", "knn_accuracy", "linear_probe_r2", "silhouette"]


def fit_pca(x_train: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """PCA to ``n_components`` on the transformed train features."""
    if n_components > x_train.shape[1]:
        raise SmeftfmError(f"PCA to {n_components} components needs at least as many input features")
    return PCA(n_components=n_components, random_state=seed).fit(x_train)


def knn_accuracy(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
                 k: int = 15) -> float:
    """Fraction of test replicas whose universe is the majority of their ``k`` nearest train replicas."""
    clf = KNeighborsClassifier(n_neighbors=k, algorithm="kd_tree" if z_train.shape[1] <= 8 else "auto",
                               n_jobs=1).fit(z_train, y_train)
    return float(np.mean(clf.predict(z_test) == y_test))


def silhouette(z: np.ndarray, labels: np.ndarray, n_max: int, rng: np.random.Generator) -> float:
    """Silhouette score of the universe labels on at most ``n_max`` points (Euclidean)."""
    idx = rng.choice(len(z), size=min(n_max, len(z)), replace=False)
    if len(np.unique(labels[idx])) < 2:
        raise SmeftfmError("silhouette needs at least two universes in the sample")
    return float(silhouette_score(z[idx], labels[idx]))


def linear_probe_r2(z_train: np.ndarray, t_train: np.ndarray, z_test: np.ndarray,
                    t_test: np.ndarray) -> np.ndarray:
    """Test R^2 of a least-squares linear map latent -> targets (fit on train), one value per target column.

    A constant test target (zero variance) gets R^2 = nan.
    """
    t_train = t_train.reshape(len(t_train), -1)
    t_test = t_test.reshape(len(t_test), -1)
    pred = LinearRegression().fit(z_train, t_train).predict(z_test)
    out = np.full(t_test.shape[1], np.nan)
    ok = t_test.std(0) > 0
    if np.any(ok):
        out[ok] = r2_score(t_test[:, ok], pred[:, ok], multioutput="raw_values")
    return out


def embedding_metrics(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
                      targets_train: dict[str, np.ndarray], targets_test: dict[str, np.ndarray],
                      k: int, silhouette_n: int, seed: int = 0) -> dict[str, float | None]:
    """k-NN accuracy, silhouette and linear-probe R^2 (one per target column) of one embedding."""
    rng = np.random.default_rng(seed)
    out: dict[str, float | None] = {
        "knn_accuracy": knn_accuracy(z_train, y_train, z_test, y_test, k),
        "silhouette": silhouette(z_test, y_test, silhouette_n, rng),
    }
    for name, t_tr in targets_train.items():
        r2 = linear_probe_r2(z_train, t_tr, z_test, targets_test[name])
        out[f"r2_{name}"] = None if np.isnan(r2[0]) else float(r2[0])
    return out
