"""Promotion of a trained encoder in the MLflow model registry, and loading it back by alias.

Every ``train`` run registers its :class:`~smeftfm.models.encoder.EmbeddingModel` as a new version of
:data:`REGISTERED_NAME`. ``smeftfm promote`` points an alias (default ``champion``) at one version: a given version,
the version of a given run, or the version whose training run has the best value of a logged metric (e.g.
``encoder.knn_accuracy`` over a sweep). The ``heads`` stage loads ``models:/smeftfm-encoder@champion`` when
``heads.encoder_uri`` says so (:func:`load_heads_encoder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import SmeftfmError
from ..tracking import setup_mlflow
from .bundle import load_encoder

__all__ = ["REGISTERED_NAME", "load_heads_encoder", "load_registered", "promote"]

REGISTERED_NAME = "smeftfm-encoder"


def promote(alias: str = "champion", version: int | None = None, run_id: str | None = None,
            best_by: str | None = None, lower_is_better: bool = False, name: str = REGISTERED_NAME) -> dict[str, Any]:
    """Set ``name@alias`` to one registered version; returns ``{"name", "alias", "version", "run_id", ...}``.

    Exactly one of ``version``, ``run_id`` or ``best_by`` (a metric of the training runs) may be given; none
    promotes the newest version.
    """
    if sum(x is not None for x in (version, run_id, best_by)) > 1:
        raise SmeftfmError("promote takes one of --version, --run-id or --best-by, not several")
    mlflow = setup_mlflow()
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise SmeftfmError(f"no registered model '{name}' in {mlflow.get_tracking_uri()}; run `dvc repro train` "
                           "(with tracking on) first")
    chosen: Any
    score = None
    if version is not None:
        chosen = next((v for v in versions if int(v.version) == version), None)
        if chosen is None:
            raise SmeftfmError(f"'{name}' has no version {version}; versions: "
                               f"{sorted(int(v.version) for v in versions)}")
    elif run_id is not None:
        chosen = next((v for v in versions if v.run_id == run_id), None)
        if chosen is None:
            raise SmeftfmError(f"run {run_id} registered no version of '{name}'")
    elif best_by is not None:
        scored = []
        for v in versions:
            value = client.get_run(v.run_id).data.metrics.get(best_by)
            if value is not None:
                scored.append((value, int(v.version), v))
        if not scored:
            raise SmeftfmError(f"no training run of '{name}' logged the metric '{best_by}' "
                               "(e.g. encoder.knn_accuracy)")
        scored.sort(key=lambda t: (t[0] if lower_is_better else -t[0], -t[1]))
        score, _, chosen = scored[0]
    else:
        chosen = max(versions, key=lambda v: int(v.version))
    client.set_registered_model_alias(name, alias, chosen.version)
    return {"name": name, "alias": alias, "version": int(chosen.version), "run_id": chosen.run_id,
            "metric": best_by, "value": score, "uri": f"models:/{name}@{alias}"}


def load_registered(uri: str) -> torch.nn.Module:
    """The embedding module behind a registry URI such as ``models:/smeftfm-encoder@champion`` (CPU).

    MLflow may hand back the logged :class:`EmbeddingModel` or its exported graph; both map raw spectra
    ``[n, bins]`` in pb/GeV to the latent."""
    mlflow = setup_mlflow()
    from mlflow import pytorch as mlflow_pytorch

    try:
        model = mlflow_pytorch.load_model(uri, map_location="cpu")
    except Exception as err:  # MlflowException, missing alias, unreachable server
        raise SmeftfmError(f"cannot load {uri} from {mlflow.get_tracking_uri()} ({err}); promote a version with "
                           "`smeftfm promote` or fix heads.encoder_uri") from None
    if not isinstance(model, torch.nn.Module):
        raise SmeftfmError(f"{uri} is a {type(model).__name__}, not a torch module logged by `smeftfm train`")
    return model  # logged in eval mode; an exported graph has no train mode to leave


def load_heads_encoder(uri: str | None, model_dir: str | Path) -> tuple[torch.nn.Module, dict, str]:
    """The encoder the heads use: ``model_dir`` (``uri`` None) or the registry model ``uri``.

    The heads also read the embeddings the ``train`` stage wrote with ``model_dir``'s encoder, so a registry model
    must be that same encoder: on 33 probe spectra around the SM (log-normal, 20 % spread) its latent must equal
    the local one's to 1e-5 relative; otherwise this raises, naming the fix.
    Returns (model, stored metadata, source description).
    """
    local, meta = load_encoder(model_dir)
    if uri is None:
        return local, meta, str(model_dir)
    model = load_registered(uri)
    gen = torch.Generator().manual_seed(0)
    probe = local.sm * torch.exp(0.2 * torch.randn(33, local.sm.shape[0], generator=gen))
    with torch.no_grad():
        want = local(probe)
        try:
            got = model(probe)
        except Exception as err:  # e.g. an exported graph with another input shape
            raise SmeftfmError(f"{uri} does not embed spectra of {local.sm.shape[0]} bins ({err})") from None
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-5, atol=1e-6):
        raise SmeftfmError(f"{uri} is not the encoder in {model_dir} whose embeddings the heads read; restore the "
                           "promoted experiment first (`dvc exp apply <exp>` or check out its commit, then "
                           "`dvc checkout`), or promote this one (`smeftfm promote`)")
    return model, meta, uri
