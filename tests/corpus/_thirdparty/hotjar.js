/* static.hotjar.com/c/hotjar-<id>.js: the bootstrap, which loads Hotjar's modules from script.hotjar.com. */
(function (w, d) {
  var s = d.createElement("script");
  s.src = "https://script.hotjar.com/modules.ab12cd34ef.js";
  d.head.appendChild(s);
  w.hj = w.hj || function () {};
})(window, document);
