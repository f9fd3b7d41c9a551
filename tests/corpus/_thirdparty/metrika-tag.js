/* mc.yandex.ru/metrika/tag.js: drains ym.a, hits mc.yandex.ru/watch/<id>, Webvisor from mc.yandex.ru/webvisor. */
(function (w) {
  var ym = w.ym;
  if (!ym) return;
  function call(id, method, arg) {
    if (method === "init") {
      new Image().src = "https://mc.yandex.ru/watch/" + id + "?page-url=" + encodeURIComponent(location.href);
      if (arg && arg.webvisor) new Image().src = "https://mc.yandex.ru/webvisor/" + id + "?wv-type=0";
      if (arg && arg.ecommerce) {
        var name = arg.ecommerce === true ? "dataLayer" : arg.ecommerce, dl = w[name] = w[name] || [];
        w.__ymEcommerce = dl.filter(function (e) { return e && e.ecommerce; }).length;
      }
    } else if (method === "reachGoal") {
      new Image().src = "https://mc.yandex.ru/watch/" + id + "?page-url=goal%3A%2F%2F" + encodeURIComponent(arg);
    } else if (method === "hit") {
      new Image().src = "https://mc.yandex.ru/watch/" + id + "?page-url=" + encodeURIComponent(arg);
    }
  }
  var q = ym.a || [];
  w.ym = function () { call.apply(null, arguments); };
  for (var i = 0; i < q.length; i++) call.apply(null, q[i]);
  w.Ya = w.Ya || {};
  w.Ya.Metrika2 = function () {};
})(window);
