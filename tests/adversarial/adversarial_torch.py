"""The torch module the adversarial suite saves; its ``state_dict`` folders name it as factory."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """Three features in, one value out."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
