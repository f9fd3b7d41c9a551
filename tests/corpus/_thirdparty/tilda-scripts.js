/* static.tildacdn.com/js/tilda-scripts-3.0.min.js: t_onReady, and Tilda's lazy loading: data-original -> src. */
(function (w, d) {
  w.t_onReady = function (fn) { if (d.readyState !== "loading") fn(); else d.addEventListener("DOMContentLoaded", fn); };
  w.t_onFuncLoad = function (name, fn) { var tries = 0; (function wait() { if (typeof w[name] === "function") fn(); else if (tries++ < 50) setTimeout(wait, 20); })(); };
  w.t_lazyload_update = function () {
    [].forEach.call(d.querySelectorAll(".t-img[data-original], .t-bgimg[data-original]"), function (el) {
      var u = el.getAttribute("data-original");
      if (el.tagName === "IMG") el.src = u; else el.style.backgroundImage = "url('" + u + "')";
      el.classList.add("loaded");
    });
  };
  w.t_onReady(w.t_lazyload_update);
})(window, document);
