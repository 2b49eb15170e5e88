"""A data-parallel sanas trainer: one trainer group of N ranks that train each candidate
together, on the demo's search space and digits data.

    SANAS_ADDRESS=controller:8881 \\
        python -m paddle.distributed.launch --nproc_per_node 2 examples/group_trainer.py

Run as many launches (on as many hosts) as you like against one controller: each is one
trainer. Rank 0 alone talks to the controller; every rank trains the same network on its
shard of each batch, and the group's metric is averaged over the ranks before rank 0
reports it. Settings come from the environment (as a Kubernetes Job passes them) or flags:
SANAS_ADDRESS, SANAS_STUDY_ID, SANAS_CLIENT_ID, SANAS_TOKEN_FILE, SANAS_TLS_CA, and for
mutual TLS SANAS_TLS_CERT and SANAS_TLS_KEY (the chart in deploy/ sets them).

With --events FILE, every rank appends one JSON line per event (start of a trial, first
training step, result) to FILE.<rank>: what tests/test_trainer_groups.py checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default=env("SANAS_ADDRESS", "127.0.0.1:8881"))
    parser.add_argument("--study", default=env("SANAS_STUDY_ID", "digits-groups"))
    parser.add_argument("--token-file", default=env("SANAS_TOKEN_FILE") or None)
    parser.add_argument("--client-id", default=env("SANAS_CLIENT_ID") or None)
    parser.add_argument("--tls-ca", default=env("SANAS_TLS_CA") or None)
    parser.add_argument("--tls-cert", default=env("SANAS_TLS_CERT") or None)
    parser.add_argument("--tls-key", default=env("SANAS_TLS_KEY") or None)
    parser.add_argument("--steps", type=int, default=30, help="budget, if this creates the study")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--lease-seconds", type=float, help="lease of a trial, if this creates the study"
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=0.0,
        help="sleep after each training step (tests: a trial that lasts)",
    )
    parser.add_argument("--events", type=Path, help="JSON lines per rank, to FILE.<rank>")
    return parser.parse_args(argv)


def demo_options(args: argparse.Namespace) -> argparse.Namespace:
    """The demo's defaults (space, data, model shape), with this trainer's study."""
    from sanas import demo

    options = demo.parse_args([])
    options.study, options.steps, options.epochs = args.study, args.steps, args.epochs
    return options


def study_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The search spaces and SANAS options every group of the study passes."""
    from sanas import demo

    options = demo_options(args)
    return {
        "configs": demo.space_configs(options),
        **demo.sanas_kwargs(options),
        "lease_seconds": args.lease_seconds,
    }


def digest(model: Any) -> str:
    """One hash of the trainable parameters: equal on two ranks iff their weights are.
    (Batch-norm running statistics are left out: each rank's come from its own shard.)"""
    h = hashlib.sha256()
    for name, value in model.named_parameters():
        if value.trainable:
            h.update(name.encode())
            h.update(value.numpy().tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> None:
    import paddle
    import paddle.distributed as dist

    from sanas import SANAS, SearchFinished, demo, group_mean

    args = parse_args(argv)
    demo.quiet_paddle()
    paddle.set_device("cpu")
    dist.init_parallel_env()
    rank, size = dist.get_rank(), dist.get_world_size()
    log_file = None if args.events is None else Path(f"{args.events}.{rank}")

    def log(event: str, **fields: Any) -> None:
        if log_file is not None:
            line = {"event": event, "rank": rank, "pid": os.getpid(), **fields}
            with log_file.open("a") as f:
                f.write(json.dumps(line) + "\n")

    options = demo_options(args)
    x_train, y_train, x_test, y_test = demo.load_data(options)
    mine = slice(rank, None, size)  # this rank's shard of each batch and of the test set
    kwargs = study_kwargs(args)
    host, port = args.address.rsplit(":", 1)
    nas = SANAS(
        kwargs.pop("configs"),
        server_addr=(host, int(port)),
        is_server=False,
        save_checkpoint=None,
        client_id=args.client_id,
        tls_ca_file=args.tls_ca,
        tls_cert_file=args.tls_cert,
        tls_key_file=args.tls_key,
        auth_token_file=args.token_file,
        **kwargs,
    )
    log("joined", group_size=size)
    try:
        while True:
            archs = nas.next_archs()
            trial_id, tokens = nas.current_trial_id(), nas.current_tokens()
            log("start", trial_id=trial_id, tokens=tokens)
            width = nas.decode(tokens or [])[-1].out_channels
            net = demo.build_model(archs, width, options)
            model = paddle.DataParallel(net)
            optimizer = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
            accuracy, stopped = 0.0, False
            for epoch in range(1, args.epochs + 1):
                # The same batch order on every rank (seeded by next_archs); each rank
                # takes its share of each batch.
                order = paddle.randperm(len(x_train)).numpy()
                for step, start in enumerate(range(0, len(order), demo.BATCH)):
                    batch = order[start : start + demo.BATCH][mine]
                    x, y = paddle.to_tensor(x_train[batch]), paddle.to_tensor(y_train[batch])
                    loss = paddle.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.clear_grad()
                    if epoch == 1 and step == 0:
                        log("first_step", trial_id=trial_id, params=digest(net))
                    if args.step_seconds:
                        time.sleep(args.step_seconds)
                shard = (x_train, y_train, x_test[mine], y_test[mine])
                accuracy = group_mean(demo.evaluate(net, shard))
                if nas.report(epoch, accuracy, max_step=args.epochs):
                    stopped = True
                    break
            nas.reward(accuracy)
            log("result", trial_id=trial_id, reward=accuracy, stopped=stopped)
    except SearchFinished:
        log("finished")
    finally:
        nas.close()


if __name__ == "__main__":
    main()
