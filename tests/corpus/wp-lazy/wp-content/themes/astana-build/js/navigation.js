/* Theme navigation (underscores): the menu toggle. */
( function() {
	const button = document.querySelector( '.menu-toggle' );
	if ( ! button ) { return; }
	button.addEventListener( 'click', function() {
		document.getElementById( 'site-navigation' ).classList.toggle( 'toggled' );
	} );
	document.documentElement.setAttribute( 'data-nav', 'ready' );
}() );
