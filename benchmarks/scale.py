"""Scaling out on one machine: corpus throughput serial vs Dask, and the memory of streaming training.

Default run (figures into reports/metrics/scale.json, git-tracked):

* corpus throughput (rows/s) of the serial writer and of Dask LocalClusters with 1 and 2 worker processes (one
  thread each), for 1e6 and 1e7 rows (100 and 1000 universes x 1e4 replicas, 92 bins, the paper's RBF model).
  Serial and Dask run the same shard tasks (``data/replicas.py: write_shard``), so they do the same work per row;
  BLAS is pinned to one thread everywhere. Also printed: CPU seconds per million rows (summed over the processes
  that did the work) and the 1-minute load average before each run: on a shared machine wall-clock rates are
  inflated by the load, CPU time per row is not. Cluster start-up is timed separately and not in the rates.
* streaming training (``models/streaming.py``): one epoch over the train split of the 1e6- and 1e7-row corpora,
  each in a fresh child process, with its peak RSS; and the in-memory trainer's samples/s on the 1e6-row corpus
  for the same anchors (samples/s counts both sides of each pair, as the train stage does).

``--big``: a 1e8-row corpus (1e4 universes x 1e4 replicas) on a coarse binning (each 4 adjacent bins merged:
60 + 32 -> 15 + 8 = 23 bins, so the corpus stays ~10 GB instead of ~37 GB at 92 bins), generated with 2 Dask
workers, then one streamed epoch over its train split; wall time and peak RSS of both, under ``big`` in the JSON.
The corpus is deleted afterwards. Run it with ``nice -n 15``.

The last two lines are always:
    dask speed-up (2 workers / serial, 1e7 rows): <r>x
    streaming rss ratio (1e7 / 1e6 rows): <r>x

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale.py [--rows 1e6 1e7] [--big] [--workdir DIR]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench_inputs import default_templates  # noqa: E402
from smeftfm.atomic import json_safe, write_json  # noqa: E402
from smeftfm.config import DaskParams, load_params  # noqa: E402
from smeftfm.data.replicas import write_corpus  # noqa: E402
from smeftfm.data.sharding import dask_client, dask_executor  # noqa: E402
from smeftfm.data.uncertainties import UncertaintyModel  # noqa: E402
from smeftfm.data.universes import sample_coefficients  # noqa: E402
from smeftfm.physics.observables import histogram_columns  # noqa: E402

OUT = Path("reports/metrics/scale.json")
REPLICAS = 10_000


def inputs(n_universes: int, coarse: int = 1):
    """Spectra [U, B] (pb/GeV) of ``n_universes`` sampled universes, bin names and the paper's RBF model.

    ``coarse > 1`` merges each ``coarse`` adjacent bins of every observable (cross sections add, widths add)."""
    params = load_params()
    t = default_templates(params)
    u = params.universes
    coeffs = sample_coefficients(n_universes, len(t.operators), u.seed, u.log_lo, u.log_hi, u.p_zero_max,
                                 u.zero_scope)
    y = t.predict(coeffs)
    model = UncertaintyModel.from_params(params, t)
    cols = histogram_columns(t.binnings)
    if coarse == 1:
        return y, cols, model
    w, c = model.widths, model.centers
    ys, ws, cs, names, blocks, start = [], [], [], [], [], 0
    for b in model.blocks:
        idx = np.arange(b.start, b.stop)
        groups = [idx[i:i + coarse] for i in range(0, idx.size, coarse)]
        for g in groups:
            ws.append(w[g].sum())
            ys.append((y[:, g] * w[g]).sum(axis=1) / w[g].sum())
            cs.append(float(np.average(c[g], weights=w[g])))
            names.append(f"{cols[g[0]].split('_')[0]}_{len(names) - start:02d}")
        blocks.append(slice(start, start + len(groups)))
        start += len(groups)
    coarse_model = UncertaintyModel(widths=np.array(ws), centers=np.array(cs), blocks=tuple(blocks),
                                    l_eff=model.l_eff, corr_length=model.corr_length, lumi_fb=model.lumi_fb)
    return np.column_stack(ys), names, coarse_model


def _usage() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def corpus_run(out: Path, y, cols, model, workers: int) -> dict:
    """Generate the corpus serially (workers 0) or on a LocalCluster of ``workers`` processes."""
    params = load_params()
    c = params.corpus
    load = os.getloadavg()[0]
    if workers == 0:
        cpu0, t0 = _usage(), time.perf_counter()
        s = write_corpus(out, y, range(len(y)), cols, model, REPLICAS, c.seed, c.split, c.shard_rows)
        wall, cpu = time.perf_counter() - t0, _usage() - cpu0
        startup = 0.0
    else:
        t_start = time.perf_counter()
        with dask_client(DaskParams(enabled=True, workers=workers)) as client:
            startup = time.perf_counter() - t_start
            before = sum(client.run(_usage).values())
            cpu_main0, t0 = _usage(), time.perf_counter()
            s = write_corpus(out, y, range(len(y)), cols, model, REPLICAS, c.seed, c.split, c.shard_rows,
                             executor=dask_executor(client))
            wall = time.perf_counter() - t0
            cpu = sum(client.run(_usage).values()) - before + _usage() - cpu_main0
    rows = int(sum(v["rows"] for v in s.values()))
    return {"rows": rows, "workers": workers, "seconds": wall, "rows_per_second": rows / wall,
            "cpu_seconds_per_million_rows": 1e6 * cpu / rows, "load_average_1min_before": load,
            "cluster_startup_seconds": startup}


def _stream_child(corpus: str, max_anchors: int | None, batch_size: int, queue) -> None:
    import pyarrow.parquet as pq
    import torch

    from smeftfm.models.encoder import EncoderConfig
    from smeftfm.models.streaming import ShardStream, train_encoder_streaming
    from smeftfm.models.training import TrainConfig
    from smeftfm.models.transforms import InputTransform

    torch.set_num_threads(1)
    tp = load_params().train
    first = sorted((Path(corpus) / "split=train").glob("part-*.parquet"))[0]
    val = sorted((Path(corpus) / "split=val").glob("part-*.parquet"))[0]
    ft, fv = pq.read_table(first), pq.read_table(val)
    cols = [c for c in ft.column_names if c not in ("label", "replica")]
    x0 = np.column_stack([ft[c].to_numpy() for c in cols])[:50_000].astype(np.float64)
    sm = np.maximum(np.median(x0, axis=0), 1e-12)  # reference spectrum for the log-ratio transform
    tf = InputTransform.fit(tp.input_transform, x0, sm, tp.transform_floor)
    xv = tf(np.column_stack([fv[c].to_numpy() for c in cols])[:20_000])
    yv = fv["label"].to_numpy()[:20_000].astype(np.int64)
    del ft, fv, x0
    enc = EncoderConfig(n_inputs=len(cols), depth=tp.depth, width=tp.width, latent_dim=tp.latent_dim,
                        dropout=tp.dropout, batch_norm=tp.batch_norm)
    cfg = TrainConfig.from_params(tp, max_epochs=1, batch_size=batch_size, val_pairs=20_000, amp=False)
    ds = ShardStream(corpus, "train", batch_size=batch_size, buffer_rows=65_536, seed=0, transform=tf)
    t0 = time.perf_counter()
    res = train_encoder_streaming(ds, xv, yv, enc, cfg, max_anchors=max_anchors)
    queue.put({"seconds": time.perf_counter() - t0, "samples_per_second": res.samples_per_second,
               "anchors": int(res.history[-1]["anchors"]), "epoch_seconds": res.history[-1]["seconds"],
               "anchors_in_split": int(sum(pq.ParquetFile(f).metadata.num_rows for f in ds.files)),
               "max_anchors": max_anchors,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _memory_child(corpus: str, max_anchors: int | None, batch_size: int, queue) -> None:
    import torch

    from smeftfm.models.datasets import load_split
    from smeftfm.models.encoder import EncoderConfig
    from smeftfm.models.training import ContrastiveTrainer, TrainConfig
    from smeftfm.models.transforms import InputTransform

    torch.set_num_threads(1)
    tp = load_params().train
    sp = load_split(corpus, "train")
    sm = np.maximum(np.median(sp.x[:50_000], axis=0), 1e-12)
    tf = InputTransform.fit(tp.input_transform, sp.x[:50_000], sm, tp.transform_floor)
    x = tf(sp.x)
    enc = EncoderConfig(n_inputs=x.shape[1], depth=tp.depth, width=tp.width, latent_dim=tp.latent_dim,
                        dropout=tp.dropout, batch_norm=tp.batch_norm)
    cfg = TrainConfig.from_params(tp, batch_size=batch_size, amp=False,
                                  pairs_per_epoch=min(len(sp.label), max_anchors or len(sp.label)))
    trainer = ContrastiveTrainer(x, sp.label, enc, cfg)
    t0 = time.perf_counter()
    _, seen = trainer.run_epoch()
    dt = time.perf_counter() - t0
    queue.put({"seconds": dt, "samples_per_second": 2 * seen / dt,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def in_child(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def closing_lines(res: dict) -> None:
    def fmt(v):
        return "null" if v is None else f"{v:.2f}"

    print(f"dask speed-up (2 workers / serial, 1e7 rows): {fmt(res.get('dask_speedup_2w_1e7'))}x")
    print(f"streaming rss ratio (1e7 / 1e6 rows): {fmt(res.get('streaming_rss_ratio_1e7_1e6'))}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
    ap.add_argument("--big", action="store_true", help="the 1e8-row run (23 bins) instead of the default")
    ap.add_argument("--workdir", type=Path, default=None, help="where corpora are written (default: a temp dir)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--max-anchors", type=int, default=None,
                    help="end each streamed epoch after this many anchors (time budget on a loaded machine)")
    args = ap.parse_args()
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="smeftfm-scale-", dir=args.workdir))
    try:
        if args.big:
            big = {"rows_target": 100_000_000, "bins": 23, "replicas_per_universe": REPLICAS}
            y, cols, model = inputs(10_000, coarse=4)
            out = work / "corpus"
            t0 = time.perf_counter()
            gen = corpus_run(out, y, cols, model, 2)
            gen["peak_rss_mb_main"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            gen["wall_seconds_incl_startup"] = time.perf_counter() - t0
            gen["disk_gb"] = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 1e9
            print(f"1e8 corpus: {gen['rows']} rows, {gen['disk_gb']:.1f} GB, {gen['seconds']:.0f} s "
                  f"({gen['rows_per_second']:.0f} rows/s, load {gen['load_average_1min_before']:.1f})", flush=True)
            big["generation"] = gen
            st = in_child(_stream_child, str(out), args.max_anchors, args.batch_size)
            print(f"1e8 streamed epoch: {st['anchors']} anchors in {st['seconds']:.0f} s, peak RSS "
                  f"{st['peak_rss_mb']:.0f} MB", flush=True)
            big["streamed_epoch"] = st
            res["big"] = big
            write_json(OUT, json_safe(res))
            closing_lines(res)
            return
        y_all, cols, model = inputs(int(max(args.rows)) // REPLICAS)
        res.update({"replicas_per_universe": REPLICAS, "bins": len(cols), "cpu_count": os.cpu_count()})
        res.setdefault("corpus", {})  # a run with --rows 1e6 refreshes that size and keeps the others
        res.setdefault("streaming", {})
        for rows in args.rows:
            n_u = int(rows) // REPLICAS
            y = y_all[:n_u]
            key = f"{rows:.0e}".replace("+0", "")
            runs = {}
            for workers in (0, 1, 2):
                out = work / f"c{key}-{workers}"
                r = corpus_run(out, y, cols, model, workers)
                name = "serial" if workers == 0 else f"dask_{workers}w"
                runs[name] = r
                print(f"corpus {key} rows {name:8s}: {r['rows_per_second']:10.0f} rows/s  "
                      f"{r['cpu_seconds_per_million_rows']:6.2f} CPU s/Mrow  load {r['load_average_1min_before']:.1f}",
                      flush=True)
                if workers:
                    shutil.rmtree(out)
            serial_dir = work / f"c{key}-0"
            runs["speedup_1w"] = runs["dask_1w"]["rows_per_second"] / runs["serial"]["rows_per_second"]
            runs["speedup_2w"] = runs["dask_2w"]["rows_per_second"] / runs["serial"]["rows_per_second"]
            res["corpus"][key] = runs
            st = in_child(_stream_child, str(serial_dir), args.max_anchors, args.batch_size)
            print(f"streaming {key} rows: {st['anchors']} anchors, {st['samples_per_second']:.0f} samples/s, "
                  f"peak RSS {st['peak_rss_mb']:.0f} MB", flush=True)
            res["streaming"][key] = st
            if key == "1e6":
                mem = in_child(_memory_child, str(serial_dir), args.max_anchors, args.batch_size)
                print(f"in-memory 1e6 rows: {mem['samples_per_second']:.0f} samples/s, peak RSS "
                      f"{mem['peak_rss_mb']:.0f} MB", flush=True)
                res["in_memory_1e6"] = mem
                res["streaming_vs_memory_speed_1e6"] = st["samples_per_second"] / mem["samples_per_second"]
            shutil.rmtree(serial_dir)
            write_json(OUT, json_safe(res))
        c7, s = res["corpus"].get("1e7"), res["streaming"]
        res["dask_speedup_2w_1e7"] = c7["speedup_2w"] if c7 else None
        res["streaming_rss_ratio_1e7_1e6"] = (s["1e7"]["peak_rss_mb"] / s["1e6"]["peak_rss_mb"]
                                              if "1e7" in s and "1e6" in s else None)
        res["load_average_1min_end"] = os.getloadavg()[0]
        write_json(OUT, json_safe(res))
        if "streaming_vs_memory_speed_1e6" in res:
            print(f"streaming / in-memory samples/s (1e6 rows): {res['streaming_vs_memory_speed_1e6']:.2f}")
        closing_lines(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
