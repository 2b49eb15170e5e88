"""A DartsSpace search written the way PaddleSlim 2.6.0's demo/nas/sanas_darts_space.py
is (paddle.static, Paddle 2): the network called as arch(image, drop_prob,
drop_path_mask, is_train, num_classes), drop path inputs fed with every training batch;
the training program's parameters counted by name prefix ('cifar10') and a candidate
over the limit skipped with `continue`; generator-fed data loaders; a running mean of
fetched values indexed as a shape-[1] array; gradients clipped by global norm; a
data-parallel CompiledProgram; the reward the mean of the last two validation
accuracies; given --token, the final training of those tokens with tokens2arch. Our own
code, on scikit-learn's digits scaled up to 32x32."""

import argparse
import logging

import digits_reader as reader
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import paddle.static as static
from paddleslim.common import get_logger
from paddleslim.nas import SANAS

log = get_logger("darts_search", level=logging.INFO)

AUX_WEIGHT = 0.4  # share of the auxiliary head's loss in the training loss
BASE_LR = 0.025
LAST_DROP_PATH = 0.2  # drop path probability, reached linearly by the last epoch
MASK_SHAPE = [20, 4, 2]  # DartsSpace's drop path mask for one image


class Mean:
    """Running mean of fetched values, weighted by batch size."""

    def __init__(self):
        self.total, self.count, self.value = 0.0, 0, 0.0

    def add(self, fetched, weight):
        self.total += fetched * weight
        self.count += weight
        self.value = self.total / self.count


def millions_of_parameters(params, prefix):
    """Trainable parameters named `prefix`..., the auxiliary head's left out."""
    counted = [p for p in params if p.trainable and p.name.startswith(prefix)]
    return sum(int(np.prod(p.shape)) for p in counted if "aux" not in p.name) / 1e6


def darts_program(program, startup, arch, opts, learn):
    """`arch` and its losses in `program` (trained when `learn`); (feeder, outputs)."""
    with static.program_guard(program, startup):
        image = static.data(name="image", shape=[None, 3, 32, 32], dtype="float32")
        label = static.data(name="label", shape=[None, 1], dtype="int64")
        feeder = paddle.io.DataLoader.from_generator(
            feed_list=[image, label], capacity=16, iterable=True
        )
        drop_prob = drop_mask = None
        if learn:
            drop_prob = static.data(
                name="drop_path_prob", shape=[opts.batch_size, 1], dtype="float32"
            )
            drop_mask = static.data(
                name="drop_path_mask", shape=[opts.batch_size, *MASK_SHAPE], dtype="float32"
            )
        logits, aux_logits = arch(image, drop_prob, drop_mask, learn, 10)
        loss = paddle.mean(F.softmax_with_cross_entropy(logits, label))
        outputs = [
            loss,
            paddle.metric.accuracy(input=logits, label=label, k=1),
            paddle.metric.accuracy(input=logits, label=label, k=5),
        ]
        if learn:
            aux_loss = paddle.mean(F.softmax_with_cross_entropy(aux_logits, label))
            outputs[0] = loss + AUX_WEIGHT * aux_loss
            batches = max(1, opts.train_limit // opts.batch_size)
            schedule = paddle.optimizer.lr.CosineAnnealingDecay(
                BASE_LR, T_max=batches * opts.retain_epoch
            )
            optimizer = paddle.optimizer.Momentum(
                schedule,
                0.9,
                weight_decay=paddle.regularizer.L2Decay(3e-4),
                grad_clip=nn.ClipGradByGlobalNorm(clip_norm=5.0),
            )
            optimizer.minimize(outputs[0])
    return feeder, outputs


def one_pass(exe, program, feeder, outputs, opts, epoch, learn):
    """One pass over the feeder's batches; the running top-1 accuracy at its end."""
    loss, top1, top5 = Mean(), Mean(), Mean()
    for n, batch in enumerate(feeder()):
        if learn:  # drop path inputs for every device's part of the batch
            p = LAST_DROP_PATH * epoch / opts.retain_epoch
            keep = 1 - np.random.binomial(1, p, size=[opts.batch_size, *MASK_SHAPE])
            prob = np.full([opts.batch_size, 1], p, dtype="float32")
            extra = {"drop_path_prob": prob, "drop_path_mask": keep.astype("float32")}
            batch = [{**part, **extra} for part in batch]
        fetched = exe.run(program, feed=batch, fetch_list=[v.name for v in outputs])
        for meter, value in zip((loss, top1, top5), fetched, strict=True):
            meter.add(value, opts.batch_size)
        if n % 10 == 0:
            kind = "train" if learn else "valid"
            log.info(f"{kind} epoch {epoch} batch {n}: loss {loss.value[0]}, top1 {top1.value[0]}")
    return top1.value[0]


def measure(arch, opts):
    """The training side of `arch` and its size, in millions of parameters."""
    startup, training = static.Program(), static.Program()
    feeder, outputs = darts_program(training, startup, arch, opts, learn=True)
    size = millions_of_parameters(training.global_block().all_parameters(), "cifar10")
    return (startup, training, feeder, outputs), size


def fit(arch, train_side, opts, label):
    """Train for retain_epoch epochs, validating after each: the validation accuracies."""
    startup, training, train_feeder, train_outputs = train_side
    evaluation = static.Program()
    valid_feeder, valid_outputs = darts_program(evaluation, startup, arch, opts, learn=False)
    evaluation = evaluation.clone(for_test=True)
    place = static.cpu_places()[0]
    train_batches = reader.train_valid(opts.batch_size, True, True, limit=opts.train_limit)
    valid_batches = reader.train_valid(opts.batch_size, False, False, limit=opts.test_limit)
    train_feeder.set_batch_generator(train_batches, places=place)
    valid_feeder.set_batch_generator(valid_batches, places=place)
    exe = static.Executor(place)
    exe.run(startup)
    parallel = static.CompiledProgram(training).with_data_parallel(
        loss_name=train_outputs[0].name, build_strategy=static.BuildStrategy()
    )
    accuracies = []
    for epoch in range(opts.retain_epoch):
        seen = one_pass(exe, parallel, train_feeder, train_outputs, opts, epoch, learn=True)
        unseen = one_pass(exe, evaluation, valid_feeder, valid_outputs, opts, epoch, learn=False)
        log.info(f"{label} epoch {epoch}: train_acc {seen}, valid_acc {unseen}")
        accuracies.append(unseen)
    return accuracies


def search(opts):
    nas = SANAS(
        [("DartsSpace")],
        server_addr=(opts.server_address, opts.port),
        search_steps=opts.search_steps,
        is_server=opts.is_server,
    )
    for trial in range(opts.search_steps):
        arch = nas.next_archs()[0]
        train_side, size = measure(arch, opts)
        log.info(f"trial {trial}: current_params: {size}M")
        if size > opts.max_params:
            continue  # too large: never trained, never rewarded
        last_two = fit(arch, train_side, opts, f"trial {trial}")[-2:]
        nas.reward(float(sum(last_two) / len(last_two)))


def retrain(opts):
    """The final run: train the given tokens' network (nothing is added to the search)."""
    nas = SANAS([("DartsSpace")], server_addr=(opts.server_address, opts.port), is_server=True)
    arch = nas.tokens2arch(opts.token)[0]
    train_side, size = measure(arch, opts)
    log.info(f"chosen tokens: current_params: {size}M")
    fit(arch, train_side, opts, "chosen tokens")


def options():
    parser = argparse.ArgumentParser(description="search DartsSpace on digits")
    add = parser.add_argument
    add("--server_address", default="")
    add("--port", type=int, default=8881)
    add("--is_server", type=lambda text: text.lower() in ("1", "true", "yes"), default=True)
    add("--search_steps", type=int, default=10)
    add("--retain_epoch", type=int, default=4, help="training epochs per candidate")
    add("--max_params", type=float, default=3.77, help="millions; larger ones are skipped")
    add("--batch_size", type=int, default=16)
    add("--train_limit", type=int, default=0, help="digits to train on (0: all)")
    add("--test_limit", type=int, default=0, help="digits to validate on (0: all)")
    add("--token", type=int, nargs="+", help="train these tokens instead of searching")
    return parser.parse_args()


if __name__ == "__main__":
    paddle.enable_static()
    opts = options()
    if opts.token:
        retrain(opts)
    else:
        search(opts)
