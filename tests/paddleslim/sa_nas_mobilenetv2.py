"""A MobileNetV2Space search written the way PaddleSlim 2.6.0's
demo/nas/sa_nas_mobilenetv2.py is (paddle.static, Paddle 2): one script that is the
search's server (--is_server True) or one of its clients (--is_server False), each
looping over search_steps; a network-building function called twice per candidate, for
training and for evaluation, under paddle.utils.unique_name.guard() with an unnamed
paddle.static.nn.fc head; the evaluation program cloned for test; a data-parallel
CompiledProgram; fetches by name treated as shape-[1] arrays; and, given --token, the
final training of chosen tokens with tokens2arch on a server SANAS of its own. Our own
code, on scikit-learn's digits (8x8)."""

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

log = get_logger("mbv2_search", level=logging.INFO)


def network(program, startup, arch, dataset, opts, learn):
    """Build `arch` with a classifier into `program`; optimise it when `learn`.
    Returns the program's batches and its (loss, top-1, top-5)."""
    with static.program_guard(program, startup), paddle.utils.unique_name.guard():
        pixels = static.data(name="pixels", shape=[None, 3, 8, 8], dtype="float32")
        digit = static.data(name="digit", shape=[None, 1], dtype="int64")
        batches = paddle.io.DataLoader(
            dataset,
            feed_list=[pixels, digit],
            places=static.cpu_places(),
            return_list=False,
            batch_size=opts.batch_size,
            shuffle=learn,
            drop_last=learn,
        )
        features = arch(pixels)
        scores = static.nn.fc(features, size=opts.class_dim)
        probs = F.softmax(scores)
        loss = paddle.mean(F.cross_entropy(probs, label=digit))
        top1 = paddle.metric.accuracy(input=probs, label=digit, k=1)
        top5 = paddle.metric.accuracy(input=probs, label=digit, k=5)
        if learn:
            paddle.optimizer.Momentum(
                learning_rate=opts.lr,
                momentum=0.9,
                weight_decay=paddle.regularizer.L2Decay(4e-5),
            ).minimize(loss)
    return batches, (loss, top1, top5)


class Candidate:
    """One architecture: its training program now (to count its FLOPs), its evaluation
    program when it is trained."""

    def __init__(self, arch, opts, datasets):
        self.arch, self.opts, self.datasets = arch, opts, datasets
        self.startup = static.Program()
        self.training = static.Program()
        self.train_batches, self.train_outputs = network(
            self.training, self.startup, arch, datasets[0], opts, learn=True
        )
        self.flops = flops(self.training)

    def train_and_score(self, label):
        evaluation = static.Program()
        test_batches, test_outputs = network(
            evaluation, self.startup, self.arch, self.datasets[1], self.opts, learn=False
        )
        evaluation = evaluation.clone(for_test=True)
        exe = static.Executor(static.cpu_places()[0])
        exe.run(self.startup)

        loss = self.train_outputs[0]
        parallel = static.CompiledProgram(self.training).with_data_parallel(
            loss_name=loss.name, build_strategy=static.BuildStrategy()
        )
        for epoch in range(self.opts.retain_epoch):
            for n, feed in enumerate(self.train_batches()):
                began = time.perf_counter()
                cost = exe.run(parallel, feed=feed, fetch_list=[loss.name])[0]
                if n % 10 == 0:
                    took = (time.perf_counter() - began) * 1000
                    log.info(f"{label} epoch {epoch} batch {n}: loss {cost[0]} in {took:.1f} ms")

        rows = []
        for feed in test_batches():
            fetched = exe.run(evaluation, feed=feed, fetch_list=[v.name for v in test_outputs])
            rows.append(np.mean(np.array(fetched), axis=1))
        mean_loss, top1, top5 = np.mean(rows, axis=0)
        log.info(f"{label} scored: loss {mean_loss}, acc_top1: {top1}, acc_top5: {top5}")
        return top1


def search(opts, datasets):
    nas = SANAS(
        [("MobileNetV2Space")],
        server_addr=(opts.server_address, opts.port),
        search_steps=opts.search_steps,
        is_server=opts.is_server,
    )
    for trial in range(opts.search_steps):
        arch = nas.next_archs()[0]
        candidate = Candidate(arch, opts, datasets)
        print(f"trial {trial}: current_flops: {candidate.flops}", flush=True)
        if candidate.flops > opts.max_flops:
            continue  # too expensive: never trained, never rewarded
        nas.reward(float(candidate.train_and_score(f"trial {trial}")))


def retrain(opts, datasets):
    """The final run: train the given tokens' network (nothing is added to the search)."""
    nas = SANAS(
        [("MobileNetV2Space")],
        server_addr=(opts.server_address, opts.port),
        search_steps=opts.search_steps,
        is_server=True,
    )
    candidate = Candidate(nas.tokens2arch(opts.token)[0], opts, datasets)
    print(f"chosen tokens: current_flops: {candidate.flops}", flush=True)
    candidate.train_and_score("chosen tokens")


def options():
    parser = argparse.ArgumentParser(description="search MobileNetV2 on digits")
    add = parser.add_argument
    add("--server_address", default="")
    add("--port", type=int, default=8881)
    add("--is_server", type=lambda text: text.lower() in ("1", "true", "yes"), default=True)
    add("--search_steps", type=int, default=20)
    add("--retain_epoch", type=int, default=3, help="training epochs per candidate")
    add("--max_flops", type=float, default=3e8, help="candidates above it are skipped")
    add("--batch_size", type=int, default=32)
    add("--lr", type=float, default=0.05)
    add("--class_dim", type=int, default=10)
    add("--train_limit", type=int, default=0, help="digits to train on (0: all)")
    add("--test_limit", type=int, default=0, help="digits to score on (0: all)")
    add("--token", type=int, nargs="+", help="train these tokens instead of searching")
    return parser.parse_args()


if __name__ == "__main__":
    paddle.enable_static()
    opts = options()
    datasets = (
        digits_reader.DigitsDataset(mode="train", limit=opts.train_limit),
        digits_reader.DigitsDataset(mode="test", limit=opts.test_limit),
    )
    if opts.token:
        retrain(opts, datasets)
    else:
        search(opts, datasets)
