/* cdn-ru.bitrix24.*/b<portal>/crm/site_button/loader_<id>.js (and crm/form/loader_<id>.js): adds the widget's
   button and fetches its settings from the portal. */
(function (d) {
  var el = d.createElement("div");
  el.className = "b24-widget-button-wrapper";
  el.textContent = "Bitrix24";
  d.body.appendChild(el);
  new Image().src = "https://cdn-ru.bitrix24.kz/b13743910/crm/site_button/config.gif";
})(document);
