/* snap.licdn.com/li.lms-analytics/insight.min.js: reports each partner id to px.ads.linkedin.com. */
(function (w) {
  (w._linkedin_data_partner_ids || []).forEach(function (pid) { new Image().src = "https://px.ads.linkedin.com/collect/?pid=" + pid + "&fmt=js"; });
})(window);
