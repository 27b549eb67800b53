"""PyTorch modules the ONNX tests export (kept apart: the custom model's code imports no torch)."""

from __future__ import annotations

import torch
from torch import nn


class RowSum(nn.Module):
    """A regression with a 1-D output: ``(N, 4) -> (N,)``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)


class TwoInputs(nn.Module):
    """Named inputs ``a`` (N, 3) and ``b`` (N, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([1.5, -2.0, 0.5]))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * self.scale + b
