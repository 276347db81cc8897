"""DDP with torchrun: 2 CPU ranks (gloo) against the single-process trainer at the same global batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smeftfm.models.distributed import launch
from smeftfm.models.encoder import Encoder, EncoderConfig
from smeftfm.models.training import TrainConfig, train_encoder

from .conftest import make_universes

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")


def _data(n_univ=6, n_rep=80, seed=0):
    rng = np.random.default_rng(seed)
    _, y, _ = make_universes(n_univ, rng)
    lab = np.repeat(np.arange(n_univ), n_rep)
    x = np.log(y[lab] * (1 + 0.05 * rng.standard_normal((lab.size, y.shape[1]))))
    x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32)
    return x, lab


@pytest.mark.parametrize("batch_norm", [False, True])
def test_two_gloo_ranks_match_single_process_training(batch_norm):
    """Without dropout (its masks are per rank) one DDP step with the global batch split over two ranks is the
    single-process step up to float32 summation order -- with BatchNorm too, because the ranks' BatchNorm layers
    use the global batch's statistics (CrossRankBatchNorm1d on gloo/CPU).

    Tolerance: Adam divides by sqrt(v) + eps, so components whose gradient is ~0 move by ~lr with a rounding-
    dependent sign; after 36 steps the weights differ by a few 1e-3 in such components. We therefore require the
    weight difference (running statistics included, the step counter excluded) to be < 5 % of the distance the
    weights travelled and the validation losses to agree to 2 % (measured here: 1.5e-2 of the travel and 7e-3
    relative without BatchNorm, 5e-3 and 4e-3 with it). Ranks drawing their own pairs instead of sharing the global
    batch would miss both by far, and so does per-rank BatchNorm (plain ``BatchNorm1d`` under DDP: 0.12 of the
    travel, validation losses 6 % apart)."""
    x, lab = _data()
    xv, labv = _data(seed=1)
    enc = EncoderConfig(n_inputs=x.shape[1], depth=2, width=24, latent_dim=2, dropout=0.0, batch_norm=batch_norm)
    cfg = TrainConfig(lr=1e-3, l2=0.01, margin=1.0, batch_size=64, pairs_per_epoch=768, val_pairs=500,
                      positive_fraction=0.5, max_epochs=3, patience=10, min_delta=0.0, seed=4, amp=False)
    torch.set_num_threads(1)
    single = train_encoder(x, lab, xv, labv, enc, cfg)
    ddp = launch(2, x, lab, xv, labv, enc, cfg)
    assert [h["epoch"] for h in ddp.history] == [h["epoch"] for h in single.history]
    torch.manual_seed(cfg.seed)
    init = Encoder(enc).state_dict()  # the common starting point (same seed as both trainers)
    flat = {k: torch.cat([v.flatten().float() for n, v in m.items() if n.split(".")[-1] != "num_batches_tracked"])
            for k, m in
            (("init", init), ("single", single.encoder.state_dict()), ("ddp", ddp.encoder.state_dict()))}
    travel = float((flat["single"] - flat["init"]).norm())
    assert travel > 0.1
    assert float((flat["ddp"] - flat["single"]).norm()) < 0.05 * travel
    np.testing.assert_allclose([h["val_loss"] for h in ddp.history], [h["val_loss"] for h in single.history],
                               rtol=2e-2)
    np.testing.assert_allclose(ddp.history[-1]["train_loss"], single.history[-1]["train_loss"], rtol=2e-2)
    assert ddp.history[-1]["val_loss"] < ddp.history[0]["val_loss"]  # it did learn


def _cross_rank_bn_rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """One gloo rank: its share of a fixed batch through CrossRankBatchNorm1d; saves output, grads, running stats."""
    import torch.distributed as dist

    from smeftfm.models.distributed import CrossRankBatchNorm1d

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        x = torch.randn(10, 5) * 3 + 1
        w = torch.randn(10, 5)
        share = np.array_split(np.arange(10), world)[rank]  # unequal shares: 5/5 for 2 ranks, 4/3/3 for 3
        bn = CrossRankBatchNorm1d(5)
        with torch.no_grad():
            bn.weight.mul_(1.5)
            bn.bias.add_(0.2)
        xs = x[share].clone().requires_grad_(True)
        y = bn(xs)
        (y * w[share]).sum().backward()
        dist.all_reduce(bn.weight.grad)
        torch.save({"share": share, "y": y.detach(), "gx": xs.grad, "gw": bn.weight.grad,
                    "rm": bn.running_mean, "rv": bn.running_var}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [2, 3])
def test_cross_rank_batch_norm_is_batch_norm_on_the_global_batch(tmp_path, world):
    """Forward, input gradients, affine gradients (summed over ranks) and running statistics of
    CrossRankBatchNorm1d over ``world`` gloo ranks equal those of one BatchNorm1d on the whole batch, to float32
    rounding (1e-5), also when the ranks hold unequal shares."""
    torch.multiprocessing.spawn(_cross_rank_bn_rank, args=(world, str(tmp_path / "init"), str(tmp_path)),
                                nprocs=world, join=True)
    torch.manual_seed(0)
    x = (torch.randn(10, 5) * 3 + 1).requires_grad_(True)
    w = torch.randn(10, 5)
    bn = torch.nn.BatchNorm1d(5)
    with torch.no_grad():
        bn.weight.mul_(1.5)
        bn.bias.add_(0.2)
    y = bn(x)
    (y * w).sum().backward()
    outs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world)]
    for o in outs:
        s = torch.from_numpy(o["share"])
        torch.testing.assert_close(o["y"], y.detach()[s], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(o["gx"], x.grad[s], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(o["gw"], bn.weight.grad, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(o["rm"], bn.running_mean, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(o["rv"], bn.running_var, atol=1e-6, rtol=1e-5)
