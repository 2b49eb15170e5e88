"""The `sanas` program: look at and manage the searches of a running controller.

sanas [--address HOST:PORT] [--tls-ca F] [--tls-cert F --tls-key F] [--token-file F] CMD
studies [--deleted] | status STUDY | trials STUDY | best STUDY | watch STUDY
plot STUDY [-o F.png] | import-paddleslim CHECKPOINT --study ID
delete STUDY [--purge] --yes | undelete STUDY
backup STUDY|--all --to DIR | restore DIR [--as ID] | export STUDY [-o FILE]
dashboard [--port 8080] [--host 127.0.0.1] [--dashboard-token-file F] [--allow-delete]
          [--max-watches N] [--idle-seconds S]
port SCRIPT [-o OUT | --in-place] [--legacy]   (no controller needed)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..channel import DEFAULT_PORT, with_default_port
from ..client import Client
from ..convert import PB_OF_POLICY_NAME
from ..errors import ControllerUnavailableError, SanasError
from .backup import cmd_backup, cmd_export, cmd_restore
from .commands import (
    cmd_best,
    cmd_delete,
    cmd_import,
    cmd_plot,
    cmd_port,
    cmd_status,
    cmd_studies,
    cmd_trials,
    cmd_undelete,
    cmd_watch,
)
from .views import (
    STATES,
)

DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
# Longest a dashboard request waits on the controller (retries included).
DASHBOARD_CALL_SECONDS = 5.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanas", description="Look at and manage sanas searches.")
    p.add_argument(
        "--address",
        default=os.environ.get("SANAS_ADDRESS", DEFAULT_ADDRESS),
        help=f"controller HOST[:PORT] (env SANAS_ADDRESS; default {DEFAULT_ADDRESS}; "
        f"port {DEFAULT_PORT} when none is given)",
    )
    p.add_argument("--tls-ca", help="CA certificate (PEM) to verify the controller: use TLS")
    p.add_argument("--tls-cert", help="client certificate (PEM), for mutual TLS")
    p.add_argument("--tls-key", help="client private key (PEM)")
    p.add_argument("--token-file", help="file holding the bearer token")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=3.0,
        help="seconds to wait for the controller to answer at all (default 3)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    study_help = "study id (`sanas studies` lists them)"
    studies = sub.add_parser("studies", help="list studies")
    studies.add_argument(
        "--deleted",
        action="store_true",
        help="list soft-deleted studies too, with when each is purged",
    )
    studies.set_defaults(run=cmd_studies)
    status = sub.add_parser("status", help="a study at a glance, with its trainers")
    status.add_argument("study", help=study_help)
    status.set_defaults(run=cmd_status)
    trials = sub.add_parser("trials", help="list, filter, sort and export trials")
    trials.add_argument("study", help=study_help)
    trials.add_argument("--state", choices=sorted(STATES), help="only trials in this state")
    trials.add_argument(
        "--sort",
        choices=["trial", "reward", "time"],
        default="trial",
        help="order by trial id, reward or creation time (default trial)",
    )
    trials.add_argument("--desc", action="store_true", help="largest first")
    trials.add_argument(
        "--limit", type=int, default=0, help="at most this many trials, after sorting (0: all)"
    )
    trials.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format"
    )
    trials.add_argument("-o", "--output", help="write to this file instead of stdout")
    trials.set_defaults(run=cmd_trials)
    best = sub.add_parser("best", help="best tokens, decoded architecture, FLOPs and params")
    best.add_argument("study", help=study_help)
    best.add_argument(
        "--input-size",
        type=int,
        default=0,
        help="image side for FLOPs (default: the study's constraints.input_size, else the "
        "space's input size, else 32)",
    )
    best.add_argument(
        "--in-channels",
        type=int,
        default=0,
        help="input channels of the searched network (default: the study's "
        "constraints.in_channels, else 3)",
    )
    best.set_defaults(run=cmd_best)
    watch = sub.add_parser("watch", help="follow a study live until it completes")
    watch.add_argument("study", help=study_help)
    watch.set_defaults(run=cmd_watch)
    plot = sub.add_parser("plot", help="PNG of reward, best so far, temperature, acceptance")
    plot.add_argument("study", help=study_help)
    plot.add_argument("-o", "--output", help="PNG file to write (default: STUDY.png)")
    plot.set_defaults(run=cmd_plot)
    imp = sub.add_parser("import-paddleslim", help="new study from a PaddleSlim checkpoint")
    imp.add_argument("checkpoint", help="path of nas_checkpoint/sanas.checkpoints")
    imp.add_argument("--study", required=True, help="id of the new study")
    imp.add_argument(
        "--search-steps",
        type=int,
        default=0,
        help="trial budget of the new study, imported results included (0: the default)",
    )
    imp.add_argument("--config", action="append", help="search-space key (repeatable)")
    imp.add_argument(
        "--policy",
        choices=tuple(PB_OF_POLICY_NAME),
        help="what proposes the study's trials from here on (default: the controller's)",
    )
    imp.set_defaults(run=cmd_import)
    delete = sub.add_parser(
        "delete",
        help="delete a study: soft (undeletable until the controller's retention runs out) "
        "unless --purge",
    )
    delete.add_argument("study", help=study_help)
    delete.add_argument(
        "--purge",
        action="store_true",
        help="remove the study and its checkpoint for good (live or soft-deleted; no undo)",
    )
    delete.add_argument("--yes", action="store_true", help="really delete")
    delete.set_defaults(run=cmd_delete)
    undelete = sub.add_parser(
        "undelete", help="restore a soft-deleted study as it was (`sanas studies --deleted`)"
    )
    undelete.add_argument("study", help=study_help)
    undelete.set_defaults(run=cmd_undelete)
    backup = sub.add_parser(
        "backup", help="copy a study (or all) from the controller into a local folder"
    )
    backup.add_argument("study", nargs="?", help=study_help)
    backup.add_argument("--all", action="store_true", help="every study the controller serves")
    backup.add_argument("--to", required=True, help="folder to write DIR/STUDY into")
    backup.set_defaults(run=cmd_backup)
    restore = sub.add_parser(
        "restore", help="create a study (a new incarnation) from a backup folder"
    )
    restore.add_argument("folder", help="a study's backup folder, or a folder of them")
    restore.add_argument("--as", dest="as_id", help="restore under this study id instead")
    restore.set_defaults(run=cmd_restore)
    export = sub.add_parser(
        "export",
        help="a study and its trials (curves included) as one JSON document in the public "
        "schema, for other tools (a backup is the restorable copy)",
    )
    export.add_argument("study", help=study_help)
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(run=cmd_export)
    dash = sub.add_parser(
        "dashboard", help="live web dashboard of the controller's studies (docs/dashboard.md)"
    )
    # The controller options are also accepted after `dashboard` (as in `sanas dashboard
    # --address HOST:PORT`); given there, they override the global ones.
    for flag in ("--address", "--tls-ca", "--tls-cert", "--tls-key", "--token-file"):
        dash.add_argument(flag, default=argparse.SUPPRESS, help=f"as the global {flag}")
    dash.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0: any)")
    dash.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    dash.add_argument(
        "--dashboard-token-file",
        help="file holding a token every browser request must carry (required when --host "
        "is not loopback); open http://HOST:PORT/?token=TOKEN once to set its cookie",
    )
    dash.add_argument(
        "--allow-delete",
        action="store_true",
        help="allow deleting studies from the dashboard (each asks to type the study id)",
    )
    dash.add_argument(
        "--max-watches",
        type=int,
        default=None,
        help="WatchStudy streams the dashboard holds at once, one per study being shown "
        "(default 32, half of sanas-server's default --max-watchers 64; keep it below "
        "the controller's --max-watchers so other clients can watch too)",
    )
    dash.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="a study with no page open for this long stops being watched and indexed (default 60)",
    )
    dash.set_defaults(run=None)
    port = sub.add_parser(
        "port",
        help="port a PaddleSlim script: rewrite its paddleslim imports and report the Paddle 3 "
        "changes left, with line numbers (docs/porting.md); needs no controller",
    )
    port.add_argument("script", help="the PaddleSlim script (Python) to port")
    where = port.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="write the ported script here (default: stdout)")
    where.add_argument("--in-place", action="store_true", help="rewrite SCRIPT itself")
    port.add_argument(
        "--legacy",
        action="store_true",
        help="also insert the lines that select Paddle's legacy static mode "
        "(FLAGS_enable_pir_api=0) and report only what that mode still needs",
    )
    port.set_defaults(run=None)
    return p


def connect(
    args: argparse.Namespace, address: str, seconds: float, client_id: str | None = None
) -> Client:
    """A Client with the command line's TLS and token options; calls (retries included)
    give up after `seconds`."""
    return Client(
        address,
        timeout=seconds,
        retry_timeout=seconds,
        tls_ca_file=args.tls_ca,
        tls_cert_file=args.tls_cert,
        tls_key_file=args.tls_key,
        auth_token_file=args.token_file,
        client_id=client_id,
    )


def cmd_dashboard(args: argparse.Namespace, address: str) -> int:
    """Not a `run` like the others: the dashboard opens its own client, lazily, and starts
    even when the controller is not up yet (its pages say so)."""
    from ..dashboard import serve

    def client() -> Client:
        # Short deadlines: a page waiting on a controller that is down holds one of the
        # server's worker threads, and it should say so within seconds, not after 30.
        seconds = min(args.timeout, DASHBOARD_CALL_SECONDS)
        return connect(args, address, seconds, client_id="sanas-dashboard")

    try:
        client().close()  # TLS and token files are read now: a mistake stops it here
    except (ValueError, OSError) as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
    return serve(
        client,
        address,
        host=args.host,
        port=args.port,
        token_file=args.dashboard_token_file,
        allow_delete=args.allow_delete,
        max_watches=args.max_watches,
        idle_seconds=args.idle_seconds,
    )


def not_reachable(address: str, seconds: float, tls: bool) -> str:
    return (
        f"sanas: no controller answered at {address} within {seconds:g} s.\n"
        "  Start one: `sanas-server` (or `make serve` in a checkout; both listen on "
        f"{DEFAULT_ADDRESS}),\n"
        "  or point at yours: --address HOST:PORT or SANAS_ADDRESS=HOST:PORT."
        # A failed TLS handshake looks the same from here: name the other suspect.
        + ("\n  With TLS, also check that --tls-ca signed the server's certificate." if tls else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return run(argv)
        finally:
            # What is still in stdout's buffer goes out now, inside this guard, rather than
            # in the interpreter's flush at exit, where a closed pipe prints a warning.
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped reading (`sanas status | head -n 1`): how a pipeline ends, not
        # an error to report. Python flushes stdout once more at exit; pointing it at
        # /dev/null keeps that flush from failing too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141  # 128 + SIGPIPE (13): what a shell reports for a program a pipe ended


def run(argv: Sequence[str] | None) -> int:
    """The command line's command; `main` adds the handling of a closed stdout."""
    args = parser().parse_args(argv)
    if args.command == "port":  # a file to rewrite: no controller, no address
        return cmd_port(args)
    try:
        address = with_default_port(args.address)
    except ValueError as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
    if args.command == "dashboard":
        return cmd_dashboard(args, address)
    try:
        with connect(args, address, args.timeout) as client:
            # Calls retry UNAVAILABLE for --timeout seconds (a restarting controller);
            # with none there at all, say so now instead.
            try:
                client.wait_ready(args.connect_timeout)
            except ControllerUnavailableError:
                tls = bool(args.tls_ca or args.tls_cert)
                print(not_reachable(address, args.connect_timeout, tls), file=sys.stderr)
                return 1
            return args.run(client, args)
    except SanasError as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # stdout closed, not a file of ours: `main` ends quietly
    except (ValueError, OSError) as exc:  # TLS or token files missing or mismatched
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
