/* www.clarity.ms/tag/<id>: the bootstrap, which loads clarity.js from scripts.clarity.ms. */
(function (d) {
  var s = d.createElement("script");
  s.src = "https://scripts.clarity.ms/0.8.9/clarity.js";
  d.head.appendChild(s);
})(document);
