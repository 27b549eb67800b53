"""Small models the tests save and load.

They live in their own module so the ``state_dict`` format can name them as
factories (``torch_models:MLP``) and so a subprocess without this folder on
``sys.path`` cannot import them.
"""

from __future__ import annotations

import torch
from torch import nn

import flavorkit_torch


class MLP(nn.Module):
    """A regressor: 4 features -> 1 value, with dropout to prove eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """A classifier on 1x8x8 images, with batch norm to prove running stats are used."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Linear(4 * 4 * 4, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))


class TwoInputs(nn.Module):
    """Two named inputs of different widths, one output."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Linear(3, 2)
        self.right = nn.Linear(5, 2)

    def forward(self, numeric: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.left(numeric) * self.right(extra)


class DictOut(nn.Module):
    """Returns a dict: scores and their softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.linear(x)
        return {"logits": logits, "probs": torch.softmax(logits, dim=-1)}


class NeedsArgs(nn.Module):
    """A module whose constructor needs an argument (no default factory)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


@flavorkit_torch.factory
def build_needs_args() -> NeedsArgs:
    """A factory for ``NeedsArgs`` as saved by the tests."""
    return NeedsArgs(4)


class DerivedDims(nn.Module):
    """Two inputs with dynamic rows whose sizes combine: shape expressions with FloorDiv and Mod."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rows = torch.cat([x, x, y], 0)  # 2*s0 + s1 rows
        flat = rows.reshape(-1)
        out = self.linear(rows)
        head = out[: flat.shape[0] // 3]
        tail = out[: rows.shape[0] % 5 + 1]
        return torch.cat([head, tail, flat[: rows.shape[0] * 2 - 1].reshape(-1, 1).expand(-1, 2)])


class Branching(nn.Module):
    """A data-dependent branch (``torch.cond``): subgraphs, a buffer and a lifted constant."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.register_buffer("scale", torch.full((2,), 2.0))
        self.offset = torch.tensor([1.0, 2.0])  # a plain attribute: a lifted constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def positive(x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) * self.scale

        def negative(x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) - self.offset

        return torch.cond(x.sum() > 0, positive, negative, (x,))


CALLS: list[str] = []


def unmarked_build() -> MLP:
    """A function that is not marked as a factory; records that it was called."""
    CALLS.append("unmarked_build")
    return MLP()


def trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` with seeded weights and non-trivial batch-norm statistics, in train mode."""
    torch.manual_seed(seed)
    for parameter in model.parameters():
        # small weights keep outputs near 1, where float32 rounds below 1e-6
        nn.init.normal_(parameter, std=0.25)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model.train()
