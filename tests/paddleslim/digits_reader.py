"""Stand-in for the readers PaddleSlim's demos import (imagenet_reader, the CIFAR-10 of
paddle.vision, darts_cifar10_reader): scikit-learn's 8x8 digits, which the test saves
next to the script as digits.npz, so nothing is downloaded. Images are repeated to 3
channels (the demos' input), and for DartsSpace scaled up to 32x32, the size its
auxiliary head is built for."""

import os

import numpy as np
import paddle

HERE = os.path.dirname(os.path.abspath(__file__))


def arrays(mode="train", limit=0, size=8):
    data = np.load(os.path.join(HERE, "digits.npz"))
    x, y = data["x"], data["y"].reshape(-1, 1).astype("int64")
    x, y = (x[:1200], y[:1200]) if mode == "train" else (x[1200:], y[1200:])
    if limit:
        x, y = x[:limit], y[:limit]
    x = np.repeat(x, 3, axis=1)
    if size != 8:
        x = np.kron(x, np.ones((1, 1, size // 8, size // 8), dtype=x.dtype))
    return x.astype("float32"), y


class DigitsDataset(paddle.io.Dataset):
    """One (image, label) per item, as paddle.vision.datasets.Cifar10 gives."""

    def __init__(self, mode="train", limit=0, size=8):
        super().__init__()
        self.x, self.y = arrays(mode, limit, size)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def train_valid(batch_size, is_train, is_shuffle, limit=0):
    """A batch generator, as darts_cifar10_reader.train_valid returns (32x32 images)."""
    x, y = arrays("train" if is_train else "test", limit, size=32)

    def reader():
        order = np.random.permutation(len(x)) if is_shuffle else np.arange(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            yield x[batch], y[batch]

    return reader
