/* www.googletagmanager.com/gtag/js: reads the dataLayer's gtag() commands; G- ids send to
   region1.google-analytics.com/g/collect, AW- ids and conversion events to Google Ads hosts. */
(function (w) {
  var dl = w.dataLayer = w.dataLayer || [];
  var ids = [];
  function ga(tid, en) { new Image().src = "https://region1.google-analytics.com/g/collect?v=2&tid=" + tid + "&en=" + encodeURIComponent(en); }
  function ads(path) { new Image().src = "https://googleads.g.doubleclick.net/pagead/" + path; }
  function command(a) {
    if (!a || typeof a.length !== "number" || typeof a[0] !== "string") return;
    if (a[0] === "config") {
      ids.push(a[1]);
      if (/^G-/.test(a[1])) ga(a[1], "page_view");
      if (/^AW-/.test(a[1])) ads("viewthroughconversion/" + a[1].slice(3) + "/");
    } else if (a[0] === "event") {
      ids.forEach(function (tid) {
        if (/^G-/.test(tid)) ga(tid, a[1]);
      });
      if (a[1] === "conversion" && a[2] && a[2].send_to) {
        new Image().src = "https://www.googleadservices.com/pagead/conversion/" + String(a[2].send_to).slice(3) + "/";
      }
    }
  }
  for (var i = 0; i < dl.length; i++) command(dl[i]);
  var push = dl.push;
  dl.push = function () { for (var j = 0; j < arguments.length; j++) command(arguments[j]); return push.apply(dl, arguments); };
})(window);
