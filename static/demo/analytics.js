/* Local stand-in for an analytics tag: marks the page so you can see it ran only after consent. */
(function () {
  document.documentElement.setAttribute("data-demo-analytics", "loaded");
  var el = document.querySelector('[data-demo="analytics"]');
  if (el) { el.textContent = "Аналитика: загружена"; el.className = "on"; }
})();
