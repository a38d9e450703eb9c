// Host side of the embedding example (/widget/demo): what docs/widget.md shows.
(function () {
  "use strict";
  var frame = document.getElementById("station-widget");
  var widgetUrl = new URL("../widget", window.location.href);
  new URLSearchParams(window.location.search).forEach(function (v, k) {
    widgetUrl.searchParams.set(k, v);
  });
  widgetUrl.searchParams.set("origin", window.location.origin);
  frame.src = widgetUrl.toString();

  window.addEventListener("message", function (event) {
    if (event.origin !== widgetUrl.origin || event.source !== frame.contentWindow) return;
    var msg = event.data;
    if (!msg || msg.source !== "border-port-locator") return;
    var li = document.createElement("li");
    li.dataset.type = msg.type;
    li.textContent = JSON.stringify(msg);
    document.getElementById("messages").appendChild(li);
  });
})();
