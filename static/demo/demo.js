/* Demo page helper (first party, not a tracker): shows when the blocked pixel has actually loaded. */
document.addEventListener("DOMContentLoaded", function () {
  var img = document.querySelector('[data-demo="pixel"] img');
  img.addEventListener("load", function () {
    document.documentElement.setAttribute("data-demo-pixel", "loaded");
    var li = img.parentNode;
    li.firstChild.textContent = "Рекламный пиксель: загружен";
    li.className = "on";
  });
});
