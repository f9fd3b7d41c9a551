/* analytics.tiktok.com/i18n/pixel/events.js: drains the ttq queue and reports each call to analytics.tiktok.com. */
(function (w) {
  var name = w.TiktokAnalyticsObject || "ttq", ttq = w[name];
  if (!ttq) return;
  function send(kind, ev) { new Image().src = "https://analytics.tiktok.com/api/v2/pixel?kind=" + kind + "&event=" + encodeURIComponent(ev || ""); }
  function run(c) { if (c[0] === "page") send("page"); else if (c[0] === "track") send("track", c[1]); }
  var q = [].slice.call(ttq);
  ttq.length = 0;
  ttq.page = function () { run(["page"]); };
  ttq.track = function (ev) { run(["track", ev]); };
  for (var i = 0; i < q.length; i++) run(q[i]);
})(window);
