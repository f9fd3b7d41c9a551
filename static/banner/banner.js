/* Consent gateway banner: plain ES2017, no dependencies, no build step.
   Contract: DESIGN.md "Banner contract" and docs/INTERNALS.md "Banner <-> server". */
(function () {
  "use strict";
  var d = document, w = window;
  if (w.consentGateway) return;
  var me = d.currentScript || d.querySelector('script[src*="banner.js"]');
  var base = new URL("./", me.src);
  var CATS = ["necessary", "preferences", "analytics", "marketing"];
  var DENIED = "denied", GRANTED = "granted";
  var ID = "consent-banner";
  var FALLBACK = {
    title: "Cookies", body: "", policy_link: "", accept_all: "Accept all", reject_all: "Reject all",
    customize: "Customize", save: "Save", close: "Close", settings_title: "Cookie settings",
    always_on: "Always on", reopen: "Cookie settings"
  };

  // Google Consent Mode v2: everything denied until the visitor decides, unless the gateway already
  // injected defaults from the verified cookie into the page.
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag != "function") w.gtag = function () { w.dataLayer.push(arguments); };
  if (!w.dataLayer.some(function (e) { return e[0] == "consent" && e[1] == "default"; })) w.gtag("consent", "default", {
    ad_storage: DENIED, ad_user_data: DENIED, ad_personalization: DENIED, analytics_storage: DENIED,
    functionality_storage: DENIED, personalization_storage: DENIED, security_storage: DENIED,
    wait_for_update: 500
  });

  var cfg = { categories: CATS.map(function (id) { return { id: id, title: id, required: id == "necessary" }; }), texts: FALLBACK };
  var state = { decided: false, categories: { necessary: true } };
  var listeners = [], root, reopenBtn, prevFocus, vendorsReq, layer = 0, announced = false;
  var queue = Promise.resolve();

  var lang = ((me.getAttribute("data-lang") || d.documentElement.lang || "").toLowerCase().split("-")[0]).replace(/^kz$/, "kk");
  if (["ru", "kk", "en"].indexOf(lang) < 0) lang = "";

  function api(path, method, body) {
    var opt = { method: method || "GET", credentials: "include", headers: { Accept: "application/json" } };
    if (body) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
    return fetch(new URL(path, base), opt).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function t(k) { return cfg.texts[k] || FALLBACK[k] || ""; }
  function granted(c) { return c == "necessary" || !!(decided() && state.categories && state.categories[c]); }
  function decided() {
    return !!state.decided && !state.stale && (!cfg.policy_version || !state.policy_version || cfg.policy_version == state.policy_version);
  }

  // ---- activation of blocked elements ------------------------------------------------------------
  function swapAttrs(el) {
    ["src", "srcset", "href", "poster", "data", "style"].forEach(function (a) {
      var v = el.getAttribute("data-consent-" + a);
      if (v != null) { el.setAttribute(a, v); el.removeAttribute("data-consent-" + a); }
    });
    var media = el.tagName == "SOURCE" ? el.parentNode : el;
    if (media && typeof media.load == "function" && /^(VIDEO|AUDIO)$/.test(media.tagName)) media.load();
  }
  function runScript(old) {
    return new Promise(function (done) {
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
        s.onload = s.onerror = function () { done(); };
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
    d.querySelectorAll("style").forEach(function (st) {
      var css = st.textContent, out = css.replace(/url\("data:,"\)\/\*consent-blocked:(\w+):(.*?)\*\//g, function (m, c, u) {
        return granted(c) ? "url(" + JSON.stringify(u) + ")" : m;
      });
      if (out != css) st.textContent = out;
    });
  }
  function activate() {
    restoreCss();
    var items = [].filter.call(d.querySelectorAll("[data-consent-category]"), function (el) {
      return granted(el.getAttribute("data-consent-category")) && !el.closest("#" + ID);
    });
    items.forEach(function (el) {
      // Claim each element at once so a second activation never runs it twice.
      var cat = el.getAttribute("data-consent-category");
      el.removeAttribute("data-consent-category");
      el.setAttribute("data-consent-activated", cat);
    });
    // In document order; an external script finishes (load or error) before the next element starts.
    items.forEach(function (el) {
      queue = queue.then(function () {
        if (el.hasAttribute("data-consent-placeholder")) return el.remove();
        if (el.tagName == "SCRIPT" && el.type == "text/plain") return runScript(el);
        swapAttrs(el);
      }).catch(noop);
    });
    return queue;
  }

  // ---- state changes -----------------------------------------------------------------------------
  function consentMode() {
    var g = function (c) { return granted(c) ? GRANTED : DENIED; };
    return {
      ad_storage: g("marketing"), ad_user_data: g("marketing"), ad_personalization: g("marketing"),
      analytics_storage: g("analytics"), functionality_storage: g("preferences"),
      personalization_storage: g("preferences"), security_storage: GRANTED
    };
  }
  function apply() {
    var cm = consentMode();
    w.gtag("consent", "update", cm);
    w.dataLayer.push({ event: "consent_update", consent: cm });
    var detail = getConsent();
    d.dispatchEvent(new CustomEvent("consent:change", { detail: detail }));
    listeners.forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
    activate();
    if (!d.querySelector("[data-consent-open]")) renderReopen();
  }
  function getConsent() {
    var c = {};
    CATS.forEach(function (k) { c[k] = granted(k); });
    return Object.assign({}, state, { decided: decided(), categories: c });
  }
  function choose(body) {
    body.lang = cfg.lang || lang || undefined;
    body.texts_hash = cfg.texts_hash;
    return ready.then(function () { return api("state", "PUT", body); }).then(function (s) {
      state = s;
      if (!decided()) throw new Error("state not recorded");
      close();
      // The gateway's CSP for this page admits only what was granted when it was served: a wider choice
      // needs the page again to load what it now allows.
      var csp = me.getAttribute("data-consent-csp");
      if (csp != null && CATS.some(function (c) { return granted(c) && csp.split(" ").indexOf(c) < 0; })) {
        return w.location.reload();
      }
      apply();
      return getConsent();
    }, function (e) {
      // Fail closed: nothing is activated unless the gateway recorded the choice.
      if (root) root.setAttribute("data-consent-error", "");
      throw e;
    });
  }
  function set(changes) {
    var cats = {};
    CATS.slice(1).forEach(function (c) { cats[c] = c in changes ? !!changes[c] : granted(c); });
    return choose({ categories: cats });
  }

  // ---- rendering ---------------------------------------------------------------------------------
  function button(action, label) {
    return '<button type="button" class="cg-btn" data-consent-action="' + action + '">' + esc(label) + "</button>";
  }
  function vendorList(vs) {
    if (!vs || !vs.length) return "";
    var items = vs.map(function (v) {
      var name = v.policy_url
        ? '<a href="' + esc(v.policy_url) + '" target="_blank" rel="noopener">' + esc(v.name) + "</a>" : esc(v.name);
      return "<li>" + name + (v.purpose ? " — " + esc(v.purpose) : "") + "</li>";
    }).join("");
    var names = vs.map(function (v) { return esc(v.name); }).join(", ");
    return '<details class="cg-v"><summary>' + names + "</summary><ul>" + items + "</ul></details>";
  }
  // The vendor lists come from vendors.json, fetched the first time the settings open. If that fails the
  // settings work without them (nothing is granted by a failure) and the next opening tries again.
  function loadVendors() {
    var l = cfg.lang || lang;
    vendorsReq = vendorsReq || api("vendors.json" + (l ? "?lang=" + l : "")).then(function (v) {
      root.querySelectorAll(".cg-cat").forEach(function (box) {
        var i = box.querySelector("input[data-consent-category]");
        if (!i || box.querySelector(".cg-v")) return;
        box.insertAdjacentHTML("beforeend", vendorList(v.categories[i.getAttribute("data-consent-category")]));
      });
    }).catch(function () { vendorsReq = null; });
  }
  function render() {
    if (root) return;
    root = d.createElement("div");
    root.id = ID;
    root.hidden = true;
    root.tabIndex = -1;
    root.setAttribute("role", "dialog");
    root.setAttribute("aria-modal", "false");
    root.lang = cfg.lang || lang || "";
    var policy = cfg.policy_url
      ? ' <a href="' + esc(cfg.policy_url) + '" target="_blank" rel="noopener">' + esc(t("policy_link")) + "</a>" : "";
    var cats = cfg.categories.map(function (c) {
      var id = "cg-c-" + esc(c.id), req = c.required || c.id == "necessary";
      return '<div class="cg-cat"><div class="cg-row"><label for="' + id + '">' + esc(c.title) + "</label>" +
        (req ? '<span class="cg-on">' + esc(t("always_on")) + "</span>" : "") +
        '<input type="checkbox" role="switch" id="' + id + '" data-consent-category="' + esc(c.id) + '"' +
        ' aria-describedby="' + id + '-d"' + (req ? " checked disabled" : "") + "></div>" +
        '<p id="' + id + '-d">' + esc(c.description) + "</p>" + vendorList(c.vendors) + "</div>";
    }).join("");
    root.innerHTML =
      '<div class="cg-l1"><h2 id="cg-t1">' + esc(t("title")) + '</h2><p id="cg-d1">' + esc(t("body")) + policy + "</p>" +
      '<div class="cg-btns">' + button("accept-all", t("accept_all")) + button("reject-all", t("reject_all")) +
      button("customize", t("customize")) + "</div></div>" +
      '<div class="cg-l2" hidden><h2 id="cg-t2">' + esc(t("settings_title")) + '</h2><div id="cg-d2">' + cats + "</div>" +
      '<div class="cg-btns">' + button("save", t("save")) + button("accept-all", t("accept_all")) +
      button("reject-all", t("reject_all")) + button("close", t("close")) + "</div></div>";
    root.addEventListener("click", onClick);
    root.addEventListener("keydown", function (e) {
      if (e.key == "Escape" && layer == 2) { e.preventDefault(); closeSettings(); }
    });
    d.body.appendChild(root);
  }
  function renderReopen() {
    if (reopenBtn) return;
    reopenBtn = d.createElement("button");
    reopenBtn.type = "button";
    reopenBtn.id = "consent-reopen";
    reopenBtn.textContent = t("reopen");
    reopenBtn.onclick = function () { show(); };
    d.body.appendChild(reopenBtn);
  }
  function onClick(e) {
    var b = e.target.closest("[data-consent-action]");
    if (!b) return;
    var a = b.getAttribute("data-consent-action");
    if (a == "accept-all") choose({ action: "accept_all" }).catch(noop);
    else if (a == "reject-all") choose({ action: "reject_all" }).catch(noop);
    else if (a == "customize") open(2);
    else if (a == "close") closeSettings();
    else if (a == "save") {
      var ch = {};
      root.querySelectorAll("input[data-consent-category]").forEach(function (i) {
        ch[i.getAttribute("data-consent-category")] = i.checked;
      });
      set(ch).catch(noop);
    }
  }
  function noop() {}
  function open(n) {
    render();
    var was = layer;
    layer = n;
    if (!was) prevFocus = d.activeElement;
    root.querySelector(".cg-l1").hidden = n != 1;
    root.querySelector(".cg-l2").hidden = n != 2;
    root.setAttribute("aria-labelledby", "cg-t" + n);
    root.setAttribute("aria-describedby", "cg-d" + n);
    if (n == 2) {
      loadVendors();
      // Never pre-ticked: a box is checked only when the saved, current consent grants it.
      root.querySelectorAll("input[data-consent-category]:not([disabled])").forEach(function (i) {
        i.checked = granted(i.getAttribute("data-consent-category"));
      });
    }
    root.hidden = false;
    if (reopenBtn) reopenBtn.hidden = true;
    root.focus({ preventScroll: true });
    if (n == 1 && !announced) {
      announced = true;
      api("events", "POST", { event: "shown", lang: cfg.lang || lang }).catch(noop);
    }
  }
  function closeSettings() {
    // Closing the settings never grants anything: back to the first layer while undecided.
    if (decided()) close(); else open(1);
  }
  function close() {
    if (!root || root.hidden) return;
    root.hidden = true;
    layer = 0;
    if (reopenBtn) reopenBtn.hidden = false;
    if (prevFocus && prevFocus.focus && d.contains(prevFocus) && prevFocus != d.body) prevFocus.focus({ preventScroll: true });
    prevFocus = null;
  }
  function show() { return ready.then(function () { return cssReady; }).then(function () { open(2); }); }

  d.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-consent-open], [data-consent-load]");
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
  var cssReady = new Promise(function (r) { css.onload = css.onerror = r; setTimeout(r, 3000); });
  d.head.appendChild(css);
  var domReady = new Promise(function (r) {
    if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", r); else r();
  });
  var ok = true;
  var ready = Promise.all([
    api("config.json" + (lang ? "?lang=" + lang : "")).then(function (c) { cfg = c; }),
    api("state").then(function (s) { state = s; })
  ]).catch(function () { ok = false; state = { decided: false, categories: { necessary: true } }; })
    .then(function () { return domReady; });

  ready.then(function () {
    if (ok && decided()) return apply();
    return cssReady.then(function () { open(1); });
  });

  w.consentGateway = {
    getConsent: getConsent,
    acceptAll: function () { return choose({ action: "accept_all" }); },
    rejectAll: function () { return choose({ action: "reject_all" }); },
    set: set,
    show: show,
    on: function (ev, fn) { if (ev == "change") listeners.push(fn); }
  };
})();
