/* The old site's menu script: highlights the menu; proves the page's own scripts run. */
function menuInit(id) {
  var t = document.getElementById(id);
  if (t) t.className = 'menu-ready';
}
