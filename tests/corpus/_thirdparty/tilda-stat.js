/* static.tildacdn.com/js/tilda-stat-1.0.min.js: Tilda's own statistics, sent to stat.tildacdn.com. */
new Image().src = "https://stat.tildacdn.com/event/?projectid=" + (document.getElementById("allrecords") || { getAttribute: function () { return ""; } }).getAttribute("data-tilda-project-id") + "&page=" + encodeURIComponent(location.pathname);
window.Tilda = window.Tilda || {};
window.Tilda.sendEventToStatistics = function (ev) { new Image().src = "https://stat.tildacdn.com/event/?ev=" + encodeURIComponent(ev); };
