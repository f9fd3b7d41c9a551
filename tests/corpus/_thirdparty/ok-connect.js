/* connect.ok.ru/connect.js: OK.CONNECT.insertShareWidget draws the share button in a frame from connect.ok.ru. */
window.OK = { CONNECT: { insertShareWidget: function (id) { var f = document.createElement("iframe"); f.src = "https://connect.ok.ru/dk?st.cmd=WidgetSharePreview"; document.getElementById(id).appendChild(f); } } };
