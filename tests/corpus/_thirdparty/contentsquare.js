/* t.contentsquare.net/uxa/<id>.js: the Contentsquare tag (Hotjar's current one); sends its page view to a
   contentsquare.net collection host. */
(function (w) {
  new Image().src = "https://c.contentsquare.net/pageview?pid=1&url=" + encodeURIComponent(location.href);
  w._uxa = w._uxa || [];
  w.CS_CONF = w.CS_CONF || {};
})(window);
