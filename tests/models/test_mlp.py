"""The shared MLP builder reproduces the hand-written block loops it replaced, parameter for parameter.

The reference builders below are the loops that ``models/encoder.py``, ``metric.py``, ``informer.py`` and
``dirichlet.py`` held before ``models/mlp.py``: same module order, hence the same draws from torch's global
generator under a seed, the same ``state_dict`` keys (saved weights stay loadable) and bit-identical outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from smeftfm.models.dirichlet import DirichletHead
from smeftfm.models.encoder import Encoder, EncoderConfig
from smeftfm.models.informer import EventEncoder, InformerConfig
from smeftfm.models.metric import MetricConfig, MetricNet
from smeftfm.models.mlp import hidden_linears, mlp


def _reference_encoder(cfg: EncoderConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    n_in = cfg.n_inputs
    for _ in range(cfg.depth):
        layers.append(nn.Linear(n_in, cfg.width))
        if cfg.batch_norm:
            layers.append(nn.BatchNorm1d(cfg.width))
        layers += [nn.ReLU(), nn.Dropout(cfg.dropout)]
        n_in = cfg.width
    layers.append(nn.Linear(n_in, cfg.latent_dim))
    return nn.Sequential(*layers)


def _reference_plain(n_in: int, width: int, depth: int, n_out: int, act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), act()]
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def _same(a: nn.Module, b: nn.Module) -> None:
    assert [type(m) for m in a.modules()][1:] == [type(m) for m in b.modules()][1:]
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("cfg", [EncoderConfig(), EncoderConfig(depth=1, batch_norm=False, dropout=0.0),
                                 EncoderConfig(depth=0)])
def test_encoder_blocks_match_the_reference_loop(cfg, seed):
    torch.manual_seed(seed)
    ref = _reference_encoder(cfg)
    torch.manual_seed(seed)
    enc = Encoder(cfg)
    _same(enc.net, ref)
    assert enc.hidden == hidden_linears(enc.net) and len(enc.hidden) == cfg.depth
    assert all(lin.in_features == (cfg.n_inputs if i == 0 else cfg.width) for i, lin in enumerate(enc.hidden))
    torch.manual_seed(seed + 1)
    x = torch.randn(16, cfg.n_inputs)
    assert torch.equal(enc.eval()(x), ref.eval()(x))


@pytest.mark.parametrize("seed", [0, 5])
def test_metric_informer_and_dpn_networks_match_the_reference_loops(seed):
    cfg = MetricConfig(depth=3, width=32, latent_dim=4, identity_init=False)  # the random-init path
    torch.manual_seed(seed)
    ref_mlp = _reference_plain(20, 32, 3, 4, nn.ReLU)
    ref_linear = nn.Linear(20, 4, bias=False)  # created after the MLP, as before
    torch.manual_seed(seed)
    net = MetricNet(20, cfg)
    _same(net.mlp, ref_mlp)
    assert torch.equal(net.linear.weight, ref_linear.weight)

    icfg = InformerConfig(hidden=24, depth=2, embed_dim=8)
    torch.manual_seed(seed)
    ref = _reference_plain(11, 24, 2, 8, nn.SiLU)
    torch.manual_seed(seed)
    enc = EventEncoder(11, icfg, np.zeros(11), np.ones(11))
    _same(enc.mlp, ref)

    torch.manual_seed(seed)
    ref = _reference_plain(2, 16, 2, 7, nn.ReLU)
    torch.manual_seed(seed)
    head = DirichletHead(2, 7, hidden=16, depth=2)
    _same(head.net, ref)


def test_builder_shapes_and_options():
    net = mlp(5, 8, 2, 3, activation=nn.Tanh, batch_norm=True, dropout=0.1)
    assert [type(m) for m in net] == [nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout] * 2 + [nn.Linear]
    assert net(torch.randn(4, 5)).shape == (4, 3)
    assert [type(m) for m in mlp(5, 8, 0, 3)] == [nn.Linear]
    assert hidden_linears(mlp(5, 8, 0, 3)) == []
