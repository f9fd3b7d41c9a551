/* any other vendor script: it ran; nothing else is needed of it */
window.__thirdPartyScripts = (window.__thirdPartyScripts || 0) + 1;
