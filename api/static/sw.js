/*
 * Service worker of the drivers' app and the planners' workspace (served at /sw.js,
 * scope /).
 *
 * The app shell (page, script, styles, Leaflet, texts, icon) is stored when the worker is
 * installed; the data the app shows (stations, ports, base map, circles, the offline
 * nearest-station pack) is stored as the app fetches it. Every request goes to the network
 * first, so a driver with signal always gets fresh answers; without signal the stored copy
 * answers, and the app answers "nearest station" from the offline pack. Questions that
 * need the server (routes, trips) are never stored.
 */
"use strict";

var CACHE = "border-port-locator-v2";
var SHELL = [
  "/app", "/static/app.js", "/static/app.css", "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css", "/widget/fonts.css", "/static/icon.svg",
  "/static/manifest.webmanifest", "/static/icon-192.png", "/static/i18n/zh.json", "/static/i18n/en.json",
  "/static/i18n/mn.json", "/static/i18n/ru.json", "/planner", "/static/planner.js", "/static/planner.css"
];
// data worth keeping for a journey without signal (answers computed per request are not);
// the planners' last figures (GET coverage and suggestions: the same for the same stations)
var KEEP = /^\/(app|widget|planner)?$|^\/static\/|^\/widget\/fonts|^\/v1\/(stations|ports|regions|coverage|plan\/sites|basemap\/|offline\/)/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) {
      return caches.delete(n);
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || !KEEP.test(url.pathname)) return;
  event.respondWith(fetch(req).then(function (res) {
    if (res.ok) {
      var copy = res.clone();
      caches.open(CACHE).then(function (cache) { cache.put(req, copy); });
    }
    return res;
  }).catch(function () {
    // a page is the same whatever its query string (lang, center...): any stored copy
    var nav = req.mode === "navigate";
    return caches.match(req, { ignoreSearch: nav, ignoreVary: true }).then(function (hit) {
      if (hit) return hit;
      if (!nav) return Response.error();
      var shell = url.pathname === "/planner" ? "/planner" : "/app";
      return caches.match(shell).then(function (page) { return page || Response.error(); });
    });
  }));
});
