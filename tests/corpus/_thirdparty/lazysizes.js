/* cdn.jsdelivr.net/npm/lazysizes/lazysizes.min.js: .lazyload elements get data-src/data-srcset/data-bg copied
   in (everything counts as near the viewport here), also when they appear or change later. */
(function (w, d) {
  function unveil(el) {
    var src = el.getAttribute("data-src"), set = el.getAttribute("data-srcset"), bg = el.getAttribute("data-bg");
    if (!src && !set && !bg) return;
    if (set) el.setAttribute("srcset", set);
    if (src) el.setAttribute("src", src);
    if (bg) el.style.backgroundImage = "url(" + bg + ")";
    el.classList.remove("lazyload");
    el.classList.add("lazyloaded");
  }
  function check() { [].forEach.call(d.getElementsByClassName("lazyload"), function (el) { setTimeout(function () { unveil(el); }, 0); }); }
  w.lazySizes = { loader: { checkElems: check, unveil: unveil }, cfg: {} };
  d.addEventListener("DOMContentLoaded", check);
  new MutationObserver(check).observe(d.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["class", "data-src", "data-srcset", "data-bg"] });
  if (d.readyState !== "loading") check();
})(window, document);
