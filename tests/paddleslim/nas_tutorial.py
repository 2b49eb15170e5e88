"""The steps of PaddleSlim 2.6.0's static NAS tutorial
(docs/zh_cn/quick_start/static/nas_tutorial.md), written as one script of our own:
`import paddleslim as slim` with slim.nas.SANAS made at module level; a function that
builds a candidate's programs, clones the default main program for test inside
program_guard and runs the startup program; training and evaluation functions that read
the module-level executor and outputs, fetching them by name and treating them as
shape-[1] arrays; slim.analysis.flops with `continue`; then the search loop (two
candidates). On scikit-learn's digits (8x8), a loopback address and a free port."""

import digits_reader
import numpy as np
import paddle
import paddle.nn.functional as F
import paddleslim as slim
from paddle import static

FLOPS_LIMIT = 321208544  # the tutorial's budget; MobileNetV2 on 8x8 digits stays below

searcher = slim.nas.SANAS(
    configs=[("MobileNetV2Space")], server_addr=("127.0.0.1", 0), save_checkpoint=None
)

paddle.enable_static()


def programs_for(arch):
    """A candidate's training program, its test clone, and what the loops use."""
    main, startup = static.Program(), static.Program()
    with static.program_guard(main, startup):
        pixels = static.data(name="pixels", shape=[None, 3, 8, 8], dtype="float32")
        digit = static.data(name="digit", shape=[None, 1], dtype="int64")
        probs = F.softmax(static.nn.fc(arch(pixels), size=10))
        loss = paddle.mean(F.cross_entropy(probs, label=digit))
        top1 = paddle.metric.accuracy(input=probs, label=digit, k=1)
        top5 = paddle.metric.accuracy(input=probs, label=digit, k=5)
        test = static.default_main_program().clone(for_test=True)
        paddle.optimizer.Adam(learning_rate=0.01).minimize(loss)
        runner = static.Executor(paddle.CPUPlace())
        runner.run(startup)
    return runner, main, test, (pixels, digit), loss, top1, top5


def loaders(pixels, digit):
    def over(dataset, training):
        return paddle.io.DataLoader(
            dataset,
            feed_list=[pixels, digit],
            places=paddle.CPUPlace(),
            return_list=False,
            batch_size=32,
            shuffle=training,
            drop_last=training,
        )

    return (
        over(digits_reader.DigitsDataset(mode="train", limit=64), True),
        over(digits_reader.DigitsDataset(mode="test", limit=64), False),
    )


def train_once(program, loader):
    watched = [loss.name, top1.name, top5.name]
    for feed in loader():
        batch_loss, batch_top1, batch_top5 = runner.run(program, feed=feed, fetch_list=watched)
        print(f"train batch: loss {batch_loss}, top1 {batch_top1}, top5 {batch_top5}")


def evaluate(program, loader):
    scored = [loss.name, top1.name, top5.name]
    rows = []
    for feed in loader():
        fetched = runner.run(program, feed=feed, fetch_list=scored)
        rows.append(np.mean(np.array(fetched), axis=1))
    mean_loss, mean_top1, mean_top5 = np.mean(rows, axis=0)
    print(f"evaluated: loss {mean_loss}, acc_top1: {mean_top1}, acc_top5: {mean_top5}")
    return mean_top1


for candidate in range(2):
    arch = searcher.next_archs()[0]
    runner, train_program, test_program, feeds, loss, top1, top5 = programs_for(arch)
    train_loader, test_loader = loaders(*feeds)

    size = slim.analysis.flops(train_program)
    print(f"candidate {candidate}: current_flops: {size}")
    if size > FLOPS_LIMIT:
        continue

    for _epoch in range(1):
        train_once(train_program, train_loader)
    searcher.reward(float(evaluate(test_program, test_loader)))
