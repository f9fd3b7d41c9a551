// kns_corp template script: lazy images, the callback form (goals in Metrika and Top.Mail.Ru), the header state.
BX.ready(function () {
	BX.addClass(document.documentElement, 'tpl-ready');

	var lazy = document.querySelectorAll('img.lazy[data-src]');
	for (var i = 0; i < lazy.length; i++) {
		lazy[i].src = lazy[i].getAttribute('data-src');
		BX.addClass(lazy[i], 'lazy-loaded');
	}

	BX.bind(BX('callback-form'), 'submit', function (e) {
		e.preventDefault();
		if (typeof ym === 'function') { ym(96123456, 'reachGoal', 'callback_sent'); }
		if (window._tmr) { _tmr.push({ id: '3456789', type: 'reachGoal', goal: 'callback' }); }
		this.setAttribute('data-sent', 'yes');
		var ok = document.createElement('div');
		ok.className = 'callback-form__ok';
		ok.textContent = 'Спасибо! Мы перезвоним вам в течение 15 минут.';
		this.appendChild(ok);
	});
});
