"""Typed pipeline parameters (``params.yaml``).

Every section is a strict pydantic model: an unknown (e.g. misspelt) key or a value of the wrong
type or range raises one :class:`~smeftfm.errors.ConfigError` naming the key and the fix.
Each DVC stage declares the sections it reads in ``dvc.yaml`` so that changing one parameter
re-runs only the stages downstream of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .errors import ConfigError

__all__ = ["BinSpec", "CorpusParams", "DEFAULT_PARAMS", "DaskParams", "EdgesSpec", "EventsParams", "HeadsParams",
           "HistogramSpec", "InformerParams", "JobqueueParams", "LoopDictionaryParams", "LoopParams",
           "ObservableParams", "Params", "PhysicsParams", "QuadratureParams", "ReportParams", "ScreenParams",
           "Section", "TrainParams", "UniversesParams", "load_params", "parse_params"]

DEFAULT_PARAMS = Path("params.yaml")


class Section(BaseModel):
    """Base of every parameter section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BinSpec(Section):
    """Uniform binning: ``n`` bins over ``[lo, hi]`` (GeV)."""

    lo: float
    hi: float
    n: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BinSpec:
        if not self.hi > self.lo:
            raise ValueError(f"bin range must have hi > lo, got lo={self.lo}, hi={self.hi}")
        return self

    def bin_edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.n + 1)


class PhysicsParams(Section):
    """Process definition and SMEFT truncation."""

    pdf: str = "CT18LO"
    pdf_member: int = Field(0, ge=0)
    sqrt_s: float = Field(13000.0, gt=0, description="collider energy, GeV")
    lambda_np: float = Field(1000.0, gt=0, description="new-physics scale Lambda, GeV")
    order: Literal["linear", "quadratic"] = "linear"
    operators: Literal["screened", "all"] | list[str] = "screened"


class EdgesSpec(Section):
    """Explicit bin edges (strictly increasing, in the observable's unit)."""

    edges: list[float] = Field(min_length=2)

    def bin_edges(self) -> np.ndarray:
        return np.asarray(self.edges, dtype=np.float64)


HistogramSpec = BinSpec | EdgesSpec
_HISTOGRAM: TypeAdapter = TypeAdapter(HistogramSpec)


class ObservableParams(Section):
    """Phase space and histograms (default: the seed's 92 inputs, 60 m_ll + 32 p_T(mu-) bins).

    ``eta_max: null`` and ``pt_min: 0`` give the full phase space (no muon cuts). Besides ``mll`` and ``pt``
    (``null`` drops one), any observable of the registry (:mod:`smeftfm.physics.observables`) may be listed with
    its binning, e.g. ``y_ll: {lo: -2.5, hi: 2.5, n: 10}`` or ``cos_cs: {edges: [-1, -0.5, 0, 0.5, 1]}``; the
    histograms are concatenated in this order: mll, pt, then the others as listed.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    eta_max: float | None = Field(2.5, gt=0, description="|eta| cut on both muons; null: no cut")
    pt_min: float = Field(10.0, ge=0, description="GeV, both muons")
    mll_window: tuple[float, float] = (50.0, 650.0)
    mll: HistogramSpec | None = BinSpec(lo=50.0, hi=650.0, n=60)
    pt: HistogramSpec | None = BinSpec(lo=10.0, hi=330.0, n=32)

    @model_validator(mode="after")
    def _window(self) -> ObservableParams:
        lo, hi = self.mll_window
        if not hi > lo > 0:
            raise ValueError(f"mll_window must satisfy 0 < lo < hi, got {self.mll_window}")
        extra = self.__pydantic_extra__ or {}
        for name, raw in list(extra.items()):
            try:
                extra[name] = _HISTOGRAM.validate_python(raw)
            except ValidationError as err:
                raise ValueError(f"observables.{name} must be a binning {{lo, hi, n}} or {{edges: [...]}} "
                                 f"({err.errors()[0]['msg']})") from None
        if not self.histograms():
            raise ValueError("observables lists no histogram; give at least one binning (e.g. mll)")
        return self

    def histograms(self) -> dict[str, BinSpec | EdgesSpec]:
        """Observable name -> binning, in input order (mll, pt, then the others)."""
        out = {k: v for k, v in (("mll", self.mll), ("pt", self.pt)) if v is not None}
        out.update(self.__pydantic_extra__ or {})
        return out


class QuadratureParams(Section):
    """Deterministic Gauss-Legendre quadrature settings for binned templates."""

    mass_nodes: int = Field(12, ge=4, description="GL nodes per mass sub-interval")
    mass_sub_gev: float = Field(2.5, gt=0, description="width of mass sub-intervals, GeV")
    angle_nodes: int = Field(24, ge=4)
    rapidity_nodes: int = Field(24, ge=4)
    pt_nodes: int = Field(8, ge=2, description="GL nodes per pT sub-interval")


class ScreenParams(Section):
    """Analytic PRAXIS screening."""

    rel_threshold: float = Field(1e-6, gt=0, description="|interference| / SM above which an operator counts")


class UniversesParams(Section):
    """SMEFT universes (``universes`` stage): ln|C| ~ U(ln log_lo, ln log_hi), random sign, zeros (eqs. 3.2-3.3)."""

    n: int = Field(100, gt=0, description="number of universes (the SM row is added)")
    seed: int = Field(1234, ge=0)
    log_lo: float = Field(1e-4, gt=0, description="smallest |C| (Lambda = 1 TeV)")
    log_hi: float = Field(2.0, gt=0, description="largest |C|")
    p_zero_max: float = Field(0.4, ge=0, le=1, description="zeroing probability p ~ U(0, p_zero_max)")
    zero_scope: Literal["operator", "entry"] = Field(
        "operator", description="draw p once per operator (shared by all universes) or per universe and operator"
    )
    operators: Literal["screened", "all"] | list[str] = Field(
        "screened", description="the screening output's interfering operators, all 31 of Table 1, or a list"
    )

    @model_validator(mode="after")
    def _range(self) -> UniversesParams:
        if not self.log_hi > self.log_lo:
            raise ValueError("universes.log_hi must exceed universes.log_lo")
        return self


class CorpusParams(Section):
    """Monte Carlo replica corpus (``corpus`` stage, eqs. 3.4-3.18)."""

    n_replicas: int = Field(10_000, gt=0, description="replicas per universe")
    n_events: int = Field(10_000, gt=0, description="target events calibrating L_eff = N / sigma_SM")
    luminosity_fb: float | None = Field(None, gt=0, description="L_desired in fb^-1 (null: use L_eff)")
    corr_length_gev: float = Field(35.0, gt=0, description="RBF correlation length within each observable, GeV")
    nugget: float = Field(1.0, ge=0.0, le=1.0, description="rho in Sigma = (1-rho) Sigma_Poisson + rho Sigma_paper "
                          "(1 = the paper's RBF covariance exactly)")
    poisson_below: float = Field(0.0, ge=0.0, description="bins expecting fewer events get Poisson marginals")
    shard_rows: int = Field(250_000, gt=0, description="rows per shard task: max(1, shard_rows // n_replicas) "
                            "whole universes per Parquet shard")
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = Field(2024, ge=0)

    @field_validator("split")
    @classmethod
    def _split_sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x < 0 for x in v) or abs(sum(v) - 1.0) > 1e-9:
            raise ValueError(f"corpus.split must be three non-negative fractions summing to 1, got {v}")
        return v


class JobqueueParams(Section):
    """A batch-system cluster for Dask (``dask-jobqueue``, install with ``pip install -e '.[cluster]'``)."""

    kind: Literal["slurm", "pbs", "htcondor"] = Field("slurm", description="batch system")
    jobs: int = Field(2, gt=0, description="batch jobs to submit (each one runs `processes` workers)")
    cores: int = Field(1, gt=0, description="cores per job")
    processes: int = Field(1, gt=0, description="Dask worker processes per job")
    memory: str = Field("4GiB", description="memory per job")
    walltime: str = Field("01:00:00", description="wall time per job (HH:MM:SS)")
    queue: str | None = Field(None, description="partition / queue name")
    account: str | None = Field(None, description="project account to charge")
    job_extra_directives: tuple[str, ...] = Field((), description="extra #SBATCH/#PBS lines")


class DaskParams(Section):
    """Where the ``corpus`` stage runs its shard tasks. Not a DVC param of the stage: the output bytes do not
    depend on it (tests/data/test_sharding.py), so changing the cluster does not invalidate the corpus."""

    enabled: bool = Field(False, description="run the shard tasks on Dask (false: serially in the stage process)")
    workers: int = Field(2, gt=0, description="LocalCluster worker processes (one thread each)")
    address: str | None = Field(None, description="scheduler address (tcp://host:8786) of a running cluster")
    jobqueue: JobqueueParams | None = Field(None, description="start workers as batch jobs (Slurm/PBS/HTCondor)")


class EventsParams(Section):
    """Unweighted events at working points (``events`` stage), from the exact rate at ``physics.order``."""

    n_per_point: int = Field(10_000, gt=0, description="events per working point")
    seed: int = Field(7, ge=0)
    include_universes: bool = Field(True, description="the universes as working points besides the SM")
    on_negative: Literal["skip", "error"] = Field(
        "skip", description="a point whose linear rate is negative somewhere: skip it (listed) or fail"
    )


class TrainParams(Section):
    """Contrastive encoder (``train`` stage); architecture defaults are the seed paper's (Sec. 3.3)."""

    depth: int = Field(3, ge=1, description="hidden Dense/BatchNorm/ReLU/Dropout blocks")
    width: int = Field(100, ge=1)
    latent_dim: int = Field(2, ge=1)
    dropout: float = Field(0.35, ge=0, lt=1)
    batch_norm: bool = True
    l2: float = Field(0.1, ge=0, description="penalty l2 * sum(W^2) on hidden kernels (Keras convention)")
    margin: float = Field(1.0, gt=0, description="contrastive margin m (latent units)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate (paper: 1e-6; default from the lr scan)")
    batch_size: int = Field(1024, ge=2, description="pairs per optimiser step")
    pairs_per_epoch: int = Field(200_000, gt=0)
    val_pairs: int = Field(50_000, gt=0, description="fixed validation pairs for early stopping")
    positive_fraction: float = Field(0.5, gt=0, lt=1)
    max_epochs: int = Field(30, gt=0)
    patience: int = Field(5, gt=0)
    min_delta: float = Field(0.0, ge=0, description="improvement of the val loss that resets patience")
    input_transform: Literal["log_ratio_sm", "log", "ratio_sm", "none"] = "log_ratio_sm"
    transform_floor: float = Field(1e-2, gt=0, lt=1, description="lower clip of y/y_SM before the log")
    amp: bool = Field(True, description="automatic mixed precision (CUDA only)")
    nproc: int = Field(1, ge=1, description="DDP ranks started with torchrun (1: train in the stage process)")
    streaming: bool = Field(False, strict=True, description="stream the train split's Parquet shards instead of "
                            "loading them (corpora bigger than RAM); false = the in-memory path")
    stream_buffer_rows: int = Field(65_536, ge=2, description="replicas per shuffle buffer when streaming (pairs "
                                    "are drawn inside a buffer; memory grows with it)")
    knn_k: int = Field(15, gt=0, description="neighbours of the k-NN universe accuracy")
    silhouette_n: int = Field(5000, ge=10, description="test replicas used for the silhouette score")
    seed: int = 0

    @model_validator(mode="after")
    def _streaming(self) -> TrainParams:
        if self.streaming and self.nproc > 1:
            raise ValueError("train.streaming with train.nproc > 1 is not supported (the DDP trainer shares one "
                             "in-memory pair draw between ranks); set train.nproc: 1 or train.streaming: false")
        if self.streaming and self.stream_buffer_rows < self.batch_size:
            raise ValueError(f"train.stream_buffer_rows ({self.stream_buffer_rows}) must be at least "
                             f"train.batch_size ({self.batch_size}): pairs are drawn inside one buffer")
        return self


class HeadsParams(Section):
    """Downstream heads on the frozen embedding (``heads`` stage)."""

    seed: int = 0
    encoder_uri: str | None = Field(None, description="registry model to use instead of models/encoder, e.g. "
                                    "models:/smeftfm-encoder@champion (must be the encoder of data/embeddings)")
    dpn_hidden: int = Field(128, gt=0)
    dpn_depth: int = Field(2, ge=1)
    dpn_epochs: int = Field(20, gt=0)
    dpn_lr: float = Field(3e-3, gt=0)
    dpn_batch_size: int = Field(2048, gt=1)
    dpn_train_rows: int = Field(50_000, gt=0, description="train replicas used to fit the DPN (subsample)")
    dpn_target_precision: float = Field(1000.0, gt=0, description="in-distribution target alpha = 1 + this")
    dpn_ood_fraction: float = Field(1.0, ge=0, description="synthetic OOD latent points per training point")
    ece_bins: int = Field(15, gt=0)
    grid_n: int = Field(150, ge=10, description="latent-plane grid points per axis for the maps")
    n_sm_replicas: int = Field(10_000, ge=10, description="SM replicas embedded for the contours")
    n_anomaly_replicas: int = Field(5_000, ge=10, description="replicas per injected signal and ID reference")
    signal_units: Literal["sigma", "relative"] = Field(
        "sigma", description="tail/resonance sizes in SM per-bin sigma or relative to the SM bin content")
    tail_amplitude: float = Field(5.0, gt=0, description="excess at the last m_ll and p_T bins")
    z_shift_gev: float = Field(2.0, description="Z-peak shift, GeV")
    zshift_density: Literal["oracle", "binned"] = Field(
        "oracle", description="exact SM dsigma/dm from the oracle, or the binned piecewise-linear cumulative")
    bw_mass_gev: float = Field(500.0, gt=0)
    bw_width_gev: float = Field(25.0, gt=0)
    bw_strength: float = Field(5.0, gt=0, description="resonance in the m_ll bin holding the mass")
    sigma_levels: tuple[float, ...] = (1.0, 3.0, 6.0)
    chi2_rcond: float = Field(1e-10, gt=0, lt=1, description="eigenvalue cut (relative) of the SM covariance")


class LoopDictionaryParams(Section):
    """Degrees of the kinematic feature dictionary (used by the ``dictionary`` extension mode)."""

    mass_degree: int = Field(8, ge=0)
    cos_degree: int = Field(4, ge=0)
    rapidity_degree: int = Field(2, ge=0)


class LoopPaperParams(Section):
    """The authors' published setting (``docs/aletheia.md`` §6): probe window, floor, pools, unlock and extend rules."""

    mll_window: tuple[float, float] = (300.0, 2500.0)
    lepton_cuts: bool = Field(False, description="false: no muon cuts (|eta| < 10, p_T > 0; kinematics bind)")
    floor: float = Field(0.30, gt=0)
    patience: int = Field(3, ge=1, description="silence window: consecutive passed audits that complete a tier")
    pool: Literal["grid", "box"] = "grid"
    extend_rule: Literal["above_floor", "fingerprint"] = "above_floor"
    candidates_after_unlock: Literal["new_tier", "all"] = "new_tier"


class LoopInformerParams(Section):
    """The informer-driven loop: psi_0 = [1, trained ManifoldInformer features] (``docs/aletheia.md`` §7)."""

    enabled: bool = True
    extension: Literal["none", "kinematic", "exact"] = Field(
        "none", description="none: the basis alone must complete (a pure test of the informer's span)")


class LoopParams(Section):
    """ALETHEIA complete-then-expand loop (``docs/aletheia.md``). sigma values: sqrt(sum over probe events of l^2)."""

    leading: list[str] = ["clq1", "clq3"]
    subleading: list[str] = ["cHq1", "cHq3"]
    n_probe: int = Field(4000, ge=50, description="SM probe events (and as many validation events)")
    psi_init_dim: int = Field(5, ge=1)
    floor: float = Field(1.0, gt=0, description="completion floor tau on sigma_1")
    fingerprint: float = Field(2.0, gt=1, description="sigma_1/sigma_2 above which one direction dominates")
    patience: int = Field(2, ge=1, description="consecutive passed completion audits that complete a tier")
    max_cycles: int = Field(30, gt=0)
    n_candidates: int = Field(256, gt=0, description="candidate working points per tier and cycle")
    coeff_max: float = Field(3.0, gt=0, description="candidate box |C| <= coeff_max at Lambda")
    candidates_after_unlock: Literal["new_tier", "all"] = "new_tier"
    extension: Literal["kinematic", "exact", "dictionary"] = "kinematic"
    n_fit: int = Field(20000, ge=100, description="events of the independent set kinematic extensions are fitted on")
    fit_mass_tilt: float = Field(3.0, ge=0, description="fit events drawn from p_SM (m/m_lo)^k, weighted back")
    dictionary: LoopDictionaryParams = LoopDictionaryParams()
    epig_ridge: float = Field(1e-3, gt=0)
    seeds: list[int] = Field([11, 12, 13, 14, 15], min_length=1, description="loop seeds (pools, random arm)")
    probe_draws: int = Field(2, ge=1, description="independent probe/validation/fit event draws")
    coeff_scan: list[float] = [1.0, 10.0]
    paper: LoopPaperParams = LoopPaperParams()
    informer: LoopInformerParams = LoopInformerParams()
    seed: int = 11

    @field_validator("coeff_scan")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(x <= 0 for x in v):
            raise ValueError(f"loop.coeff_scan values must be > 0, got {v}")
        return v


class InformerParams(Section):
    """ManifoldInformer (``docs/aletheia.md``): JEPA-trained per-event encoder + closed-form ridge head."""

    embed_dim: int = Field(128, gt=0, description="learned features appended to the input lifts")
    hidden: int = Field(512, gt=0)
    depth: int = Field(2, ge=1)
    events_per_set: int = Field(256, gt=1, description="events per view of a working point")
    working_points: int = Field(32, ge=4, description="working points per step (half context, half query)")
    steps: int = Field(600, gt=0)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the steps: constant, or cosine decay from lr to 0")
    ridge: float = Field(1e-2, gt=0, description="ridge lambda relative to tr(K^T K)/p")
    ema: float = Field(0.99, gt=0, lt=1)
    var_weight: float = Field(1.0, ge=0)
    cov_weight: float = Field(0.04, ge=0)
    coeff_max: float = Field(10.0, gt=0, description="training working points |C| <= coeff_max at Lambda")
    aux_weight: float = Field(0.0, ge=0, description="supervised auxiliary objective (features -> tangents); 0 = JEPA")
    precision: Literal["float32", "bfloat16"] = Field(
        "float32", description="training matmuls: float32, or bfloat16 autocast (weights and optimiser in float32)")
    stack: int = Field(1, ge=1, description="models trained together as one stacked network (1 = one after another)")
    jepa_companion: bool = Field(True, description="with aux_weight > 0, also train and report a JEPA-only informer "
                                 "per seed (same stack)")
    n_pool: int = Field(50_000, ge=1000, description="SM events resampled into views")
    mass_tilt: float = Field(3.0, ge=0, description="pool and probe events drawn from p_SM (m/m_lo)^k, weighted back")
    n_probe: int = Field(20000, ge=50, description="held-out probe events scoring the linear probe")
    n_probe_fit: int = Field(50000, ge=50, description="probe events fitting the linear probe")
    seeds: list[int] = [0, 1, 2]
    seed: int = 5

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("informer.seeds must list at least one seed")
        return v


class ReportParams(Section):
    """The ``report`` stage (``reports/index.html``); positions are in GeV and pick the bin that contains them."""

    dpi: int = Field(110, ge=50, le=400, description="resolution of the PNG figures")
    pt_subpeak_gev: float = Field(35.0, gt=0, description="Fig. 6: p_T bin just below the Jacobian peak")
    mll_peak_gev: float = Field(91.1876, gt=0, description="Fig. 6: the Z-peak m_ll bin")
    mll_high_gev: float = Field(645.0, gt=0, description="Fig. 6: the high-mass m_ll bin")
    n_clusters: int = Field(4, ge=1, le=8, description="Fig. 7: k-means groups of universes in the latent plane")
    latent_points: int = Field(20_000, ge=100, description="Fig. 6: at most this many test replicas drawn")
    ratio_coefficient: float = Field(1.0, gt=0, description="Fig. 3: Wilson coefficient of the ratio-to-SM plot")
    seed: int = Field(0, ge=0, description="seed of the k-means grouping and the replica subsample")


class FitPosteriorParams(Section):
    walkers: int = Field(32, ge=8)
    steps: int = Field(3000, ge=200)
    burn: int = Field(500, ge=0)
    box_sigma: float = Field(30.0, gt=0, description="flat prior half-width in linear-model standard deviations")
    seed: int = 0


class FitParams(Section):
    """The ``fit`` stage: published measurements (``data/measurements/<folder>``) -> Wilson-coefficient intervals."""

    root: str = "data/measurements"
    datasets: list[str] = ["cms_dy_13tev", "atlas_dy_7tev_hm"]
    mll_range: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="fit window per dataset folder, GeV (default: all bins)")
    shape_sigma: list[float] = Field([0.1, 0.1, 0.1], description="fractional size of Legendre shape modes 1..K")
    cl: float = Field(0.95, gt=0, lt=1)
    operators: Literal["all"] | list[str] = "all"
    sets: list[list[str]] = [["clq1", "clq3"], ["cHl1", "cHe"], ["clq1", "clq3", "ceu", "ced"]]
    posterior_sets: list[list[str]] = [["clq1", "clq3"], ["clq1", "clq3", "ceu", "ced"]]
    posterior: FitPosteriorParams = FitPosteriorParams()
    contour_points: int = Field(81, ge=11)
    toys: int = Field(400, ge=0, description="pseudo-experiments for the coverage check of the 68 % interval")


class RecommendedParams(Section):
    """The `recommended` encoder of the scorecard (metric learning on chi^2 distances, ``models/metric.py``)."""

    enabled: bool = True
    latent_dim: int = Field(0, ge=0, description="metric block width; 0 = the input width nu (full rank)")
    depth: int = Field(2, ge=0)
    width: int = Field(128, gt=0)
    whitening: Literal["gof", "chi2"] = Field("gof", description="encoder input: GoF residual (Gaussian block "
                                              "whitened + signed root Poisson deviance) or full-Sigma whitening")
    identity_init: bool = Field(True, description="metric block starts at the identity (distance = GoF chi^2)")
    cloud: Literal["euclidean", "mahalanobis"] = Field(
        "euclidean", description="SM-compatibility score: Euclidean or Mahalanobis latent distance to the SM cloud")
    coef_width: int = Field(128, ge=0, description="supervised coefficient-regression head width; 0 = none")
    coef_weight: float = Field(1.0, ge=0, description="weight of the head's MSE beside the stress")
    lr: float = Field(1e-3, gt=0)
    steps: int = Field(1500, gt=0, description="Adam steps of batch_size replica pairs")
    batch_size: int = Field(512, gt=1)
    extra_universes: int = Field(900, ge=0, description="universes beside the corpus ones (another seed)")
    replicas_per_universe: int = Field(100, gt=1, description="in-memory training replicas per universe")
    seed: int = Field(0, ge=0)


class ScorecardParams(Section):
    """The scorecard stage: unseen universes, SM-null anomaly scans, retrieval vs the exact chi^2 truth."""

    seed: int = Field(31, ge=0)
    n_unseen: int = Field(200, ge=20, description="fresh universes (seed universes.seed + 1) never trained on")
    unseen_replicas: int = Field(20, gt=1, description="replicas per unseen universe")
    seen_train_per_universe: int = Field(200, gt=0, description="corpus train replicas per seen universe used")
    seen_test_per_universe: int = Field(100, gt=0, description="corpus test replicas per seen universe used")
    n_sm_fit: int = Field(5000, gt=10, description="SM replicas defining the latent SM cloud")
    n_sm_null: int = Field(4000, gt=10, description="SM replicas of the anomaly null sample")
    n_signal: int = Field(2000, gt=10, description="signal replicas per signal and strength")
    gof_targets: list[float] = Field([0.6, 0.75, 0.9, 0.99], description="GoF AUROCs fixing the strength scan")
    bw_mass_gev: float = Field(500.0, gt=0)
    bw_width_gev: float = Field(25.0, gt=0)
    tail_from_gev: float = Field(400.0, gt=0)
    recommended: RecommendedParams = RecommendedParams()


class Params(Section):
    """All of ``params.yaml``."""

    physics: PhysicsParams = PhysicsParams()
    observables: ObservableParams = ObservableParams()
    quadrature: QuadratureParams = QuadratureParams()
    screen: ScreenParams = ScreenParams()
    universes: UniversesParams = UniversesParams()
    corpus: CorpusParams = CorpusParams()
    dask: DaskParams = DaskParams()
    events: EventsParams = EventsParams()
    train: TrainParams = TrainParams()
    heads: HeadsParams = HeadsParams()
    informer: InformerParams = InformerParams()
    loop: LoopParams = LoopParams()
    report: ReportParams = ReportParams()
    fit: FitParams = FitParams()
    scorecard: ScorecardParams = ScorecardParams()


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            section = ".".join(str(p) for p in e["loc"][:-1]) or "top level"
            lines.append(f"unknown key '{loc}' (not a parameter of {section}; check the spelling)")
        elif e["type"] == "missing":
            lines.append(f"missing key '{loc}'")
        else:
            lines.append(f"bad value for '{loc}': {e['msg']} (got {e.get('input')!r})")
    return f"invalid parameters in {source}: " + "; ".join(lines)


def parse_params(data: object, source: str = "params") -> Params:
    """Validate a mapping (as loaded from YAML) into :class:`Params`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of sections, got {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_params(path: str | os.PathLike[str] | None = None) -> Params:
    """Load and validate ``params.yaml`` (default: ``$SMEFTFM_PARAMS`` or ``./params.yaml``)."""
    p = Path(path or os.environ.get("SMEFTFM_PARAMS", DEFAULT_PARAMS))
    if not p.exists():
        raise ConfigError(f"parameter file {p} not found; run from the project root or pass --params")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{p} is not valid YAML ({err}); fix the syntax at the position shown") from None
    return parse_params(data, str(p))
