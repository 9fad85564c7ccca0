"""The paper's networks as PyTorch modules, written out (no model hub, random weights).

Each is the standard architecture of its paper, in inference form:

* ResNet-50 (He et al. 2016; torchvision's layout: stride on the 3x3 conv),
* VGG-16 (configuration D, with batch norm left out as in the original),
* Inception-v3 (Szegedy et al. 2016, torchvision's block structure, no
  auxiliary head at inference),
* the BERT-base encoder (Devlin et al. 2019): embeddings, 12 post-norm layers of
  hidden 768, 12 heads, intermediate 3072 and GELU; sequence 128,
* MobileNetV2 (Sandler et al. 2018; torchvision's layout and channel rounding):
  inverted residuals whose 3x3 convolutions are depthwise.

Small variants (``SmallCNN``, ``bert_tiny``) share the building blocks, so the
tests exercise the same code at a size that tunes in seconds.

Weights are random (seeded by the caller through ``torch.manual_seed``);
batch norms get random running statistics so that folding them is not a no-op.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(ci: int, co: int, kernel, stride=1, padding=0) -> nn.Sequential:
    """Convolution without bias, batch norm, ReLU: the unit of ResNet and Inception."""
    return nn.Sequential(
        nn.Conv2d(ci, co, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(co, eps=1e-3),
        nn.ReLU(inplace=True),
    )


# -- ResNet-50 --------------------------------------------------------------------------------
class Bottleneck(nn.Module):
    """ResNet's 1x1 -> 3x3 (strided) -> 1x1 block with a projection shortcut when needed."""

    expansion = 4

    def __init__(self, ci: int, width: int, stride: int = 1) -> None:
        super().__init__()
        co = width * self.expansion
        self.conv1 = nn.Conv2d(ci, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, co, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(co)
        self.down = None
        if stride != 1 or ci != co:
            self.down = nn.Sequential(nn.Conv2d(ci, co, 1, stride=stride, bias=False), nn.BatchNorm2d(co))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """ResNet with bottleneck blocks; ``layers=(3, 4, 6, 3)`` is ResNet-50."""

    def __init__(self, layers=(3, 4, 6, 3), widths=(64, 128, 256, 512), stem=64, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks, ci = [], stem
        for stage, (count, width) in enumerate(zip(layers, widths)):
            for i in range(count):
                blocks.append(Bottleneck(ci, width, stride=2 if i == 0 and stage > 0 else 1))
                ci = width * Bottleneck.expansion
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(ci, classes)

    def forward(self, x):
        y = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# -- VGG-16 -----------------------------------------------------------------------------------
class VGG(nn.Module):
    """VGG configuration D (16 weight layers): 13 3x3 convs in 5 stages, 3 fully connected."""

    CONFIG_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

    def __init__(self, config=CONFIG_D, classes=1000, hidden=4096, image=224):
        super().__init__()
        layers, ci = [], 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(ci, item, 3, padding=1), nn.ReLU(inplace=True)]
                ci = item
        self.features = nn.Sequential(*layers)
        side = image // 32
        self.classifier = nn.Sequential(
            nn.Linear(ci * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# -- Inception-v3 -----------------------------------------------------------------------------
class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1."""

    def __init__(self, ci: int, pool: int) -> None:
        super().__init__()
        self.b1 = conv_bn(ci, 64, 1)
        self.b5 = nn.Sequential(conv_bn(ci, 48, 1), conv_bn(48, 64, 5, padding=2))
        self.b3 = nn.Sequential(conv_bn(ci, 64, 1), conv_bn(64, 96, 3, padding=1), conv_bn(96, 96, 3, padding=1))
        self.bp = conv_bn(ci, pool, 1)

    def forward(self, x):
        pooled = F.avg_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.bp(pooled)], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, ci: int) -> None:
        super().__init__()
        self.b3 = conv_bn(ci, 384, 3, stride=2)
        self.bd = nn.Sequential(conv_bn(ci, 64, 1), conv_bn(64, 96, 3, padding=1), conv_bn(96, 96, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.b3(x), self.bd(x), F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 and 7x1)."""

    def __init__(self, ci: int, c7: int) -> None:
        super().__init__()
        self.b1 = conv_bn(ci, 192, 1)
        self.b7 = nn.Sequential(
            conv_bn(ci, c7, 1), conv_bn(c7, c7, (1, 7), padding=(0, 3)), conv_bn(c7, 192, (7, 1), padding=(3, 0))
        )
        self.bd = nn.Sequential(
            conv_bn(ci, c7, 1),
            conv_bn(c7, c7, (7, 1), padding=(3, 0)),
            conv_bn(c7, c7, (1, 7), padding=(0, 3)),
            conv_bn(c7, c7, (7, 1), padding=(3, 0)),
            conv_bn(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.bp = conv_bn(ci, 192, 1)

    def forward(self, x):
        pooled = F.avg_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.b1(x), self.b7(x), self.bd(x), self.bp(pooled)], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, ci: int) -> None:
        super().__init__()
        self.b3 = nn.Sequential(conv_bn(ci, 192, 1), conv_bn(192, 320, 3, stride=2))
        self.b7 = nn.Sequential(
            conv_bn(ci, 192, 1),
            conv_bn(192, 192, (1, 7), padding=(0, 3)),
            conv_bn(192, 192, (7, 1), padding=(3, 0)),
            conv_bn(192, 192, 3, stride=2),
        )

    def forward(self, x):
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with expanded filter banks (1x3 and 3x1 side by side)."""

    def __init__(self, ci: int) -> None:
        super().__init__()
        self.b1 = conv_bn(ci, 320, 1)
        self.b3 = conv_bn(ci, 384, 1)
        self.b3a = conv_bn(384, 384, (1, 3), padding=(0, 1))
        self.b3b = conv_bn(384, 384, (3, 1), padding=(1, 0))
        self.bd = nn.Sequential(conv_bn(ci, 448, 1), conv_bn(448, 384, 3, padding=1))
        self.bda = conv_bn(384, 384, (1, 3), padding=(0, 1))
        self.bdb = conv_bn(384, 384, (3, 1), padding=(1, 0))
        self.bp = conv_bn(ci, 192, 1)

    def forward(self, x):
        y3, yd = self.b3(x), self.bd(x)
        pooled = F.avg_pool2d(x, 3, stride=1, padding=1)
        parts = [self.b1(x), self.b3a(y3), self.b3b(y3), self.bda(yd), self.bdb(yd), self.bp(pooled)]
        return torch.cat(parts, 1)


class InceptionV3(nn.Module):
    """Inception-v3 for 299x299 inputs (inference: no auxiliary classifier, no dropout)."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn(3, 32, 3, stride=2),
            conv_bn(32, 32, 3),
            conv_bn(32, 64, 3, padding=1),
            nn.MaxPool2d(3, stride=2),
            conv_bn(64, 80, 1),
            conv_bn(80, 192, 3),
            nn.MaxPool2d(3, stride=2),
        )
        self.mixed = nn.Sequential(
            InceptionA(192, 32),
            InceptionA(256, 64),
            InceptionA(288, 64),
            InceptionB(288),
            InceptionC(768, 128),
            InceptionC(768, 160),
            InceptionC(768, 160),
            InceptionC(768, 192),
            InceptionD(768),
            InceptionE(1280),
            InceptionE(2048),
        )
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        y = self.mixed(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# -- BERT ------------------------------------------------------------------------------------
class BertLayer(nn.Module):
    """One post-norm transformer encoder layer of BERT (self-attention, GELU feed-forward)."""

    def __init__(self, hidden: int, heads: int, intermediate: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.inter = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=1e-12)

    def _split(self, x):
        b, s, _ = x.shape
        return x.reshape(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        context = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, s, h)
        x = self.attn_norm(x + self.attn_out(context))
        return self.out_norm(x + self.out(F.gelu(self.inter(x))))


class BertEncoder(nn.Module):
    """BERT's embeddings (word, position, token type, layer norm) and encoder stack."""

    def __init__(self, layers=12, hidden=768, heads=12, intermediate=3072, vocab=30522, max_pos=512):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, intermediate) for _ in range(layers))

    def forward(self, ids):
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
        x = self.norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


# -- MobileNetV2 -------------------------------------------------------------------------------
def _divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never below 90% of it (torchvision's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_relu6(ci: int, co: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Convolution without bias, batch norm, ReLU6: MobileNetV2's unit (``groups=ci``: depthwise)."""
    return nn.Sequential(
        nn.Conv2d(ci, co, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(co),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expansion -> 3x3 depthwise (strided) -> 1x1 linear projection, residual when shapes agree."""

    def __init__(self, ci: int, co: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = int(round(ci * expand))
        self.residual = stride == 1 and ci == co
        layers = [conv_bn_relu6(ci, hidden, 1)] if expand != 1 else []
        layers += [
            conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, co, 1, bias=False),
            nn.BatchNorm2d(co),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 (inference: no dropout); ``width=1.0`` with the default settings is torchvision's.

    ``settings`` rows are (expansion t, channels c, repeats n, first stride s)
    of the paper's Table 2.
    """

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, width: float = 1.0, settings=SETTINGS, classes: int = 1000, stem: int = 32,
                 last: int = 1280) -> None:
        super().__init__()
        ci = _divisible(stem * width)
        self.last = _divisible(last * max(1.0, width))
        layers = [conv_bn_relu6(3, ci, 3, stride=2)]
        for t, c, n, s in settings:
            co = _divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(ci, co, s if i == 0 else 1, t))
                ci = co
        layers.append(conv_bn_relu6(ci, self.last, 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(self.last, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# -- small variants for tests -----------------------------------------------------------------
class SmallCNN(nn.Module):
    """A few ResNet-style layers on 16x16 images: stem conv, one bottleneck, pool, classifier."""

    def __init__(self, channels: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_bn(4, channels, 3, padding=1)
        self.block = Bottleneck(channels, channels // 2 if channels >= 32 else 16)
        self.fc = nn.Linear(self.block.conv3.out_channels, classes)

    def forward(self, x):
        y = self.block(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def randomize_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Give every batch norm random running statistics and affine parameters."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
