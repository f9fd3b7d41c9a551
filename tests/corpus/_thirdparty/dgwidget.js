/* widgets.2gis.com/js/DGWidgetLoader.js: DGWidgetLoader draws the firm's map in a frame from widgets.2gis.com. */
window.DGWidgetLoader = function (opts) {
  var f = document.createElement("iframe");
  f.className = "dg-widget-frame";
  f.src = "https://widgets.2gis.com/widget?type=firmsonmap&options=" + encodeURIComponent(JSON.stringify(opts || {}));
  var link = document.querySelector(".dg-widget-link");
  (link ? link.parentNode : document.body).appendChild(f);
};
