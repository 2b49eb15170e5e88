"""A block-space search written the way PaddleSlim 2.6.0's
demo/nas/block_sa_nas_mobilenetv2.py is (paddle.static, Paddle 2): the searched blocks
sit between a stem and a head of the script's own, whose layers are paddle.static.nn ones
with named parameters; the FLOPs of each candidate are counted and an expensive one is
skipped with `continue`; the evaluation program is a clone for test taken inside
program_guard; training runs a data-parallel CompiledProgram; fetches are by name and
treated as shape-[1] arrays. Our own code, on scikit-learn's digits (8x8)."""

import argparse
import logging
import time

import digits_reader
import numpy as np
import paddle
import paddle.nn.functional as F
import paddle.static as static
from paddleslim.analysis import flops
from paddleslim.common import get_logger
from paddleslim.nas import SANAS

log = get_logger("block_search", level=logging.INFO)

# Three MobileNetV2 blocks: the first keeps the 8x8 map, the other two halve it.
SPACE = [("MobileNetV2BlockSpace", {"block_mask": [0, 1, 1]})]


def conv_with_norm(x, out_channels, kernel, prefix, act=None):
    """A bias-free convolution and its batch norm, each parameter named from `prefix`."""
    y = static.nn.conv2d(
        x,
        num_filters=out_channels,
        filter_size=kernel,
        padding="SAME",
        param_attr=paddle.ParamAttr(name=prefix + "_kernel"),
        bias_attr=False,
    )
    return static.nn.batch_norm(
        y,
        act=act,
        param_attr=paddle.ParamAttr(name=prefix + "_gamma"),
        bias_attr=paddle.ParamAttr(name=prefix + "_beta"),
        moving_mean_name=prefix + "_running_mean",
        moving_variance_name=prefix + "_running_var",
    )


def assemble(block, opts):
    """Programs for one candidate: (training, startup, evaluation, inputs, loss, metrics)."""
    training, startup = static.Program(), static.Program()
    with static.program_guard(training, startup):
        pixels = static.data(name="pixels", shape=[None, 3, 8, 8], dtype="float32")
        digit = static.data(name="digit", shape=[None, 1], dtype="int64")
        h = conv_with_norm(pixels, 16, 3, "stem", act="relu6")
        h = block(h)[0]
        h = conv_with_norm(h, 64, 1, "widen", act="relu6")
        h = F.adaptive_avg_pool2d(h, output_size=1)
        scores = static.nn.fc(
            h,
            size=opts.class_dim,
            weight_attr=paddle.ParamAttr(name="classifier_w"),
            bias_attr=paddle.ParamAttr(name="classifier_b"),
        )
        probs = F.softmax(scores)
        loss = paddle.mean(F.cross_entropy(probs, label=digit))
        metrics = (
            loss,
            paddle.metric.accuracy(input=probs, label=digit, k=1),
            paddle.metric.accuracy(input=probs, label=digit, k=5),
        )
        evaluation = training.clone(for_test=True)
        sgd = paddle.optimizer.Momentum(
            learning_rate=opts.lr, momentum=0.9, weight_decay=paddle.regularizer.L2Decay(1e-4)
        )
        sgd.minimize(loss)
    return training, startup, evaluation, [pixels, digit], loss, metrics


def loader(dataset, inputs, batch, shuffle):
    return paddle.io.DataLoader(
        dataset,
        feed_list=inputs,
        places=static.cpu_places(),
        return_list=False,
        batch_size=batch,
        shuffle=shuffle,
        drop_last=shuffle,
    )


def train(exe, program, batches, loss, opts, label):
    parallel = static.CompiledProgram(program).with_data_parallel(
        loss_name=loss.name, build_strategy=static.BuildStrategy()
    )
    watched = [loss.name]
    for epoch in range(opts.retain_epoch):
        for n, feed in enumerate(batches()):
            began = time.perf_counter()
            cost = exe.run(parallel, feed=feed, fetch_list=watched)[0]
            if n % 10 == 0:
                took = (time.perf_counter() - began) * 1000
                log.info(f"{label} epoch {epoch} batch {n}: loss {cost[0]} in {took:.1f} ms")


def evaluate(exe, program, batches, metrics, label):
    """Mean loss, top-1 and top-5 over the batches, each batch weighted alike."""
    rows = []
    for feed in batches():
        fetched = exe.run(program, feed=feed, fetch_list=[m.name for m in metrics])
        rows.append(np.mean(np.array(fetched), axis=1))
    loss, top1, top5 = np.mean(rows, axis=0)
    log.info(f"{label} scored: loss {loss}, acc_top1: {top1}, acc_top5: {top5}")
    return top1


def main(opts):
    nas = SANAS(
        SPACE,
        server_addr=(opts.server_address, opts.port),
        search_steps=opts.search_steps,
        is_server=opts.is_server,
    )
    seen = digits_reader.DigitsDataset(mode="train", limit=opts.train_limit)
    unseen = digits_reader.DigitsDataset(mode="test", limit=opts.test_limit)
    exe = static.Executor(static.cpu_places()[0])
    for trial in range(opts.search_steps):
        block = nas.next_archs()[0]
        training, startup, evaluation, inputs, loss, metrics = assemble(block, opts)
        cost = flops(training)
        print(f"trial {trial}: current_flops: {cost}", flush=True)
        if cost > opts.max_flops:
            continue  # too expensive: never trained, never rewarded
        exe.run(startup)
        label = f"trial {trial}"
        train(exe, training, loader(seen, inputs, opts.batch_size, True), loss, opts, label)
        top1 = evaluate(
            exe, evaluation, loader(unseen, inputs, opts.batch_size, False), metrics, label
        )
        nas.reward(float(top1))


def options():
    parser = argparse.ArgumentParser(description="search MobileNetV2 blocks on digits")
    add = parser.add_argument
    add("--server_address", default="")
    add("--port", type=int, default=8881)
    add("--is_server", type=lambda text: text.lower() in ("1", "true", "yes"), default=True)
    add("--search_steps", type=int, default=20)
    add("--retain_epoch", type=int, default=3, help="training epochs per candidate")
    add("--max_flops", type=float, default=1e6, help="candidates above it are skipped")
    add("--batch_size", type=int, default=32)
    add("--lr", type=float, default=0.05)
    add("--class_dim", type=int, default=10)
    add("--train_limit", type=int, default=0, help="digits to train on (0: all)")
    add("--test_limit", type=int, default=0, help="digits to score on (0: all)")
    return parser.parse_args()


if __name__ == "__main__":
    paddle.enable_static()
    main(options())
