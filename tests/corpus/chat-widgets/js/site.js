// АктобеТехПарк: "order" buttons open the chat if there is one, else the form; the form tags the visit in Hotjar and Clarity.
(function () {
  document.documentElement.classList.add('site-ready');
  [].forEach.call(document.querySelectorAll('.fleet__order'), function (btn) {
    btn.addEventListener('click', function () { btn.setAttribute('data-opened', openChatOrForm()); });
  });
  document.getElementById('order-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (window.hj) { hj('event', 'order_sent'); }
    if (window.clarity) { clarity('set', 'order', 'sent'); }
    this.setAttribute('data-sent', 'yes');
  });
})();
