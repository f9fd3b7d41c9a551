// ToolMarket cart: the "add to cart" form, the ecommerce events for GTM/GA4/Metrika, Ads and Meta goals.
(function () {
  document.documentElement.classList.add('cart-ready');
  var form = document.getElementById('to-cart');
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var qty = parseInt(form.qty.value, 10) || 1, price = Number(form.getAttribute('data-price'));
    window.dataLayer = window.dataLayer || [];
    dataLayer.push({ ecommerce: null });
    dataLayer.push({
      event: 'add_to_cart',
      ecommerce: {
        currencyCode: 'KZT',
        add: { products: [{ id: form.getAttribute('data-product-id'), name: 'Перфоратор Makita HR2470', price: price, quantity: qty }] },
        items: [{ item_id: form.getAttribute('data-product-id'), price: price, quantity: qty }]
      }
    });
    if (typeof gtag === 'function') { gtag('event', 'add_to_cart', { currency: 'KZT', value: price * qty }); }
    if (typeof ym === 'function') { ym(97456123, 'reachGoal', 'add_to_cart'); }
    if (window.fbq) { fbq('track', 'AddToCart', { value: price * qty, currency: 'KZT' }); }
    var count = document.getElementById('cart-count');
    count.textContent = String(Number(count.textContent) + qty);
    form.setAttribute('data-added', String(qty));
  });
})();
