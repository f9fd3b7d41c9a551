/* Local stand-in for a marketing tag (an advertising or social-network script). */
(function () {
  document.documentElement.setAttribute("data-demo-marketing", "loaded");
  var el = document.querySelector('[data-demo="marketing"]');
  if (el) { el.textContent = "Маркетинговый скрипт: загружен"; el.className = "on"; }
})();
