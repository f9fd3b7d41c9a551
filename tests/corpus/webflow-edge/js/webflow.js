/* Webflow's runtime, reduced to what the page shows: the nav is interactive once it ran. */
document.documentElement.setAttribute('data-wf-ready', 'yes');
