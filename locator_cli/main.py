"""``locator``: build, check and serve station-locator artifacts.

Examples
--------
Build the embedded regional border network with the sample stations::

    locator build --out artifacts/regional

Build a street-level artifact for Erenhot from a Geofabrik extract::

    locator build --network inner-mongolia-latest.osm.pbf \\
        --bbox 111.90,43.60,112.05,43.70 --out artifacts/erenhot

Validate an artifact the way the server loads it, then serve it::

    locator check artifacts/regional
    locator serve --artifact artifacts/regional
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from geodata.build import BuildOptions, build, network_area
from geodata.densify import DEFAULT_MAX_SEGMENT_M
from locator.arguments import check_positive, parse_bbox
from locator.artifact.loader import check_artifact
from locator.artifact.manifest import STATIONS_FILE, load_manifest, manifest_summary
from locator.config import Settings
from locator.errors import LocatorError
from locator.network.graph import RoadGraph
from locator.stations import StationStore

log = logging.getLogger("locator")


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        return parse_bbox(text)
    except LocatorError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _positive(text: str) -> float:
    try:
        return check_positive(float(text), "value")
    except (ValueError, LocatorError):
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locator",
        description="Station locator for the border ports of Inner Mongolia: build, check, serve.",
        epilog="Run `locator COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "build",
        help="build an artifact from a road network and a station file",
        description=(
            "Build a versioned artifact directory (graph arrays, station store, ports, admin "
            "units, manifest) from the embedded regional network or an OpenStreetMap extract."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    b.add_argument(
        "--network",
        default="regional",
        help="'regional' (embedded border network) or an OSM extract: .osm.pbf, .osm, .osm.bz2",
    )
    b.add_argument(
        "--bbox",
        type=_bbox,
        default=None,
        help="clip an OSM extract: min_lon,min_lat,max_lon,max_lat (WGS 84)",
    )
    b.add_argument(
        "--polygon",
        type=Path,
        default=None,
        help="clip an OSM extract by a GeoJSON Polygon/MultiPolygon file",
    )
    b.add_argument(
        "--stations",
        type=Path,
        default=None,
        help="station file (GeoJSON or CSV, see docs/stations.md); default: bundled "
        "samples on the regional network, none on an OSM extract",
    )
    b.add_argument(
        "--truck-kph",
        type=_positive,
        default=60.0,
        help="truck speed on the regional network; truck speed cap on OSM extracts",
    )
    b.add_argument(
        "--car-kph",
        type=_positive,
        default=80.0,
        help="car speed on the regional network (OSM extracts use per-class speeds)",
    )
    b.add_argument("--walk-kph", type=_positive, default=5.0, help="walking speed (OSM extracts)")
    b.add_argument(
        "--max-segment-m",
        type=_positive,
        default=DEFAULT_MAX_SEGMENT_M,
        help="densify straight segments along the geodesic to at most this length "
        "(default %(default).0f m)",
    )
    b.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    b.add_argument("--force", action="store_true", help="replace an existing artifact")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.add_argument(
        "--osm-builder",
        choices=("stream", "osmnx"),
        default="stream",
        help="OSM extracts: stream with pyosmium into arrays (default, province-sized) or "
        "build through osmnx/NetworkX (the reference; same graph, city-sized)",
    )

    c = sub.add_parser(
        "check",
        help="load and validate an artifact (like osrm-routed --trial)",
        description="Load every part of an artifact as the server would; print a JSON report; "
        "exit 1 if anything is missing or inconsistent.",
    )
    c.add_argument("artifact", type=Path, help="artifact directory")

    s = sub.add_parser(
        "serve",
        help="serve the HTTP API on an artifact",
        description="Serve the HTTP API. Settings also come from LOCATOR_* environment variables.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument(
        "--artifact",
        type=Path,
        default=None,
        help="artifact directory (default: LOCATOR_ARTIFACT_DIR or artifacts/regional)",
    )
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="TCP port (default 8000)")
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: LOCATOR_WORKERS or 1). With more than one, the "
        "artifact is loaded once and the workers are forked from it (shared memory); they "
        "share the rate limit and apply each other's station edits before answering",
    )
    s.add_argument(
        "--build-if-missing",
        action="store_true",
        help="build the default regional artifact first if the directory is absent",
    )
    k = sub.add_parser(
        "keys",
        help="manage API keys for the write routes",
        description="API keys are stored hashed (salted SHA-256) in api_keys.json in the "
        "artifact directory (or LOCATOR_API_KEYS_FILE); the server picks up "
        "changes without a restart.",
    )
    ksub = k.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kc = ksub.add_parser("create", help="create a key and print it once")
    kc.add_argument("--name", required=True, help="who the key is for (shown in the audit log)")
    kl = ksub.add_parser("list", help="list the keys (id, name, creation time; never the secrets)")
    kl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    kr = ksub.add_parser(
        "revoke",
        help="revoke a key by its id (the 8 hex digits after lk_); a running server "
        "refuses it from its next request",
    )
    kr.add_argument("key_id", help="key id, or a whole key (lk_<id>_<secret>)")
    for p in (kc, kl, kr):
        p.add_argument(
            "--artifact",
            type=Path,
            default=None,
            help="artifact directory whose api_keys.json to use (default: "
            "LOCATOR_API_KEYS_FILE, else LOCATOR_ARTIFACT_DIR or artifacts/regional)",
        )

    st = sub.add_parser(
        "stations",
        help="import or export an artifact's stations (GeoJSON or CSV)",
        description="Import validates every row first and writes nothing unless all rows are "
        "valid (one transaction); every problem is listed with its row, field and reason. "
        "A running server applies an import before its next answer (recomputing its "
        "nearest-station indexes then), as it applies edits made through the API.",
    )
    ssub = st.add_subparsers(dest="stations_command", required=True, metavar="ACTION")
    si = ssub.add_parser(
        "import",
        help="import a station file into an artifact (all or nothing)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    si.add_argument("artifact", type=Path, help="artifact directory")
    si.add_argument("file", type=Path, help="GeoJSON FeatureCollection or CSV (docs/stations.md)")
    si.add_argument(
        "--mode",
        choices=("insert", "upsert", "replace"),
        default="insert",
        help="insert: ids must be new; upsert: add or replace by id; replace: the file "
        "becomes the whole station set",
    )
    si.add_argument("--actor", default="cli", help="name recorded in the audit log")
    se = ssub.add_parser("export", help="write an artifact's stations as GeoJSON or CSV")
    se.add_argument("artifact", type=Path, help="artifact directory")
    se.add_argument("--format", choices=("geojson", "csv"), default="geojson")
    se.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity + 1, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    commands = {
        "build": _cmd_build,
        "check": _cmd_check,
        "keys": _cmd_keys,
        "stations": _cmd_stations,
        "serve": _cmd_serve,
    }
    try:
        return commands[args.command](args)
    except LocatorError as exc:
        print(f"locator {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:  # BuildError, OSM input errors, validation
        print(f"locator {args.command}: {exc}", file=sys.stderr)
        return 1


def _cmd_build(args: argparse.Namespace) -> int:

    manifest = build(
        BuildOptions(
            out=args.out,
            network=args.network,
            bbox=args.bbox,
            polygon=args.polygon,
            stations=args.stations,
            truck_kph=args.truck_kph,
            car_kph=args.car_kph,
            walk_kph=args.walk_kph,
            max_segment_m=args.max_segment_m,
            force=args.force,
            progress=False if args.no_progress else None,
            osm_builder=args.osm_builder,
        ),
        Settings(artifact_dir=args.out),
    )
    print(json.dumps(manifest_summary(manifest), ensure_ascii=False, indent=2))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        report = check_artifact(args.artifact, Settings(artifact_dir=args.artifact))
    except (LocatorError, ValueError):
        raise
    except Exception as exc:
        log.debug("check failed", exc_info=True)
        print(
            f"locator check: cannot load {args.artifact}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from api.auth import KeyStore, KeysUnavailableError

    settings = Settings() if args.artifact is None else Settings(artifact_dir=args.artifact)
    if settings.api_keys_file is None and not settings.artifact_dir.is_dir():
        print(f"locator keys: no artifact directory {settings.artifact_dir}", file=sys.stderr)
        return 1
    path = settings.keys_path()
    store = KeyStore(path)
    try:
        if args.keys_command == "create":
            key = store.create(args.name)
            print(
                f"created API key for {args.name!r} in {path}; it is shown only once:",
                file=sys.stderr,
            )
            print(key)
            return 0
        if args.keys_command == "list":
            rows = [r.public() for r in store.records()]
            if args.json:
                print(json.dumps({"file": str(path), "keys": rows}, ensure_ascii=False, indent=2))
            elif not rows:
                print(f"no API keys in {path}", file=sys.stderr)
            else:
                print(f"{'key_id':<10}{'created_at':<27}name")
                for r in rows:
                    print(f"{r['key_id']:<10}{r['created_at']:<27}{r['name']}")
            return 0
        key_id = args.key_id.strip()
        if key_id.startswith("lk_"):
            key_id = key_id.split("_", 2)[1]
        removed = store.revoke(key_id)
    except KeysUnavailableError as exc:
        print(f"locator keys: cannot read the key file: {exc}", file=sys.stderr)
        return 1
    if removed is None:
        print(f"locator keys: no key {key_id!r} in {path}", file=sys.stderr)
        return 1
    print(f"revoked API key {removed.key_id} ({removed.name}) in {path}", file=sys.stderr)
    return 0


def _cmd_stations(args: argparse.Namespace) -> int:

    load_manifest(args.artifact)  # a clear ArtifactError for a wrong directory
    with StationStore(args.artifact / STATIONS_FILE) as store:
        if args.stations_command == "export":
            if args.format == "csv":
                text = store.export_csv()
            else:
                text = json.dumps(store.export_geojson(), ensure_ascii=False, indent=1)
            if args.out is None:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
            else:
                args.out.write_text(text, "utf-8")
            return 0
        area = network_area(RoadGraph.load(args.artifact))
        before = store.count()
        if not args.file.is_file():
            print(f"locator stations: no file {args.file}", file=sys.stderr)
            return 1
        if args.file.suffix.lower() == ".csv":
            store.import_csv(args.file, mode=args.mode, area=area, actor=args.actor)
        else:
            store.import_geojson(args.file, mode=args.mode, area=area, actor=args.actor)
        print(
            json.dumps(
                {
                    "imported_from": str(args.file),
                    "mode": args.mode,
                    "stations_before": before,
                    "stations_after": store.count(),
                }
            )
        )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    overrides: dict[str, object] = {}
    if args.artifact is not None:
        overrides["artifact_dir"] = args.artifact
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if args.build_if_missing and not (settings.artifact_dir / "manifest.json").is_file():
        log.warning("no artifact at %s: building the regional default", settings.artifact_dir)
        build(
            BuildOptions(out=settings.artifact_dir, force=settings.artifact_dir.exists()),
            settings,
        )
    workers = settings.workers if args.workers is None else args.workers
    if workers < 1:
        print("locator serve: --workers must be at least 1", file=sys.stderr)
        return 2
    serve(settings, workers=workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
