// First-party script of the test site: proves it runs, sees the CDN library, and can inject a tracker later.
document.documentElement.dataset.firstParty = "ran";
document.documentElement.dataset.jquery = typeof window.jQuery;
window.injectTracker = function (src) {
  var s = document.createElement("script");
  s.src = src;
  document.head.appendChild(s);
};
document.addEventListener("securitypolicyviolation", function (e) {
  (window.cspViolations = window.cspViolations || []).push(e.blockedURI);
});
