"""The distillation loss of `tools.lesion_model.train` (training venv only: torch is never in the
runtime venv, so CI skips this file; run it with /work/.venv-train/bin/python -m pytest)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
train = pytest.importorskip("tools.lesion_model.train")


def test_loss_is_zero_when_the_student_matches_the_teacher() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    loss = train.distillation_loss(logits, logits.clone(), torch.ones(2), tau=2.0)
    assert abs(float(loss)) < 1e-6


def test_loss_grows_as_the_student_departs_from_the_teacher() -> None:
    teacher = torch.tensor([[2.0, 0.5, -1.0]])
    near = train.distillation_loss(torch.tensor([[1.8, 0.6, -1.0]]), teacher, torch.ones(1), tau=2.0)
    far = train.distillation_loss(torch.tensor([[-1.0, 0.5, 2.0]]), teacher, torch.ones(1), tau=2.0)
    assert 0.0 < float(near) < float(far)


def test_sample_weights_decide_whose_disagreement_counts() -> None:
    teacher = torch.tensor([[3.0, 0.0], [3.0, 0.0]])
    student = torch.tensor([[3.0, 0.0], [0.0, 3.0]])  # only the second sample disagrees
    light = train.distillation_loss(student, teacher, torch.tensor([1.0, 0.1]), tau=1.0)
    heavy = train.distillation_loss(student, teacher, torch.tensor([1.0, 10.0]), tau=1.0)
    assert float(light) < float(heavy)
