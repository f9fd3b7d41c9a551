/* www.googletagmanager.com/gtm.js: reads dataLayer; the container's GA4 tag sends page_view (and later events)
   to region1.google-analytics.com, its Google Ads tag to googleads.g.doubleclick.net. */
(function (w) {
  var dl = w.dataLayer = w.dataLayer || [];
  var id = (document.currentScript && /id=([^&]+)/.exec(document.currentScript.src) || [])[1] || "GTM-X";
  function ga(en) { new Image().src = "https://region1.google-analytics.com/g/collect?v=2&tid=G-FROM-" + id + "&en=" + encodeURIComponent(en); }
  function seen(e) {
    if (!e || typeof e !== "object" || !e.event) return;
    if (e.event === "gtm.js") ga("page_view");
    else if (/^(purchase|add_to_cart|view_item|generate_lead)$/.test(e.event)) {
      ga(e.event);
      new Image().src = "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/123456789/?label=" + e.event;
    }
  }
  for (var i = 0; i < dl.length; i++) seen(dl[i]);
  var push = dl.push;
  dl.push = function () { for (var j = 0; j < arguments.length; j++) seen(arguments[j]); return push.apply(dl, arguments); };
  w.google_tag_manager = w.google_tag_manager || {};
  w.google_tag_manager[id] = { dataLayer: { name: "dataLayer" } };
})(window);
