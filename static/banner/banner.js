(()=>{"use strict";var d=document,w=window;if(w.consentGateway)return;var me=d.currentScript||d.querySelector('script[src*="banner.js"]');var Q0=new URL("./",me.src);var Y=["necessary","preferences","analytics","marketing"];var ID="consent-banner";var R={accept_all:"Accept all",reject_all:"Reject all",customize:"Customize",save:"Save",close:"Close"};var L={categories:Y.map(id=>({id,title:id})),texts:R};var P={decided:false,categories:{necessary:true}};w.dataLayer=w.dataLayer||[];if(typeof w.gtag!="function")w.gtag=function(){w.dataLayer.push(arguments);};if(!w.dataLayer.some(e=>e[0]=="consent"&&e[1]=="default")){w.gtag("consent","default",Object.assign(V(),{security_storage:"denied",wait_for_update:500}));}
var M=[],C,l1,l2,B,D,D0,H,K=0,N=false;var Z=Promise.resolve();var R0=((me.getAttribute("data-lang")||d.documentElement.lang||"").toLowerCase().split("-")[0]).replace(/^kz$/,"kk");if(["ru","kk","en"].indexOf(R0)<0)R0="";function E0(path,method,body){var opt={method:method||"GET",credentials:"include",headers:{Accept:"application/json"}};if(body){opt.headers["Content-Type"]="application/json";opt.body=JSON.stringify(body);}
return fetch(new URL(path,Q0),opt).then(r=>{if(!r.ok)throw new Error(path+": HTTP "+r.status);return r.json();});}
function O(s){return String(s==null?"":s).replace(/[&<>"']/g,c=>"&#"+c.charCodeAt(0)+";");}
function t(k){return O(L.texts[k]||R[k]);}
function $(sel,el){return(el||C).querySelector(sel);}
function $$(sel,el){return(el||C).querySelectorAll(sel);}
function F(c){return c=="necessary"||!!(E()&&P.categories&&P.categories[c]);}
function E(){return!!P.decided&&!P.stale&&(!L.policy_version||!P.policy_version||L.policy_version==P.policy_version);}
function S(){}
function I0(el){var l={},u;[].slice.call(el.attributes).forEach(a=>{var n=/^data-consent-(.+)/.exec(a.name),k;if(!n||(n=n[1])=="activated")return;el.setAttribute(n=="xlink:href"?"href":n,a.value);el.removeAttribute(a.name);if(n!=(k=n.replace(/^data-(lazy-)?/,"")))l[k]=a.value;});u=l.src||l.original||l.lazy;if(u&&"src" in el){if(!/\/\//.test(el.getAttribute("src")))el.src=u;}else l.bg=l.bg||u;if(l.srcset&&!el.srcset)el.srcset=l.srcset;u=l.bg||l.background||l["background-image"];if(u&&!el.style.backgroundImage)el.style.backgroundImage=/\(/.test(u)?u:"url("+u+")";var P0=el.tagName=="SOURCE"?el.parentNode:el;if(P0&&typeof P0.load=="function"&&/^(VIDEO|AUDIO)$/.test(P0.tagName))P0.load();}
function J0(old){return new Promise(done=>{var s=d.createElement("script");for(var i=0;i<old.attributes.length;i++){var a=old.attributes[i];if(!/^(type|data-consent-(src|type))$/.test(a.name))s.setAttribute(a.name,a.value);}
var type=old.getAttribute("data-consent-type"),src=old.getAttribute("data-consent-src");if(type)s.type=type;if(old.nonce)s.nonce=old.nonce;if(src){s.async=false;s.onload=s.onerror=()=>done();s.src=src;}else{s.text=old.text;}
old.parentNode.replaceChild(s,old);if(!src)done();});}
function K0(){d.querySelectorAll("style").forEach(st=>{var css=st.textContent,out=css.replace(/url\("data:,"\)\/\*consent-blocked:(\w+):(.*?)\*\//g,(m,c,u)=>{return F(c)?"url("+JSON.stringify(u)+")":m;});if(out!=css)st.textContent=out;});}
function F0(){K0();var Q=[].filter.call(d.querySelectorAll("[data-consent-category]"),el=>{return F(el.getAttribute("data-consent-category"))&&!el.closest("#"+ID);});Q.forEach(el=>{var cat=el.getAttribute("data-consent-category");el.removeAttribute("data-consent-category");el.setAttribute("data-consent-activated",cat);});Q.forEach(el=>{Z=Z.then(()=>{if(el.hasAttribute("data-consent-placeholder"))return el.remove();if(el.tagName=="SCRIPT"&&el.type=="text/plain")return el.noModule||J0(el);I0(el);}).catch(S);});return Z;}
function V(){var g=c=>F(c)?"granted":"denied";return{ad_storage:g("marketing"),ad_user_data:g("marketing"),ad_personalization:g("marketing"),analytics_storage:g("analytics"),functionality_storage:g("preferences"),personalization_storage:g("preferences"),security_storage:"granted"
};}
function H0(){var cm=V();w.gtag("consent","update",cm);w.dataLayer.push({event:"consent_update",consent:cm});var detail=getConsent();d.dispatchEvent(new CustomEvent("consent:change",{detail:detail}));M.forEach(fn=>{try{fn(detail);}catch(e){setTimeout(()=>{throw e;});}});F0();if(!d.querySelector("[data-consent-open]"))T();}
function getConsent(){var c={};Y.forEach(k=>{c[k]=F(k);});return Object.assign({},P,{decided:E(),categories:c});}
function J(body){body.lang=L.lang||R0||undefined;return A0.then(()=>E0("state","PUT",body)).then(s=>{P=s;if(!E())throw new Error("state not recorded");S0();var csp=me.getAttribute("data-consent-csp");if(csp!=null&&Y.some(c=>F(c)&&csp.split(" ").indexOf(c)<0)){return w.location.reload();}
H0();return getConsent();},e=>{if(C)C.setAttribute("data-consent-error","");throw e;});}
function set(X){var B0={};Y.slice(1).forEach(c=>{B0[c]=c in X?!!X[c]:F(c);});return J({categories:B0});}
function G(action){return '<button type="button" class="cg-btn" data-consent-action="'+action+'">'+t(action.replace("-","_"))+"</button>";}
function O0(href,text){return '<a href="'+O(href)+'" target="_blank" rel="noopener">'+text+"</a>";}
function C0(vs){if(!vs||!vs.length)return "";var Q=vs.map(v=>{return "<li>"+(v.policy_url?O0(v.policy_url,O(v.name)):O(v.name))+(v.purpose?" — "+O(v.purpose):"")+"</li>";}).join("");return '<details class="cg-v"><summary>'+vs.map(v=>O(v.name)).join(", ")+"</summary><ul>"+Q+"</ul></details>";}
function W(){var l=L.lang||R0;H=H||E0("vendors.json?lang="+l).then(v=>{$("#cg-d2").innerHTML=O(v.details)+(v.declaration_url?" "+O0(new URL(v.declaration_url,Q0),O(v.declaration_link)):"");$$(".cg-cat").forEach(box=>{var c=$("input",box).getAttribute("data-consent-category");$("p",box).textContent=(v.descriptions||{})[c]||"";box.insertAdjacentHTML("beforeend",C0(v.categories[c]));});}).catch(()=>{H=null;});}
function L0(){if(C)return;C=d.createElement("div");C.id=ID;C.hidden=true;C.lang=L.lang||R0||"";var B0=L.categories.map(c=>{var id="cg-c-"+O(c.id),req=c.id=="necessary";return '<div class="cg-cat"><div class="cg-row"><label for="'+id+'">'+O(c.title)+"</label>"+
(req?'<span class="cg-on">'+t("always_on")+"</span>":"")+
'<input type="checkbox" role="switch" id="'+id+'" data-consent-category="'+O(c.id)+'"'+
' aria-describedby="'+id+'-d"'+(req?" checked disabled":"")+'></div><p id="'+id+'-d"></p></div>';}).join("");C.innerHTML=
'<section class="cg-l1" tabindex="-1" aria-labelledby="cg-t1" aria-describedby="cg-d1"><h2 id="cg-t1">'+t("title")+
'</h2><div class="cg-s"><p id="cg-d1">'+t("body")+"</p></div>"+
(L.policy_url?'<p class="cg-p">'+O0(L.policy_url,t("policy_link"))+"</p>":"")+
'<div class="cg-btns">'+G("accept-all")+G("reject-all")+
G("customize")+"</div></section>"+
'<div class="cg-l2" tabindex="-1" role="dialog" aria-modal="true" aria-labelledby="cg-t2" aria-describedby="cg-d2" hidden>'+
'<h2 id="cg-t2">'+t("settings_title")+'</h2><div class="cg-s"><p id="cg-d2"></p>'+B0+"</div>"+
'<div class="cg-btns">'+G("save")+G("accept-all")+
G("reject-all")+G("close")+"</div></div>";l1=C.firstChild;l2=C.lastChild;C.addEventListener("click",N0);C.addEventListener("keydown",M0);d.addEventListener("focusin",e=>{if(K==2&&!l2.contains(e.target))l2.focus();});d.body.appendChild(C);}
function M0(e){if(K!=2)return;if(e.key=="Escape"){e.preventDefault();I();}
if(e.key!="Tab")return;var f=[].filter.call($$("a[href],button,input:not([disabled]),summary",l2),el=>el.getClientRects().length);var first=f[0],last=f[f.length-1],at=d.activeElement;if(e.shiftKey?at==first||at==l2:at==last){e.preventDefault();(e.shiftKey?last:first).focus();}
}
function T(){if(B)return;B=d.createElement("button");B.type="button";B.id="consent-reopen";B.textContent=L.texts.reopen||R.reopen;B.onclick=()=>show();d.body.appendChild(B);}
function N0(e){var b=e.target.closest("[data-consent-action]");if(!b)return;var a=b.getAttribute("data-consent-action");if(/-all$/.test(a))J({action:a.replace("-","_")}).catch(S);else if(a=="customize")T0(2);else if(a=="close")I();else if(a=="save"){var ch={};$$("input[data-consent-category]").forEach(i=>{ch[i.getAttribute("data-consent-category")]=i.checked;});set(ch).catch(S);}
}
function T0(n){L0();if(!K)D=d.activeElement;if(n==2&&K!=2)D0=d.activeElement;K=n;l1.hidden=n!=1;l2.hidden=n!=2;C.className=n==2?"cg-modal":"";if(n==2){W();$$("input:not([disabled])").forEach(i=>{i.checked=F(i.getAttribute("data-consent-category"));});}
C.hidden=false;if(B)B.hidden=true;(n==2?l2:l1).focus({preventScroll:true});if(n==1&&!N){N=true;E0("events","POST",{event:"shown",lang:L.lang||R0}).catch(S);}
}
function I(){var o=D0;if(E())S0();else T0(1);if(o&&o.focus&&o!=d.body&&d.contains(o)&&o.getClientRects().length)o.focus({preventScroll:true});}
function S0(){if(!C||C.hidden)return;C.hidden=true;K=0;if(B)B.hidden=false;if(D&&D.focus&&d.contains(D)&&D!=d.body)D.focus({preventScroll:true});D=null;}
function show(){return A0.then(()=>U).then(()=>T0(2));}
d.addEventListener("click",e=>{var el=e.target.closest&&e.target.closest("[data-consent-open],[data-consent-load]");if(!el)return;e.preventDefault();if(el.hasAttribute("data-consent-open"))return show();var ph=el.closest("[data-consent-placeholder]");var cat=ph&&ph.getAttribute("data-consent-category")||el.getAttribute("data-consent-category");if(cat){var ch={};ch[cat]=true;set(ch).catch(S);}
});var css=d.createElement("link");css.rel="stylesheet";css.href=new URL("banner.css",Q0);var U=new Promise(r=>{css.onload=css.onerror=r;setTimeout(r,3000);});d.head.appendChild(css);var G0=new Promise(r=>{if(d.readyState=="loading")d.addEventListener("DOMContentLoaded",r);else r();});var ok=true;var A0=Promise.all([
E0("config.json?lang="+R0).then(c=>{L=c;}),E0("state").then(s=>{P=s;})
]).catch(()=>{ok=false;P={decided:false,categories:{necessary:true}};})
.then(()=>G0);A0.then(()=>{if(ok&&E())return H0();return U.then(()=>T0(1));});w.consentGateway={getConsent,acceptAll:()=>J({action:"accept_all"}),rejectAll:()=>J({action:"reject_all"}),set,show,on(ev,fn){if(ev=="change")M.push(fn);}
};})();
