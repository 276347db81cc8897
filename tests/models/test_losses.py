import numpy as np
import pytest
import torch

from smeftfm.models.losses import contrastive_loss, pair_distance


def test_contrastive_loss_hand_computed_pairs():
    z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    z2 = torch.tensor([[3.0, 4.0], [3.0, 4.0], [3.0, 4.0], [1.0, 2.0]])
    y = torch.tensor([1.0, 0.0, 0.0, 0.0])
    # D = 5, 5, 5, 1.  positive: 25; negative m=6: (6-5)^2=1; m=6: 1; m=6, D=1: 25
    per = contrastive_loss(z1, z2, y, margin=6.0, reduction="none")
    np.testing.assert_allclose(per.numpy(), [25.0, 1.0, 1.0, 25.0], rtol=1e-6)
    assert contrastive_loss(z1, z2, y, margin=6.0).item() == pytest.approx(13.0)
    # a negative pair beyond the margin costs nothing
    assert contrastive_loss(z1[:1], z2[:1], torch.zeros(1), margin=4.0).item() == 0.0
    np.testing.assert_allclose(pair_distance(z1, z2).numpy(), [5, 5, 5, 1], rtol=1e-6)


def test_contrastive_gradient_finite_for_coincident_negatives():
    z1 = torch.zeros(2, 2, requires_grad=True)
    z2 = torch.zeros(2, 2)
    loss = contrastive_loss(z1, z2, torch.tensor([0.0, 1.0]), margin=1.0)
    loss.backward()
    assert loss.item() == pytest.approx(0.5, abs=1e-5)  # (1 - 0)^2 for the negative, 0 for the positive, mean
    assert torch.isfinite(z1.grad).all()


def test_positive_gradient_pulls_together():
    z1 = torch.tensor([[1.0, 0.0]], requires_grad=True)
    contrastive_loss(z1, torch.zeros(1, 2), torch.ones(1), margin=1.0).backward()
    np.testing.assert_allclose(z1.grad.numpy(), [[2.0, 0.0]])  # d(D^2)/dz1 = 2 (z1 - z2)
