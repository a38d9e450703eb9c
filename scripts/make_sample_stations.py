"""Regenerate ``geodata/data/sample_stations.geojson`` and ``docs/station-schema.json``.

The sample stations restate the facts of the report on Inner Mongolia's port trade unions
(``shared/seed/port-unions-article.zh.txt``, summarised in ``docs/mission-brief.md``).
Exact addresses are not published, so every station is placed **exactly on a node of the
regional road network** (``geodata/data/regional_network.npz``) near the place the report
implies (an *anchor*: a port from ``geodata/data/ports.json`` or a named town):

* candidates are network nodes inside Inner Mongolia (``geodata/data/admin_units.geojson.gz``,
  the WGS 84 province outline shrunk by 0.005°, about 500 m, so nothing lands across the
  border), ordered by
  distance from the anchor (ties by node index: deterministic);
* each station takes the nearest candidate not yet used and at least 300 m from every
  station already placed, within 15 km of the anchor's nearest candidate; when the network
  has fewer such nodes than stations (Ceke, Heishantou, Erenhot), stations share the
  least-used node in that window, and the notes say so;
* ``location_accuracy_m`` = distance from anchor to node + the anchor's own uncertainty,
  rounded up to 100 m; ``location_approximate`` is true.

Services, opening hours and per-station sizes are mostly not in the report: where a value
is a sample assumption the station's ``notes`` say so.

Usage::

    python scripts/make_sample_stations.py [--check]

``--check`` regenerates in memory and fails if the committed files differ.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geodata.regional import load_regional_graph  # noqa: E402
from locator.stations import Port, Station, station_json_schema  # noqa: E402

DATA = ROOT / "geodata" / "data"
OUT_STATIONS = DATA / "sample_stations.geojson"
OUT_SCHEMA = ROOT / "docs" / "station-schema.json"
SOURCE = (
    "Report on Inner Mongolia's border-port trade unions, '全力建设北疆亮丽口岸工会' "
    "(shared/seed/port-unions-article.zh.txt); position: sample placement on the regional "
    "OSM road network (geodata/data/regional_network.npz)"
)
SPREAD_WINDOW_M = 15_000.0
MIN_SEPARATION_M = 300.0
BORDER_MARGIN_DEG = 0.005  # ~400-550 m inward buffer of the Inner Mongolia outline
SAMPLE_NOTE = "Services and opening hours are sample values where the report is silent."


@dataclass(frozen=True)
class Anchor:
    """Where the report puts a station: a point and its own uncertainty."""

    label: str
    lon: float
    lat: float
    radius_m: float


@dataclass
class Spec:
    """One sample station before placement."""

    id: str
    kind: str
    port_id: str
    anchor: Anchor
    name: dict[str, str]
    services: list[str]
    opening_hours: str
    fact: str
    area_m2: float | None = None
    capacity_people: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle distance in metres (vectorised)."""
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


def load_ports() -> dict[str, Port]:
    doc = json.loads((DATA / "ports.json").read_text(encoding="utf-8"))
    return {p["id"]: Port.model_validate(p) for p in doc["ports"]}


def inner_mongolia_outline() -> Any:
    with gzip.open(DATA / "admin_units.geojson.gz", "rt", encoding="utf-8") as f:
        doc = json.load(f)
    (province,) = [f for f in doc["features"] if f["properties"]["code"] == "150000"]
    return shape(province["geometry"])


def port_anchor(port: Port) -> Anchor:
    label = str(port.name.en) if "Zone" in str(port.name.en) else f"{port.name.en} port"
    return Anchor(label, port.lon, port.lat, port.location_accuracy_m)


# Towns used as anchors where the report points at a town rather than the crossing.
MANZHOULI_CITY = Anchor("Manzhouli city and road-port area", 117.41, 49.60, 6000.0)
ERENHOT_CITY = Anchor("Erenhot city and its logistics parks", 111.975, 43.65, 6000.0)
ULIASTAI = Anchor("Uliastai, East Ujimqin Banner seat", 116.97, 45.51, 3000.0)


def names(zh: str, en: str, mn: str, ru: str) -> dict[str, str]:
    return {"zh": zh, "en": en, "mn": mn, "ru": ru}


def specs(ports: dict[str, Port]) -> list[Spec]:
    """The sample stations, grounded in the report's facts."""
    out: list[Spec] = []
    mzl = port_anchor(ports["manzhouli"])
    water_rest = ["drinking_water", "rest", "toilet"]
    for n in range(1, 7):
        out.append(
            Spec(
                id=f"mzl-driver-temp-{n:02d}",
                kind="driver_station",
                port_id="manzhouli",
                anchor=MANZHOULI_CITY,
                name=names(
                    f"满洲里中俄蒙司机驿站（临时）{n}号",
                    f"Manzhouli China-Russia-Mongolia Driver Station (temporary) No. {n}",
                    f"Манжуурын Хятад-Орос-Монгол жолоочийн түр буудал №{n}",
                    f"Временная станция отдыха водителей Китай-Россия-Монголия № {n} (Маньчжурия)",
                ),
                services=[*water_rest, "truck_parking"],
                opening_hours="24/7",
                fact=(
                    "One of 6 temporary rest stations for China-Russia-Mongolia truck drivers "
                    "built from 54 idle prefab rooms lent by the emergency management bureau. "
                    "Per-station size not reported; all Manzhouli driver stations together "
                    "total 1,854 m2 and serve 1,500+ people a day."
                ),
            )
        )
    for n in range(1, 3):
        out.append(
            Spec(
                id=f"mzl-driver-lodging-{n:02d}",
                kind="driver_station",
                port_id="manzhouli",
                anchor=MANZHOULI_CITY,
                name=names(
                    f"满洲里中俄蒙司机驿站（住宿）{n}号",
                    f"Manzhouli China-Russia-Mongolia Driver Station with lodging No. {n}",
                    f"Манжуурын Хятад-Орос-Монгол жолоочийн буудал (хоноглох) №{n}",
                    f"Станция отдыха водителей Китай-Россия-Монголия с ночлегом № {n} (Маньчжурия)",
                ),
                services=[*water_rest, "overnight_lodging", "hot_meals", "truck_parking"],
                opening_hours="24/7",
                fact=(
                    "One of 2 Manzhouli driver stations offering both short rests and overnight "
                    "lodging (in addition to the 6 temporary ones)."
                ),
            )
        )
    out.append(
        Spec(
            id="mzl-activity-centre",
            kind="worker_home",
            port_id="manzhouli",
            anchor=MANZHOULI_CITY,
            name=names(
                "满洲里综合保税区职工活动主阵地",
                "Manzhouli Comprehensive Bonded Zone Workers' Activity Centre",
                "Манжуурын иж бүрэн баталгаат бүсийн ажилчдын үйл ажиллагааны төв",
                "Центр досуга работников комплексной бондовой зоны Маньчжурии",
            ),
            services=["activity_space", "reading_room", "rest", "wifi", "drinking_water"],
            opening_hours="Mo-Su 09:00-21:00",
            area_m2=1500.0,
            fact=(
                "1,500 m2 workers' activity centre with China-Russia-Mongolia elements in the "
                "comprehensive bonded zone (area from the report)."
            ),
        )
    )
    for n in range(1, 3):
        out.append(
            Spec(
                id=f"mzl-worker-home-{n:02d}",
                kind="worker_home",
                port_id="manzhouli",
                anchor=mzl,
                name=names(
                    f"满洲里口岸职工之家{n}号",
                    f"Manzhouli Port Workers' Home No. {n}",
                    f"Манжуур боомтын ажилчдын өргөө №{n}",
                    f"Дом работников погранперехода Маньчжурия № {n}",
                ),
                services=["rest", "reading_room", "counselling", "drinking_water"],
                opening_hours="Mo-Fr 08:30-12:00,14:30-18:00; Sa,Su 09:00-17:00",
                fact=(
                    "Sample of the 120 worker homes, 207 worker libraries and 36 counselling "
                    "rooms the report counts in Hulunbuir's port areas (not individually listed)."
                ),
            )
        )
    for n in range(1, 11):
        out.append(
            Spec(
                id=f"erl-driver-home-{n:02d}",
                kind="driver_station",
                port_id="erenhot",
                anchor=ERENHOT_CITY,
                name=names(
                    f"二连浩特国际司机之家（工会驿站）{n}号",
                    f"Erenhot International Drivers' Home / Union Post No. {n}",
                    f"Эрээний олон улсын жолоочийн өргөө №{n}",
                    f"Международный дом водителя № {n} (Эрэн-Хото)",
                ),
                services=[*water_rest, "truck_parking", "hot_meals"],
                opening_hours="24/7",
                fact=(
                    "One of the 10 international driver homes / union posts Erenhot built at "
                    "the logistics parks where China-Mongolia truck drivers rest."
                ),
            )
        )
    for n in range(1, 3):
        out.append(
            Spec(
                id=f"erl-union-post-{n:02d}",
                kind="outdoor_worker_post",
                port_id="erenhot",
                anchor=ERENHOT_CITY,
                name=names(
                    f"二连浩特工会驿站{n}号",
                    f"Erenhot Union Post for Outdoor Workers No. {n}",
                    f"Эрээний гадаа ажиллагчдын үйлчилгээний цэг №{n}",
                    f"Пункт обслуживания работников на открытом воздухе № {n} (Эрэн-Хото)",
                ),
                services=["drinking_water", "hot_meals", "rest", "toilet"],
                opening_hours="Mo-Su 07:00-21:00",
                fact="Sample of the 39 union posts Xilingol built in its border banners.",
            )
        )
    out.append(
        Spec(
            id="erl-worker-home",
            kind="worker_home",
            port_id="erenhot",
            anchor=port_anchor(ports["erenhot"]),
            name=names(
                "二连浩特口岸职工之家",
                "Erenhot Port Workers' Home",
                "Эрээн боомтын ажилчдын өргөө",
                "Дом работников погранперехода Эрэн-Хото",
            ),
            services=["rest", "reading_room", "counselling", "activity_space"],
            opening_hours="Mo-Fr 08:30-12:00,14:30-18:00",
            fact=(
                "Sample worker home of the Erenhot port union federation (12 grassroots unions "
                "since July 2020); Xilingol reports 63 worker libraries and counselling rooms."
            ),
        )
    )
    out.append(
        Spec(
            id="zgd-worker-home",
            kind="worker_home",
            port_id="zhuengadabuqi",
            anchor=port_anchor(ports["zhuengadabuqi"]),
            name=names(
                "珠恩嘎达布其口岸职工之家",
                "Zhuengadabuqi Port Workers' Home",
                "Зүүнхатавч боомтын ажилчдын өргөө",
                "Дом работников погранперехода Чжуэньгадабуци",
            ),
            services=["activity_space", "reading_room", "rest"],
            opening_hours="Mo-Fr 08:30-12:00,14:30-18:00; Sa 09:00-17:00",
            fact=(
                "The port union federation's worker home combining on-site teaching, skills "
                "training, team building, sports and leisure."
            ),
        )
    )
    out.append(
        Spec(
            id="zgd-union-post-uliastai",
            kind="outdoor_worker_post",
            port_id="zhuengadabuqi",
            anchor=ULIASTAI,
            name=names(
                "东乌珠穆沁旗工会驿站",
                "East Ujimqin Banner Union Post for Outdoor Workers",
                "Зүүн үзэмчин хошууны гадаа ажиллагчдын үйлчилгээний цэг",
                "Пункт обслуживания работников на открытом воздухе (Восточный Уджумчин)",
            ),
            services=["drinking_water", "hot_meals", "rest", "toilet"],
            opening_hours="Mo-Su 07:00-21:00",
            fact=(
                "Sample of the 39 union posts Xilingol built in its border banners, placed in "
                "the banner seat on the road to the port."
            ),
        )
    )
    gqm = port_anchor(ports["ganqimaodu"])
    out.append(
        Spec(
            id="gqm-worker-home",
            kind="worker_home",
            port_id="ganqimaodu",
            anchor=gqm,
            name=names(
                "甘其毛都口岸职工之家",
                "Ganqimaodu Port Workers' Home",
                "Ганц мод боомтын ажилчдын өргөө",
                "Дом работников погранперехода Ганьцимаоду",
            ),
            services=["rest", "reading_room", "activity_space"],
            opening_hours="Mo-Fr 08:30-12:00,14:30-18:00",
            fact=(
                "Illustrates the 'union, station, home' model of the Ganqimaodu port union "
                "federation (12 units, 1,100+ members); not individually listed in the report."
            ),
        )
    )
    out.append(
        Spec(
            id="gqm-driver-home",
            kind="driver_station",
            port_id="ganqimaodu",
            anchor=gqm,
            name=names(
                "甘其毛都口岸司机之家",
                "Ganqimaodu Port Drivers' Home",
                "Ганц мод боомтын жолоочийн өргөө",
                "Дом водителя погранперехода Ганьцимаоду",
            ),
            services=[*water_rest, "hot_meals", "truck_parking"],
            opening_hours="24/7",
            fact=(
                "Illustrates the Bayannur unions' service to port truck drivers at the largest "
                "China-Mongolia road port; not individually listed in the report."
            ),
        )
    )
    ck = port_anchor(ports["ceke"])
    out.append(
        Spec(
            id="ck-service-centre",
            kind="worker_home",
            port_id="ceke",
            anchor=ck,
            name=names(
                "策克口岸经济开发区职工服务中心",
                "Ceke Port Economic Development Zone Workers' Service Centre",
                "Сэхээ боомтын эдийн засгийн бүсийн ажилчдын үйлчилгээний төв",
                "Центр обслуживания работников зоны развития погранперехода Цэкэ",
            ),
            services=["rest", "reading_room", "counselling", "activity_space", "wifi"],
            opening_hours="Mo-Su 08:00-20:00",
            fact=(
                "The workers' service centre linked with the driver home and outdoor-worker "
                "posts into Ceke's '15-minute worker service circle' ('策克工会e家' app)."
            ),
        )
    )
    out.append(
        Spec(
            id="ck-driver-home",
            kind="driver_station",
            port_id="ceke",
            anchor=ck,
            name=names(
                "策克口岸司机之家",
                "Ceke Port Drivers' Home",
                "Сэхээ боомтын жолоочийн өргөө",
                "Дом водителя погранперехода Цэкэ",
            ),
            services=[*water_rest, "hot_meals", "truck_parking"],
            opening_hours="24/7",
            fact="The driver home of Ceke's '15-minute worker service circle'.",
        )
    )
    for n in range(1, 3):
        out.append(
            Spec(
                id=f"ck-outdoor-post-{n:02d}",
                kind="outdoor_worker_post",
                port_id="ceke",
                anchor=ck,
                name=names(
                    f"策克口岸户外劳动者服务驿站{n}号",
                    f"Ceke Port Outdoor Workers' Service Post No. {n}",
                    f"Сэхээ боомтын гадаа ажиллагчдын үйлчилгээний цэг №{n}",
                    f"Пункт обслуживания работников на открытом воздухе № {n} (Цэкэ)",
                ),
                services=["drinking_water", "hot_meals", "rest", "toilet"],
                opening_hours="Mo-Su 07:00-21:00",
                fact="An outdoor-worker post of Ceke's '15-minute worker service circle'.",
            )
        )
    alxa = port_anchor(ports["alxa-border-trade-zone"])
    alxa_services = ["drinking_water", "hot_meals", "rest", "toilet", "wifi", "reading_room"]
    alxa_fact = (
        " Equipment per the report: tea bar, water dispenser, sofas, books, Wi-Fi, rest area, "
        "outdoor shade and seats; serves tourists, police, sanitation workers and taxi drivers."
    )
    out.append(
        Spec(
            id="alxa-tourist-centre-post",
            kind="outdoor_worker_post",
            port_id="alxa-border-trade-zone",
            anchor=alxa,
            name=names(
                "阿拉善游客服务中心户外劳动者驿站",
                "Alxa Tourist Service Centre Outdoor Workers' Post",
                "Алшаагийн жуулчны үйлчилгээний төвийн гадаа ажиллагчдын цэг",
                "Пункт для работников на открытом воздухе при туристическом центре (Алашань)",
            ),
            services=alxa_services,
            opening_hours="Mo-Su 08:00-20:00",
            fact="The Alxa union's outdoor-workers' post at the tourist service centre."
            + alxa_fact,
        )
    )
    out.append(
        Spec(
            id="alxa-1382-post",
            kind="outdoor_worker_post",
            port_id="alxa-border-trade-zone",
            anchor=alxa,
            name=names(
                "阿拉善1382驿站",
                "Alxa 1382 Post",
                "Алшаагийн 1382 цэг",
                "Пункт 1382 (Алашань)",
            ),
            services=alxa_services,
            opening_hours="24/7",
            fact="The '1382' post inside the Alxa port inspection area." + alxa_fact,
        )
    )
    out.append(
        Spec(
            id="alxa-border-residents-post",
            kind="outdoor_worker_post",
            port_id="alxa-border-trade-zone",
            anchor=alxa,
            name=names(
                "阿拉善中蒙边民互市贸易区边民驿站",
                "Alxa Border Residents' Post, China-Mongolia Border Trade Zone",
                "Алшаагийн хилийн иргэдийн худалдааны бүсийн иргэдийн цэг",
                "Пункт для жителей приграничья в зоне приграничной торговли (Алашань)",
            ),
            services=alxa_services,
            opening_hours="Mo-Su 08:00-20:00",
            fact="The border residents' post in the China-Mongolia border trade zone." + alxa_fact,
        )
    )
    hulunbuir_fact = (
        "Hulunbuir upgraded the union service sites of Manzhouli, Arihashate, Ebuduge, "
        "Heishantou and the port the report writes 奎市 (read as Shiwei), improving worker "
        "homes and driver homes; individual sites are not listed."
    )
    for port_id, code, zh in (
        ("heishantou", "hst", "黑山头"),
        ("shiwei", "sw", "室韦"),
        ("ebuduge", "ebd", "额布都格"),
    ):
        port = ports[port_id]
        en, mn, ru = port.name.en, port.name.mn, port.name.ru
        out.append(
            Spec(
                id=f"{code}-worker-home",
                kind="worker_home",
                port_id=port_id,
                anchor=port_anchor(port),
                name=names(
                    f"{zh}口岸职工之家",
                    f"{en} Port Workers' Home",
                    f"{mn} боомтын ажилчдын өргөө",
                    f"Дом работников погранперехода {ru}",
                ),
                services=["rest", "reading_room", "drinking_water"],
                opening_hours="Mo-Fr 08:30-12:00,14:30-18:00",
                fact=hulunbuir_fact,
            )
        )
        out.append(
            Spec(
                id=f"{code}-driver-home",
                kind="driver_station",
                port_id=port_id,
                anchor=port_anchor(port),
                name=names(
                    f"{zh}口岸司机之家",
                    f"{en} Port Drivers' Home",
                    f"{mn} боомтын жолоочийн өргөө",
                    f"Дом водителя погранперехода {ru}",
                ),
                services=[*water_rest, "truck_parking"],
                opening_hours="24/7",
                fact=hulunbuir_fact,
            )
        )
    return out


def place(
    all_specs: list[Spec], node_lon: np.ndarray, node_lat: np.ndarray, allowed: np.ndarray
) -> list[tuple[int, float, bool]]:
    """Choose a node per spec: (node index, anchor distance m, shared with another station)."""
    used: dict[int, int] = {}
    chosen: list[tuple[int, float, bool]] = []
    candidates_idx = np.nonzero(allowed)[0]
    for spec in all_specs:
        d = haversine_m(
            spec.anchor.lon, spec.anchor.lat, node_lon[candidates_idx], node_lat[candidates_idx]
        )
        order = np.lexsort((candidates_idx, d))
        window = [int(i) for i in order if d[i] <= d[order[0]] + SPREAD_WINDOW_M]
        pick: int | None = None
        for i in window:
            node = int(candidates_idx[i])
            if node in used:
                continue
            if used:
                taken = np.fromiter(used.keys(), dtype=np.int64)
                sep = haversine_m(node_lon[node], node_lat[node], node_lon[taken], node_lat[taken])
                if np.min(sep) < MIN_SEPARATION_M:
                    continue
            pick = i
            break
        shared = pick is None
        if pick is None:  # fewer usable nodes than stations: share the least-used one
            pick = min(window, key=lambda i: (used.get(int(candidates_idx[i]), 0), d[i]))
        node = int(candidates_idx[pick])
        used[node] = used.get(node, 0) + 1
        chosen.append((node, float(d[pick]), shared))
    return chosen


def build() -> tuple[dict[str, Any], dict[str, Any]]:
    ports = load_ports()
    graph = load_regional_graph()
    outline = inner_mongolia_outline().buffer(-BORDER_MARGIN_DEG)
    allowed = shapely.contains_xy(outline, graph.node_lon, graph.node_lat)
    all_specs = specs(ports)
    placements = place(all_specs, graph.node_lon, graph.node_lat, allowed)
    shared_nodes: dict[int, list[str]] = {}
    for spec, (node, _, _) in zip(all_specs, placements, strict=True):
        shared_nodes.setdefault(node, []).append(spec.id)
    features = []
    for spec, (node, dist_m, _) in zip(all_specs, placements, strict=True):
        accuracy = math.ceil((dist_m + spec.anchor.radius_m) / 100.0) * 100.0
        others = [s for s in shared_nodes[node] if s != spec.id]
        placement = (
            f"Exact address not published. Placed at regional network node {node}, "
            f"{dist_m / 1000:.1f} km from {spec.anchor.label}"
        )
        if dist_m > 10_000:
            placement += " (the regional network has no closer usable road node)"
        placement += "."
        if others:
            placement += f" Shares its node with {', '.join(others)} (too few nodes nearby)."
        station = Station.model_validate(
            {
                "id": spec.id,
                "kind": spec.kind,
                "name": spec.name,
                "port_id": spec.port_id,
                "lon": float(graph.node_lon[node]),
                "lat": float(graph.node_lat[node]),
                "services": spec.services,
                "capacity_people": spec.capacity_people,
                "area_m2": spec.area_m2,
                "opening_hours": spec.opening_hours,
                "source": SOURCE,
                "location_accuracy_m": accuracy,
                "location_approximate": True,
                "notes": f"{spec.fact} {placement} {SAMPLE_NOTE}",
            }
        )
        if station.port_id not in ports:
            raise SystemExit(f"{station.id}: unknown port {station.port_id}")
        features.append(station.to_feature())
    collection = {
        "type": "FeatureCollection",
        "generated_by": "scripts/make_sample_stations.py",
        "features": features,
    }
    return collection, station_json_schema()


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    args = parser.parse_args(argv)
    collection, schema = build()
    outputs = {OUT_STATIONS: dumps(collection), OUT_SCHEMA: dumps(schema)}
    if args.check:
        stale = [
            p
            for p, text in outputs.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    ports_used = {f["properties"]["port_id"] for f in collection["features"]}
    print(f"{len(collection['features'])} stations over {len(ports_used)} ports", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
