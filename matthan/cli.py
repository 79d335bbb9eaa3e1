"""The ``matthan`` command: run a site, check a config, run the demo, manage users, verify the
audit log, quantize."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from common.config import SiteConfig
from common.config_loader import ConfigError, load_site
from matthan.cli_audit import add_audit_commands
from matthan.cli_users import add_user_commands
from matthan.logs import setup_logging
from matthan.service import run_site

log = logging.getLogger("matthan")


def _load_or_exit(path: Path) -> SiteConfig:
    try:
        return load_site(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def hub(args: argparse.Namespace) -> int:
    """A district hub over several stations (``docs/SCALING.md``)."""
    from common.config_loader import load_hub
    from matthan.hub.service import run_hub

    try:
        config = load_hub(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_hub(config)


def hub_token(args: argparse.Namespace) -> int:
    """Print the token a station joins the hub with (its ``MATTHAN_HUB_TOKEN``)."""
    from common.config_loader import load_hub
    from matthan.cluster.hub_server import station_token
    from matthan.cluster.server import NatsServerError, site_token

    try:
        config = load_hub(args.config)
        token = site_token(config.hub.token_env, "hub token")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except NatsServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    known = {station.id: station.token_generation for station in config.stations}
    if args.station not in known:
        print(
            f"{args.config}: no station {args.station!r} in stations (there are: {list(known)})",
            file=sys.stderr,
        )
        return 2
    print(station_token(token, args.station, known[args.station]))
    return 0


def check_config(args: argparse.Namespace) -> int:
    """Validate each file (a site's, or a district hub's); print every problem with file,
    line, key and camera."""
    from common.config_loader import is_hub_file, load_hub

    status = 0
    for path in args.files:
        try:
            if is_hub_file(path):
                hub_config = load_hub(path)
                print(f"{path}: OK (district hub, {len(hub_config.stations)} stations)")
                continue
            site = load_site(path)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            status = 2
            continue
        rules = sum(len(camera.rules) for camera in site.cameras)
        print(f"{path}: OK ({len(site.cameras)} cameras, {rules} rules)")
    return status


def run(args: argparse.Namespace) -> int:
    return run_site(_load_or_exit(args.config), args.workers)


def node(args: argparse.Namespace) -> int:
    """An analysis node of a site over several machines (``cluster.enabled``)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.name):
        print(
            f"--name {args.name!r}: a node's name is 1-64 letters, digits, - or _", file=sys.stderr
        )
        return 2
    site = _load_or_exit(args.config)
    if not site.cluster.enabled:
        print(
            f"{args.config}: cluster.enabled is false: a node needs a site over several"
            " machines (see docs/SCALING.md)",
            file=sys.stderr,
        )
        return 2
    import signal

    from matthan.cluster.client import NatsClientError
    from matthan.cluster.node import Node
    from matthan.cluster.server import NatsServerError

    running = Node(
        site,
        args.name,
        args.workers,
        http_port=args.http_port,
        advertise_host=args.advertise_host,
    )
    signal.signal(signal.SIGTERM, running.request_stop)
    signal.signal(signal.SIGINT, running.request_stop)
    try:
        return running.run()
    except (NatsClientError, NatsServerError) as exc:
        log.error("node %s: %s", args.name, exc)
        return 1
    except OSError as exc:  # the footage server's port is taken
        log.error("node %s: cannot serve footage on port %s: %s", args.name, args.http_port, exc)
        return 1


def demo(args: argparse.Namespace) -> int:
    """Serve the clip library as cameras and run the demo site on them."""
    from matthan.demo import run_demo

    return run_demo(_load_or_exit(args.config))


def quantize(args: argparse.Namespace) -> int:
    """Make the int8 detector model, calibrated on local clips (see ``detect.quantize``)."""
    from detect.quantize import main as quantize_main

    return quantize_main(args.model, args.output, args.clips, args.imgsz, args.frames)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matthan", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a site")
    run_parser.add_argument("-c", "--config", type=Path, required=True)
    run_parser.add_argument("--workers", type=int, default=None, help="ingest processes")
    run_parser.set_defaults(handler=run)
    node_parser = commands.add_parser("node", help="an analysis node of a multi-machine site")
    node_parser.add_argument("-c", "--config", type=Path, required=True)
    node_parser.add_argument(
        "--name", required=True, help="this node's name (letters, digits, - _)"
    )
    node_parser.add_argument("--workers", type=int, default=None, help="ingest processes")
    node_parser.add_argument(
        "--http-port",
        type=int,
        default=0,
        help="port of the footage server the station fetches recordings from (0: any free)",
    )
    node_parser.add_argument(
        "--advertise-host",
        default="127.0.0.1",
        help="host or address by which the station reaches this node's footage server",
    )
    node_parser.set_defaults(handler=node)
    hub_parser = commands.add_parser("hub", help="a district hub over several stations")
    hub_parser.add_argument("-c", "--config", type=Path, required=True)
    hub_parser.set_defaults(handler=hub)
    token_parser = commands.add_parser(
        "hub-token", help="print the token a station joins the district hub with"
    )
    token_parser.add_argument("-c", "--config", type=Path, required=True, help="the hub's file")
    token_parser.add_argument("--station", required=True, help="the station's site id")
    token_parser.set_defaults(handler=hub_token)
    check = commands.add_parser("check-config", help="validate site (or hub) files")
    check.add_argument("files", type=Path, nargs="+")
    check.set_defaults(handler=check_config)
    demo_parser = commands.add_parser("demo", help="camera farm of real clips + the demo site")
    demo_parser.add_argument("-c", "--config", type=Path, default=Path("configs/demo.yaml"))
    demo_parser.set_defaults(handler=demo)
    quant = commands.add_parser("quantize", help="make the int8 model, calibrated on local clips")
    quant.add_argument("--model", default="yolov8n.onnx", help="the fp32 ONNX model")
    quant.add_argument("--output", type=Path, help="default: models/yolov8n-int8.xml")
    quant.add_argument("--clips", type=Path, help="folder of *.mp4; default: the clip library")
    quant.add_argument("--imgsz", type=int, default=640, help="input size to calibrate at")
    quant.add_argument("--frames", type=int, default=300, help="calibration frames")
    quant.set_defaults(handler=quantize)
    add_user_commands(commands)
    add_audit_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("main", args.log_level)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
