/* The demo page's own script (not part of the widget): the language links
 * set the widget's data-lang override. It runs before the deferred widget
 * script because it comes first in the document. */
(function () {
  'use strict';
  var lang = new URLSearchParams(window.location.search).get('lang');
  var chat = document.getElementById('autoassist-chat');
  var links = document.querySelectorAll('.langs a');
  var current = lang || 'en';
  for (var i = 0; i < links.length; i++)
    if (links[i].getAttribute('hreflang') === current) links[i].setAttribute('aria-current', 'true');
  if (lang && chat) chat.setAttribute('data-lang', lang);
})();
