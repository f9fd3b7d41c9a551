/* top-fwz1.mail.ru/js/code.js: drains _tmr and sends each entry to top-fwz1.mail.ru/counter. */
(function (w) {
  var q = w._tmr || [];
  function send(e) {
    if (!e || !e.id) return;
    new Image().src = "https://top-fwz1.mail.ru/counter?id=" + e.id + ";type=" + (e.type || "") + ";goal=" + (e.goal || "");
  }
  for (var i = 0; i < q.length; i++) send(q[i]);
  w._tmr = { push: send, length: 0 };
})(window);
