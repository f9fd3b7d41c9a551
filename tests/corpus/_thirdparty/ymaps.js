/* api-maps.yandex.ru/2.1/ (and the map constructor): ymaps.ready and ymaps.Map, tiles from core-renderer-tiles.maps.yandex.net. */
(function (w, d) {
  function Map(id) { var el = typeof id === "string" ? d.getElementById(id) : id; if (el) el.setAttribute("data-ymaps", "drawn"); new Image().src = "https://core-renderer-tiles.maps.yandex.net/tiles?l=map&x=1&y=1&z=1"; this.geoObjects = { add: function () {} }; }
  w.ymaps = { ready: function (fn) { setTimeout(fn, 0); }, Map: Map, Placemark: function () {} };
  var cur = d.currentScript;
  if (cur && /constructor/.test(cur.src)) { var div = d.createElement("div"); div.className = "ymaps-constructor"; cur.parentNode.insertBefore(div, cur); new Map(div); }
})(window, document);
