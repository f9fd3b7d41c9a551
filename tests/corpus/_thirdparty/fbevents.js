/* connect.facebook.net/<locale>/fbevents.js: drains fbq.queue, sends each event to www.facebook.com/tr. */
(function (w) {
  var fbq = w.fbq, pixel = null;
  if (!fbq) return;
  function send(ev) { new Image().src = "https://www.facebook.com/tr?id=" + pixel + "&ev=" + encodeURIComponent(ev); }
  fbq.callMethod = function (cmd, a) {
    if (cmd === "init") pixel = a;
    else if (cmd === "track" || cmd === "trackCustom") send(a);
  };
  var q = fbq.queue || [];
  fbq.queue = [];
  for (var i = 0; i < q.length; i++) fbq.callMethod.apply(fbq, q[i]);
  w.__fbeventsLoaded = true;
})(window);
