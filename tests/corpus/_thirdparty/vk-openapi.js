/* vk.com/js/api/openapi.js (and share.js): VK.Retargeting hits vk.com/rtrg; VK.Share.button renders a link. */
(function (w) {
  var VK = w.VK = w.VK || {}, pixel = null;
  VK.Retargeting = {
    Init: function (id) { pixel = id; },
    Hit: function () { new Image().src = "https://vk.com/rtrg?p=" + pixel; },
    Event: function (ev) { new Image().src = "https://vk.com/rtrg?p=" + pixel + "&event=" + encodeURIComponent(ev); },
    Add: function () {}
  };
  VK.Share = { button: function () { return '<a class="vk-share-button" href="https://vk.com/share.php">VK</a>'; } };
  VK.Widgets = { Group: function (el) { var f = document.createElement("iframe"); f.src = "https://vk.com/widget_community.php"; document.getElementById(el).appendChild(f); } };
  if (typeof w.vkAsyncInit === "function") w.vkAsyncInit();
})(window);
