/* code.jivo.ru/widget/<id>: defines jivo_api and shows the chat label. */
(function (w, d) {
  w.jivo_api = { open: function () {}, setContactInfo: function () {} };
  var el = d.createElement("jdiv");
  el.id = "jivo-iframe-container";
  el.textContent = "Jivo";
  d.body.appendChild(el);
  if (typeof w.jivo_onLoadCallback === "function") w.jivo_onLoadCallback();
})(window, document);
