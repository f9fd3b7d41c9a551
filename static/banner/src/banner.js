/* Consent gateway banner: plain ES2017, no dependencies. This is the source; scripts/build_banner.py strips
   its comments and spaces into the served static/banner/banner.js (pure Python, nothing to install).
   Contract: DESIGN.md "Banner contract" and docs/INTERNALS.md "Banner <-> server".
   First layer: a labelled region (title, short text, policy link, three equal buttons), texts from config.json.
   Second layer: a modal dialog (focus kept inside, Esc closes it granting nothing); its long texts,
   category descriptions and vendor lists come from vendors.json, fetched when it first opens. */
(() => {
  "use strict";
  var d = document, w = window;
  if (w.consentGateway) return;
  var me = d.currentScript || d.querySelector('script[src*="banner.js"]');
  var base = new URL("./", me.src);
  var CATS = ["necessary", "preferences", "analytics", "marketing"];
  var ID = "consent-banner";
  // Labels for a banner whose config.json did not arrive (it then still offers the choice, failing closed).
  var FALLBACK = { accept_all: "Accept all", reject_all: "Reject all", customize: "Customize", save: "Save", close: "Close" };

  var cfg = { categories: CATS.map(id => ({ id, title: id })), texts: FALLBACK };
  var state = { decided: false, categories: { necessary: true } };

  // Google Consent Mode v2: everything denied until the visitor decides, unless the gateway already
  // injected defaults from the verified cookie into the page.
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag != "function") w.gtag = function () { w.dataLayer.push(arguments); };
  if (!w.dataLayer.some(e => e[0] == "consent" && e[1] == "default")) {
    w.gtag("consent", "default", Object.assign(consentMode(), { security_storage: "denied", wait_for_update: 500 }));
  }
  var listeners = [], root, l1, l2, reopenBtn, prevFocus, opener, detailsReq, layer = 0, announced = false;
  var queue = Promise.resolve();

  var lang = ((me.getAttribute("data-lang") || d.documentElement.lang || "").toLowerCase().split("-")[0]).replace(/^kz$/, "kk");
  if (["ru", "kk", "en"].indexOf(lang) < 0) lang = "";

  function api(path, method, body) {
    var opt = { method: method || "GET", credentials: "include", headers: { Accept: "application/json" } };
    if (body) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
    return fetch(new URL(path, base), opt).then(r => {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";");
  }
  function t(k) { return esc(cfg.texts[k] || FALLBACK[k]); }
  function $(sel, el) { return (el || root).querySelector(sel); }
  function $$(sel, el) { return (el || root).querySelectorAll(sel); }
  function granted(c) { return c == "necessary" || !!(decided() && state.categories && state.categories[c]); }
  function decided() {
    return !!state.decided && !state.stale && (!cfg.policy_version || !state.policy_version || cfg.policy_version == state.policy_version);
  }
  function noop() {}

  // ---- activation of blocked elements ------------------------------------------------------------
  // Every attribute the gateway renamed to data-consent-<name> gets its name back (src, srcset, xlink:href,
  // data-src ...). A lazy-loading library may have passed the element by already: what it would have loaded
  // is loaded now.
  function swapAttrs(el) {
    var l = {}, u;
    [].slice.call(el.attributes).forEach(a => {
      var n = /^data-consent-(.+)/.exec(a.name), k;
      if (!n || (n = n[1]) == "activated") return;
      el.setAttribute(n == "xlink:href" ? "href" : n, a.value);
      el.removeAttribute(a.name);
      if (n != (k = n.replace(/^data-(lazy-)?/, ""))) l[k] = a.value;
    });
    u = l.src || l.original || l.lazy;
    if (u && "src" in el) { if (!/\/\//.test(el.getAttribute("src"))) el.src = u; } else l.bg = l.bg || u;
    if (l.srcset && !el.srcset) el.srcset = l.srcset;
    u = l.bg || l.background || l["background-image"];
    if (u && !el.style.backgroundImage) el.style.backgroundImage = /\(/.test(u) ? u : "url(" + u + ")";
    var media = el.tagName == "SOURCE" ? el.parentNode : el;
    if (media && typeof media.load == "function" && /^(VIDEO|AUDIO)$/.test(media.tagName)) media.load();
  }
  function runScript(old) {
    return new Promise(done => {
      var s = d.createElement("script");
      for (var i = 0; i < old.attributes.length; i++) {
        var a = old.attributes[i];
        if (!/^(type|data-consent-(src|type))$/.test(a.name)) s.setAttribute(a.name, a.value);
      }
      var type = old.getAttribute("data-consent-type"), src = old.getAttribute("data-consent-src");
      if (type) s.type = type;
      if (old.nonce) s.nonce = old.nonce;
      if (src) {
        s.async = false;
        s.onload = s.onerror = () => done();
        s.src = src;
      } else {
        s.text = old.text;
      }
      old.parentNode.replaceChild(s, old);
      if (!src) done();
    });
  }
  function restoreCss() {
    // The gateway turns a blocked url(...) in a <style> into url("data:,")/*consent-blocked:<cat>:<url>*/.
    d.querySelectorAll("style").forEach(st => {
      var css = st.textContent, out = css.replace(/url\("data:,"\)\/\*consent-blocked:(\w+):(.*?)\*\//g, (m, c, u) => {
        return granted(c) ? "url(" + JSON.stringify(u) + ")" : m;
      });
      if (out != css) st.textContent = out;
    });
  }
  function activate() {
    restoreCss();
    var items = [].filter.call(d.querySelectorAll("[data-consent-category]"), el => {
      return granted(el.getAttribute("data-consent-category")) && !el.closest("#" + ID);
    });
    items.forEach(el => {
      // Claim each element at once so a second activation never runs it twice.
      var cat = el.getAttribute("data-consent-category");
      el.removeAttribute("data-consent-category");
      el.setAttribute("data-consent-activated", cat);
    });
    // In document order; an external script finishes (load or error) before the next element starts.
    items.forEach(el => {
      queue = queue.then(() => {
        if (el.hasAttribute("data-consent-placeholder")) return el.remove();
        // A nomodule script never runs where the banner does (it would fire neither load nor error).
        if (el.tagName == "SCRIPT" && el.type == "text/plain") return el.noModule || runScript(el);
        swapAttrs(el);
      }).catch(noop);
    });
    return queue;
  }

  // ---- state changes -----------------------------------------------------------------------------
  function consentMode() {
    var g = c => granted(c) ? "granted" : "denied";
    return {
      ad_storage: g("marketing"), ad_user_data: g("marketing"), ad_personalization: g("marketing"),
      analytics_storage: g("analytics"), functionality_storage: g("preferences"),
      personalization_storage: g("preferences"), security_storage: "granted"
    };
  }
  function apply() {
    var cm = consentMode();
    w.gtag("consent", "update", cm);
    w.dataLayer.push({ event: "consent_update", consent: cm });
    var detail = getConsent();
    d.dispatchEvent(new CustomEvent("consent:change", { detail: detail }));
    listeners.forEach(fn => { try { fn(detail); } catch (e) { setTimeout(() => { throw e; }); } });
    activate();
    if (!d.querySelector("[data-consent-open]")) renderReopen();
  }
  function getConsent() {
    var c = {};
    CATS.forEach(k => { c[k] = granted(k); });
    return Object.assign({}, state, { decided: decided(), categories: c });
  }
  function choose(body) {
    body.lang = cfg.lang || lang || undefined;
    return ready.then(() => api("state", "PUT", body)).then(s => {
      state = s;
      if (!decided()) throw new Error("state not recorded");
      close();
      // The gateway's CSP for this page admits only what was granted when it was served: a wider choice
      // needs the page again to load what it now allows.
      var csp = me.getAttribute("data-consent-csp");
      if (csp != null && CATS.some(c => granted(c) && csp.split(" ").indexOf(c) < 0)) {
        return w.location.reload();
      }
      apply();
      return getConsent();
    }, e => {
      // Fail closed: nothing is activated unless the gateway recorded the choice.
      if (root) root.setAttribute("data-consent-error", "");
      throw e;
    });
  }
  function set(changes) {
    var cats = {};
    CATS.slice(1).forEach(c => { cats[c] = c in changes ? !!changes[c] : granted(c); });
    return choose({ categories: cats });
  }

  // ---- rendering ---------------------------------------------------------------------------------
  // A button's label is the text named like its action ("accept-all" -> texts.accept_all).
  function button(action) {
    return '<button type="button" class="cg-btn" data-consent-action="' + action + '">' + t(action.replace("-", "_")) + "</button>";
  }
  function link(href, text) { return '<a href="' + esc(href) + '" target="_blank" rel="noopener">' + text + "</a>"; }
  function vendorList(vs) {
    if (!vs || !vs.length) return "";
    var items = vs.map(v => {
      return "<li>" + (v.policy_url ? link(v.policy_url, esc(v.name)) : esc(v.name)) + (v.purpose ? " — " + esc(v.purpose) : "") + "</li>";
    }).join("");
    return '<details class="cg-v"><summary>' + vs.map(v => esc(v.name)).join(", ") + "</summary><ul>" + items + "</ul></details>";
  }
  // An empty ?lang= lets the gateway choose from Accept-Language.
  // The long texts, category descriptions and vendor lists come from vendors.json, fetched the first time
  // the settings open. If that fails the settings work without them (nothing is granted by a failure) and
  // the next opening tries again.
  function loadDetails() {
    var l = cfg.lang || lang;
    detailsReq = detailsReq || api("vendors.json?lang=" + l).then(v => {
      // The cookie declaration's link (its address on the gateway, its text in the visitor's language).
      $("#cg-d2").innerHTML = esc(v.details) + (v.declaration_url ? " " + link(new URL(v.declaration_url, base), esc(v.declaration_link)) : "");
      $$(".cg-cat").forEach(box => {
        var c = $("input", box).getAttribute("data-consent-category");
        $("p", box).textContent = (v.descriptions || {})[c] || "";
        box.insertAdjacentHTML("beforeend", vendorList(v.categories[c]));
      });
    }).catch(() => { detailsReq = null; });
  }
  function render() {
    if (root) return;
    root = d.createElement("div");
    root.id = ID;
    root.hidden = true;
    root.lang = cfg.lang || lang || "";
    var cats = cfg.categories.map(c => {
      var id = "cg-c-" + esc(c.id), req = c.id == "necessary";
      return '<div class="cg-cat"><div class="cg-row"><label for="' + id + '">' + esc(c.title) + "</label>" +
        (req ? '<span class="cg-on">' + t("always_on") + "</span>" : "") +
        '<input type="checkbox" role="switch" id="' + id + '" data-consent-category="' + esc(c.id) + '"' +
        ' aria-describedby="' + id + '-d"' + (req ? " checked disabled" : "") + '></div><p id="' + id + '-d"></p></div>';
    }).join("");
    root.innerHTML =
      '<section class="cg-l1" tabindex="-1" aria-labelledby="cg-t1" aria-describedby="cg-d1"><h2 id="cg-t1">' + t("title") +
      '</h2><div class="cg-s"><p id="cg-d1">' + t("body") + "</p></div>" +
      (cfg.policy_url ? '<p class="cg-p">' + link(cfg.policy_url, t("policy_link")) + "</p>" : "") +
      '<div class="cg-btns">' + button("accept-all") + button("reject-all") +
      button("customize") + "</div></section>" +
      '<div class="cg-l2" tabindex="-1" role="dialog" aria-modal="true" aria-labelledby="cg-t2" aria-describedby="cg-d2" hidden>' +
      '<h2 id="cg-t2">' + t("settings_title") + '</h2><div class="cg-s"><p id="cg-d2"></p>' + cats + "</div>" +
      '<div class="cg-btns">' + button("save") + button("accept-all") +
      button("reject-all") + button("close") + "</div></div>";
    l1 = root.firstChild;
    l2 = root.lastChild;
    root.addEventListener("click", onClick);
    root.addEventListener("keydown", onKey);
    // A modal dialog keeps focus: a click or script that moves it to the page brings it back.
    d.addEventListener("focusin", e => { if (layer == 2 && !l2.contains(e.target)) l2.focus(); });
    d.body.appendChild(root);
  }
  function onKey(e) {
    if (layer != 2) return;
    if (e.key == "Escape") { e.preventDefault(); closeSettings(); }
    if (e.key != "Tab") return;
    var f = [].filter.call($$("a[href],button,input:not([disabled]),summary", l2), el => el.getClientRects().length);
    var first = f[0], last = f[f.length - 1], at = d.activeElement;
    if (e.shiftKey ? at == first || at == l2 : at == last) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
  }
  function renderReopen() {
    if (reopenBtn) return;
    reopenBtn = d.createElement("button");
    reopenBtn.type = "button";
    reopenBtn.id = "consent-reopen";
    reopenBtn.textContent = cfg.texts.reopen || FALLBACK.reopen;
    reopenBtn.onclick = () => show();
    d.body.appendChild(reopenBtn);
  }
  function onClick(e) {
    var b = e.target.closest("[data-consent-action]");
    if (!b) return;
    var a = b.getAttribute("data-consent-action");
    if (/-all$/.test(a)) choose({ action: a.replace("-", "_") }).catch(noop);  // accept_all, reject_all
    else if (a == "customize") open(2);
    else if (a == "close") closeSettings();
    else if (a == "save") {
      var ch = {};
      $$("input[data-consent-category]").forEach(i => { ch[i.getAttribute("data-consent-category")] = i.checked; });
      set(ch).catch(noop);
    }
  }
  function open(n) {
    render();
    if (!layer) prevFocus = d.activeElement;
    if (n == 2 && layer != 2) opener = d.activeElement;
    layer = n;
    l1.hidden = n != 1;
    l2.hidden = n != 2;
    root.className = n == 2 ? "cg-modal" : "";
    if (n == 2) {
      loadDetails();
      // Never pre-ticked: a box is checked only when the saved, current consent grants it.
      $$("input:not([disabled])").forEach(i => { i.checked = granted(i.getAttribute("data-consent-category")); });
    }
    root.hidden = false;
    if (reopenBtn) reopenBtn.hidden = true;
    (n == 2 ? l2 : l1).focus({ preventScroll: true });
    if (n == 1 && !announced) {
      announced = true;
      api("events", "POST", { event: "shown", lang: cfg.lang || lang }).catch(noop);
    }
  }
  function closeSettings() {
    // Closing the settings never grants anything: back to the first layer while undecided, and focus goes
    // back to what opened them.
    var o = opener;
    if (decided()) close(); else open(1);
    if (o && o.focus && o != d.body && d.contains(o) && o.getClientRects().length) o.focus({ preventScroll: true });
  }
  function close() {
    if (!root || root.hidden) return;
    root.hidden = true;
    layer = 0;
    if (reopenBtn) reopenBtn.hidden = false;
    if (prevFocus && prevFocus.focus && d.contains(prevFocus) && prevFocus != d.body) prevFocus.focus({ preventScroll: true });
    prevFocus = null;
  }
  function show() { return ready.then(() => cssReady).then(() => open(2)); }

  d.addEventListener("click", e => {
    var el = e.target.closest && e.target.closest("[data-consent-open],[data-consent-load]");
    if (!el) return;
    e.preventDefault();
    if (el.hasAttribute("data-consent-open")) return show();
    var ph = el.closest("[data-consent-placeholder]");
    var cat = ph && ph.getAttribute("data-consent-category") || el.getAttribute("data-consent-category");
    if (cat) { var ch = {}; ch[cat] = true; set(ch).catch(noop); }
  });

  // ---- start -------------------------------------------------------------------------------------
  var css = d.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("banner.css", base);
  var cssReady = new Promise(r => { css.onload = css.onerror = r; setTimeout(r, 3000); });
  d.head.appendChild(css);
  var domReady = new Promise(r => {
    if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", r); else r();
  });
  var ok = true;
  var ready = Promise.all([
    api("config.json?lang=" + lang).then(c => { cfg = c; }),
    api("state").then(s => { state = s; })
  ]).catch(() => { ok = false; state = { decided: false, categories: { necessary: true } }; })
    .then(() => domReady);

  ready.then(() => {
    if (ok && decided()) return apply();
    return cssReady.then(() => open(1));
  });

  w.consentGateway = {
    getConsent,
    acceptAll: () => choose({ action: "accept_all" }),
    rejectAll: () => choose({ action: "reject_all" }),
    set,
    show,
    on(ev, fn) { if (ev == "change") listeners.push(fn); }
  };
})();
