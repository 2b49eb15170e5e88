"""The trainer processes: the data, the model around the searched network, training
with per-epoch reports under the time budget, and the trainer's loop over trials."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .options import BATCH, STEM_CHANNELS, image_shape, is_block_space, sanas_kwargs, space_configs


class TimeBudgetSpent(Exception):
    """The run's time budget ran out: a trainer stops (its trial stays unscored)."""


def load_data(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    import numpy as np

    if args.data_dir:
        return load_cifar10(Path(args.data_dir), args.train_limit, args.seed)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[:, None, :, :]
    y = digits.target.astype("int64")
    order = np.random.default_rng(args.seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def load_cifar10(folder: Path, train_limit: int, seed: int) -> tuple[Any, Any, Any, Any]:
    """CIFAR-10 in Paddle's format (cifar-10-python.tar.gz), read by Paddle's dataset."""
    import numpy as np
    from paddle.vision.datasets import Cifar10

    archive = folder / "cifar-10-python.tar.gz"
    if not archive.is_file():
        raise FileNotFoundError(f"{archive} not found: --data-dir wants Paddle's CIFAR-10 archive")

    def arrays(mode: str) -> tuple[Any, Any]:
        data = Cifar10(data_file=str(archive), mode=mode, download=False, backend="cv2").data
        x = np.stack([sample for sample, _ in data]).reshape(-1, 3, 32, 32) / 255.0
        return x.astype("float32"), np.array([label for _, label in data], dtype="int64")

    x_train, y_train = arrays("train")
    x_test, y_test = arrays("test")
    keep = np.random.default_rng(seed).permutation(len(x_train))[:train_limit]
    return x_train[keep], y_train[keep], x_test, y_test


def build_model(archs: Sequence[Any], out_channels: int, args: argparse.Namespace) -> Any:
    """[stem for block spaces] + the searched network + a classifier head."""
    from paddle import nn

    from sanas.nets.paddle_layers import ConvBNAct

    class Features(nn.Layer):
        """A network of a PaddleSlim key returns (x,) for a block space: its tensor."""

        def __init__(self, arch: Any) -> None:
            super().__init__()
            self.arch = arch

        def forward(self, x: Any) -> Any:
            out = self.arch(x)
            return out[0] if isinstance(out, tuple) else out

    stem = [ConvBNAct(image_shape(args)[1], STEM_CHANNELS, 3, act="relu6")]
    return nn.Sequential(
        *(stem if is_block_space(args) else []),
        *(Features(a) for a in archs),
        nn.AdaptiveAvgPool2D(1),
        nn.Flatten(),
        nn.Linear(out_channels, 10),
    )


def evaluate(model: Any, data: tuple[Any, Any, Any, Any]) -> float:
    """Test accuracy now; the model is back in train mode, in exactly the state it was in,
    afterwards, so an accuracy reported after epoch k is what a k-epoch training scores."""
    import paddle

    x_train, _, x_test, y_test = data
    xt = paddle.to_tensor(x_train)
    # The refresh below moves the batch-norm running statistics (untrainable parameters,
    # momentum 0.9); without putting them back, one epoch's refresh would leak into every
    # later epoch's evaluation.
    saved = {name: value.clone() for name, value in model.state_dict().items()}
    # Refresh batch-norm statistics before evaluating: after a short training the running
    # averages lag the weights and eval-mode accuracy collapses (toolchain notes).
    with paddle.no_grad():
        for start in range(0, len(x_train), 256):
            model(xt[start : start + 256])
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor(x_test))
    model.set_state_dict(saved)
    model.train()
    return float((logits.argmax(axis=1).numpy() == y_test).mean())


def train_and_score(
    model: Any,
    data: tuple[Any, Any, Any, Any],
    epochs: int,
    seed: int,
    deadline: float | None = None,
    report: Callable[[int, float], bool] | None = None,
) -> float:
    """Test accuracy after `epochs` epochs; raises TimeBudgetSpent at an epoch boundary
    past `deadline` (a time.time() value), so a big candidate cannot run far over it.
    With `report`, the accuracy after every epoch k goes to report(k, accuracy), and
    training stops (returning that accuracy) when it answers True."""
    import numpy as np
    import paddle

    x_train, y_train, _, _ = data
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    xt, yt = paddle.to_tensor(x_train), paddle.to_tensor(y_train)
    optimizer = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    model.train()
    for epoch in range(1, epochs + 1):
        if deadline is not None and time.time() >= deadline:
            raise TimeBudgetSpent
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), BATCH):
            batch = paddle.to_tensor(order[start : start + BATCH])
            loss = paddle.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
        if report is not None:
            accuracy = evaluate(model, data)
            if report(epoch, accuracy) or epoch == epochs:
                return accuracy
    return evaluate(model, data)


@contextlib.contextmanager
def alarm_at(deadline: float | None) -> Iterator[None]:
    """Raise TimeBudgetSpent in this (main) thread at `deadline`: waiting for a trial can
    take a whole lease when the others' trials are all issued (see Client.next_trial)."""
    if deadline is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeBudgetSpent

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline - time.time()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def trainer(args: argparse.Namespace) -> None:
    import paddle

    from sanas import SANAS, SearchFinished

    paddle.set_device("cpu")
    host, port = args.address.rsplit(":", 1)
    data = load_data(args)
    nas = SANAS(
        space_configs(args),
        server_addr=(host, int(port)),
        is_server=False,
        client_id=f"trainer-{args.trainer_index}",
        **sanas_kwargs(args),
    )
    try:
        while args.deadline is None or time.time() < args.deadline:
            # Initial weights from the seed: an architecture gets the same score whichever
            # trainer evaluates it, after whatever that trainer trained before.
            paddle.seed(args.seed)
            with alarm_at(args.deadline):
                archs = nas.next_archs()
            width = nas.decode(nas.current_tokens() or [])[-1].out_channels
            model = build_model(archs, width, args)
            accuracy = train_and_score(
                model,
                data,
                args.epochs,
                args.seed,
                args.deadline,
                # Reported after every epoch; the study's rule may stop the trial early.
                report=lambda epoch, acc: nas.report(epoch, acc, max_step=args.epochs),
            )
            nas.reward(accuracy)  # for a stopped trial: accepted, changes nothing
    except (SearchFinished, TimeBudgetSpent):
        # A trial stopped by the budget is not scored: its lease lapses and the study
        # issues it again on --resume.
        pass
    nas.close()  # a trainer (is_server=False): nothing to wait for


def count_params(model: Any) -> int:
    return sum(int(p.numel()) for p in model.parameters())
