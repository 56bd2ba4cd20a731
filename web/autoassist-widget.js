/* autoassist chat widget.
 *
 * Embedding: one script tag and one element.
 *
 *   <script src="https://chat.example.com/autoassist-widget.js" defer></script>
 *   <div id="autoassist-chat" data-endpoint="/ws" data-lang="" data-title="Moving help"></div>
 *
 *   data-endpoint  the WebSocket endpoint; relative to the script's URL
 *                  (default "/ws"); http(s) URLs become ws(s)
 *   data-lang      en, nb, sv, de or nl: overrides the language, which is
 *                  otherwise the page's <html lang>, then the browser's
 *   data-title     the panel's heading (default: a localized "Moving help")
 *
 * Plain JavaScript, no dependencies, no build step. The stylesheet
 * autoassist-widget.css, next to this script, is linked by the script. Text
 * from the customer and the assistant is only ever set with textContent. */
(function () {
  'use strict';

  var MAX_TEXT_BYTES = 3500;     /* the server refuses frames over 4096 bytes */
  var MAX_FRAME_BYTES = 4000;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var CONNECT_TIMEOUT_MS = 10000; /* to open the socket and get the welcome */
  var SILENCE_TIMEOUT_MS = 15000; /* a message out and no frame at all: the link is dead */
  var SEND_SPACING_MS = 250;      /* the server allows 5 messages/s */
  var TRANSCRIPT_MAX = 100;       /* items kept in sessionStorage */
  var STORE_KEY = 'autoassist:chat';

  /* Every string the widget itself shows, in each language it speaks.
   * chips: [label, text sent]; each text is classified by the server as
   * contract_start_date, address_update, pulse_relocation, payment_method. */
  var STRINGS = {
    en: {
      launcher: 'Chat with us',
      title: 'Moving help',
      close: 'Close chat',
      conversation: 'Conversation',
      statusConnecting: 'Connecting…',
      statusOnline: 'Online',
      statusOffline: 'Offline – reconnecting…',
      offlineBanner: 'You are offline. What you write now is sent as soon as the connection is back.',
      reconnected: 'Connection restored.',
      newConversation: 'The connection is back, but the earlier conversation could not be continued. Please repeat details such as your move-in date if I ask for them.',
      inputLabel: 'Your message',
      placeholder: 'Type your question…',
      send: 'Send',
      hintEmpty: 'Please type a message first.',
      hintTooLong: 'This message is too long. Please shorten it or send it in parts.',
      chipsLabel: 'Common questions',
      you: 'You',
      assistant: 'Assistant',
      typing: 'The assistant is typing…',
      pending: 'Waiting to send…',
      notSent: 'Not sent',
      greeting: 'Hi! I can help with your move: when your contract at the new address starts, your new address and meter ID, moving your Tibber Pulse, and your payment method.',
      escalationTitle: 'Passed on to technical support',
      escalationTicket: 'Ticket reference:',
      escalationFailed: 'The technical part could not be passed on right now. Please try again shortly.',
      errorRateLimited: 'You are sending messages very quickly. Your message will be sent again in a moment.',
      errorMessage: 'That message could not be processed. Please try rephrasing it.',
      errorGeneric: 'Something went wrong. Please try again.',
      chips: [
        ['Contract start', 'When does my contract start?'],
        ['New address', 'I have a new address and meter ID'],
        ['Tibber Pulse', 'Can I take my Tibber Pulse with me?'],
        ['Payment method', 'Will my payment method change?']
      ]
    },
    nb: {
      launcher: 'Chat med oss',
      title: 'Hjelp med flytting',
      close: 'Lukk chatten',
      conversation: 'Samtale',
      statusConnecting: 'Kobler til…',
      statusOnline: 'Tilkoblet',
      statusOffline: 'Frakoblet – prøver igjen…',
      offlineBanner: 'Du er frakoblet. Det du skriver nå, sendes så snart forbindelsen er tilbake.',
      reconnected: 'Forbindelsen er gjenopprettet.',
      newConversation: 'Forbindelsen er tilbake, men den forrige samtalen kunne ikke fortsette. Gjenta gjerne opplysninger som innflyttingsdatoen hvis jeg spør om dem.',
      inputLabel: 'Meldingen din',
      placeholder: 'Skriv spørsmålet ditt…',
      send: 'Send',
      hintEmpty: 'Skriv en melding først.',
      hintTooLong: 'Meldingen er for lang. Gjør den kortere eller send den i flere deler.',
      chipsLabel: 'Vanlige spørsmål',
      you: 'Du',
      assistant: 'Assistent',
      typing: 'Assistenten skriver…',
      pending: 'Venter på å bli sendt…',
      notSent: 'Ikke sendt',
      greeting: 'Hei! Jeg kan hjelpe deg med flyttingen: når avtalen på den nye adressen starter, ny adresse og målepunkt-ID, flytting av Tibber Pulse og betalingsmåten din.',
      escalationTitle: 'Sendt videre til teknisk support',
      escalationTicket: 'Saksnummer:',
      escalationFailed: 'Den tekniske delen kunne ikke sendes videre akkurat nå. Prøv igjen om litt.',
      errorRateLimited: 'Du sender meldinger veldig raskt. Meldingen sendes på nytt om et øyeblikk.',
      errorMessage: 'Meldingen kunne ikke behandles. Prøv å formulere den på en annen måte.',
      errorGeneric: 'Noe gikk galt. Prøv igjen.',
      chips: [
        ['Avtalestart', 'Når starter avtalen min på ny adresse?'],
        ['Ny adresse', 'Jeg har ny adresse og måler-ID'],
        ['Tibber Pulse', 'Kan jeg ta med Tibber Pulse?'],
        ['Betalingsmåte', 'Endres betalingsmåten min?']
      ]
    },
    sv: {
      launcher: 'Chatta med oss',
      title: 'Hjälp med flytten',
      close: 'Stäng chatten',
      conversation: 'Konversation',
      statusConnecting: 'Ansluter…',
      statusOnline: 'Ansluten',
      statusOffline: 'Frånkopplad – försöker igen…',
      offlineBanner: 'Du är frånkopplad. Det du skriver nu skickas så snart anslutningen är tillbaka.',
      reconnected: 'Anslutningen är återställd.',
      newConversation: 'Anslutningen är tillbaka, men den tidigare konversationen kunde inte fortsätta. Upprepa gärna uppgifter som inflyttningsdatumet om jag frågar efter dem.',
      inputLabel: 'Ditt meddelande',
      placeholder: 'Skriv din fråga…',
      send: 'Skicka',
      hintEmpty: 'Skriv ett meddelande först.',
      hintTooLong: 'Meddelandet är för långt. Korta ner det eller skicka det i flera delar.',
      chipsLabel: 'Vanliga frågor',
      you: 'Du',
      assistant: 'Assistent',
      typing: 'Assistenten skriver…',
      pending: 'Väntar på att skickas…',
      notSent: 'Inte skickat',
      greeting: 'Hej! Jag kan hjälpa dig med flytten: när avtalet på den nya adressen börjar, ny adress och anläggnings-ID, flytt av Tibber Pulse och ditt betalningssätt.',
      escalationTitle: 'Skickat vidare till teknisk support',
      escalationTicket: 'Ärendenummer:',
      escalationFailed: 'Den tekniska delen kunde inte skickas vidare just nu. Försök igen om en stund.',
      errorRateLimited: 'Du skickar meddelanden väldigt snabbt. Meddelandet skickas igen om ett ögonblick.',
      errorMessage: 'Meddelandet kunde inte behandlas. Försök att formulera det på ett annat sätt.',
      errorGeneric: 'Något gick fel. Försök igen.',
      chips: [
        ['Avtalsstart', 'När börjar mitt avtal?'],
        ['Ny adress', 'Jag har en ny adress och mätar-ID'],
        ['Tibber Pulse', 'Kan jag ta med min Tibber Pulse?'],
        ['Betalningssätt', 'Ändras mitt betalningssätt?']
      ]
    },
    de: {
      launcher: 'Chatte mit uns',
      title: 'Hilfe beim Umzug',
      close: 'Chat schließen',
      conversation: 'Unterhaltung',
      statusConnecting: 'Verbinde…',
      statusOnline: 'Verbunden',
      statusOffline: 'Getrennt – neuer Versuch…',
      offlineBanner: 'Du bist offline. Was du jetzt schreibst, wird gesendet, sobald die Verbindung wieder steht.',
      reconnected: 'Verbindung wiederhergestellt.',
      newConversation: 'Die Verbindung steht wieder, aber das bisherige Gespräch konnte nicht fortgesetzt werden. Bitte nenne Angaben wie dein Einzugsdatum noch einmal, wenn ich danach frage.',
      inputLabel: 'Deine Nachricht',
      placeholder: 'Schreib deine Frage…',
      send: 'Senden',
      hintEmpty: 'Bitte schreib zuerst eine Nachricht.',
      hintTooLong: 'Diese Nachricht ist zu lang. Bitte kürze sie oder sende sie in mehreren Teilen.',
      chipsLabel: 'Häufige Fragen',
      you: 'Du',
      assistant: 'Assistent',
      typing: 'Der Assistent schreibt…',
      pending: 'Wartet auf Versand…',
      notSent: 'Nicht gesendet',
      greeting: 'Hallo! Ich helfe dir bei deinem Umzug: wann dein Vertrag an der neuen Adresse beginnt, deine neue Adresse und Zählernummer, der Umzug deines Tibber Pulse und deine Zahlungsmethode.',
      escalationTitle: 'An den technischen Support weitergegeben',
      escalationTicket: 'Ticketnummer:',
      escalationFailed: 'Der technische Teil konnte gerade nicht weitergegeben werden. Bitte versuche es gleich noch einmal.',
      errorRateLimited: 'Du sendest sehr schnell Nachrichten. Deine Nachricht wird gleich noch einmal gesendet.',
      errorMessage: 'Diese Nachricht konnte nicht verarbeitet werden. Bitte formuliere sie anders.',
      errorGeneric: 'Etwas ist schiefgelaufen. Bitte versuche es noch einmal.',
      chips: [
        ['Vertragsbeginn', 'Wann beginnt mein Vertrag an der neuen Adresse?'],
        ['Neue Adresse', 'Ich habe eine neue Adresse und Zählernummer'],
        ['Tibber Pulse', 'Kann ich meinen Tibber Pulse mitnehmen?'],
        ['Zahlungsmethode', 'Ändert sich meine Zahlungsmethode?']
      ]
    },
    nl: {
      launcher: 'Chat met ons',
      title: 'Hulp bij je verhuizing',
      close: 'Chat sluiten',
      conversation: 'Gesprek',
      statusConnecting: 'Verbinden…',
      statusOnline: 'Verbonden',
      statusOffline: 'Offline – opnieuw verbinden…',
      offlineBanner: 'Je bent offline. Wat je nu schrijft, wordt verstuurd zodra de verbinding terug is.',
      reconnected: 'Verbinding hersteld.',
      newConversation: 'De verbinding is terug, maar het eerdere gesprek kon niet worden voortgezet. Herhaal gegevens zoals je verhuisdatum als ik erom vraag.',
      inputLabel: 'Je bericht',
      placeholder: 'Typ je vraag…',
      send: 'Versturen',
      hintEmpty: 'Typ eerst een bericht.',
      hintTooLong: 'Dit bericht is te lang. Maak het korter of verstuur het in delen.',
      chipsLabel: 'Veelgestelde vragen',
      you: 'Jij',
      assistant: 'Assistent',
      typing: 'De assistent typt…',
      pending: 'Wacht op verzending…',
      notSent: 'Niet verstuurd',
      greeting: 'Hoi! Ik help je met je verhuizing: wanneer je contract op het nieuwe adres ingaat, je nieuwe adres en EAN-code, het verhuizen van je Tibber Pulse en je betaalmethode.',
      escalationTitle: 'Doorgestuurd naar technische support',
      escalationTicket: 'Ticketnummer:',
      escalationFailed: 'Het technische deel kon nu niet worden doorgestuurd. Probeer het zo opnieuw.',
      errorRateLimited: 'Je verstuurt erg snel berichten. Je bericht wordt zo opnieuw verstuurd.',
      errorMessage: 'Dit bericht kon niet worden verwerkt. Probeer het anders te formuleren.',
      errorGeneric: 'Er ging iets mis. Probeer het opnieuw.',
      chips: [
        ['Startdatum', 'Wanneer begint mijn contract op het nieuwe adres?'],
        ['Nieuw adres', 'Ik heb een nieuw adres en EAN-code'],
        ['Tibber Pulse', 'Kan ik mijn Tibber Pulse meenemen?'],
        ['Betaalmethode', 'Verandert mijn betaalmethode?']
      ]
    }
  };

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var script = document.currentScript;
  var scriptUrl = (script && script.src) || document.baseURI;

  /* ---- small helpers ---- */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function icon(pathD) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '20');
    svg.setAttribute('height', '20');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', pathD);
    p.setAttribute('fill', 'currentColor');
    svg.appendChild(p);
    return svg;
  }

  var ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
  var ICON_CLOSE = 'M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 1 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z';
  var ICON_SEND = 'M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z';
  var ICON_TICKET = 'M12 2 1 21h22L12 2zm1 15h-2v2h2v-2zm0-8h-2v6h2V9z';

  function utf8Length(s) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(s).length;
    return unescape(encodeURIComponent(s)).length;
  }

  /* The widget's language for a BCP 47 tag, or null. */
  function langOf(tag) {
    var c = String(tag || '').trim().toLowerCase().split(/[-_]/)[0];
    if (c === 'no' || c === 'nn') c = 'nb';
    return STRINGS.hasOwnProperty(c) ? c : null;
  }

  /* The first supported language among the candidates. */
  function pickLang(candidates) {
    for (var i = 0; i < candidates.length; i++)
      if (langOf(candidates[i])) return langOf(candidates[i]);
    return 'en';
  }

  function resolveEndpoint(value) {
    var u = new URL(value || '/ws', scriptUrl);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    return u.href;
  }

  function loadState(endpoint) {
    try {
      var s = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || 'null');
      if (s && s.v === 1 && s.endpoint === endpoint) return s;
    } catch (e) { /* storage disabled or garbage: start afresh */ }
    return null;
  }

  var idSeq = 0;
  function newId() {
    idSeq++;
    return 'w' + Date.now().toString(36) + Math.random().toString(36).slice(2, 6) + idSeq;
  }

  /* ---- the widget ---- */

  function Chat(host) {
    this.host = host;
    var d = host.dataset;
    this.endpoint = resolveEndpoint(d.endpoint);
    var nav = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    this.lang = pickLang([d.lang, document.documentElement.lang].concat(nav));
    this.t = STRINGS[this.lang];
    /* Times in the reader's own variant of the language (en-GB: 24 h). */
    this.locale = this.lang === 'nb' ? 'nb-NO' : this.lang;
    for (var i = 0; i < nav.length; i++)
      if (langOf(nav[i]) === this.lang) { this.locale = nav[i]; break; }
    this.title = d.title || this.t.title;

    var saved = loadState(this.endpoint) || {};
    this.session = typeof saved.session === 'string' ? saved.session : null;
    this.outbox = Array.isArray(saved.outbox) ? saved.outbox : [];  /* {id, text} not yet acknowledged */
    this.transcript = Array.isArray(saved.transcript) ? saved.transcript : [];
    this.wasOpen = !!saved.open;

    this.ws = null;
    this.state = 'idle';    /* idle, connecting, ready, offline */
    this.attempt = 0;
    this.retryTimer = null;
    this.connectTimer = null;
    this.sendTimer = null;
    this.lastSend = 0;
    this.sentHere = {};     /* ids sent on the current socket */
    this.maxFrame = MAX_FRAME_BYTES; /* lowered by the welcome's max_bytes */
    this.helloLang = true;  /* false once the server refused this.lang */
    this.silenceTimer = null;
    this.typingFor = {};    /* ids the server is working on */
    this.everReady = false;
    this.isOpen = false;
    this.stateNodes = {};   /* customer message id -> its "waiting" label */

    this.build();
    this.restore();
    var self = this;
    window.addEventListener('online', function () { if (self.state === 'offline') self.connectNow(); });
    /* The socket may not notice a lost network for minutes. */
    window.addEventListener('offline', function () { if (self.ws) self.dropped(self.ws); });
    if (this.session || this.outbox.length || this.wasOpen) this.connect();
    if (this.wasOpen) this.open(false);
  }

  Chat.prototype.build = function () {
    var t = this.t, self = this;
    var uid = 'aa' + Math.random().toString(36).slice(2, 8);
    var root = this.root = el('div', 'aa-root');
    root.lang = this.lang;
    root.hidden = true; /* until the stylesheet is in */

    var launcher = this.launcher = el('button', 'aa-launcher');
    launcher.type = 'button';
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', uid + '-panel');
    launcher.appendChild(icon(ICON_CHAT));
    launcher.appendChild(el('span', 'aa-launcher-text', t.launcher));
    launcher.addEventListener('click', function () { self.isOpen ? self.close() : self.open(true); });

    var panel = this.panel = el('section', 'aa-panel');
    panel.id = uid + '-panel';
    panel.hidden = true;
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-labelledby', uid + '-title');

    var header = el('header', 'aa-header');
    var heading = el('div', 'aa-heading');
    var h = el('h2', 'aa-title', this.title);
    h.id = uid + '-title';
    var status = this.status = el('p', 'aa-status');
    this.statusDot = el('span', 'aa-dot');
    this.statusDot.setAttribute('aria-hidden', 'true');
    this.statusText = el('span', 'aa-status-text', t.statusConnecting);
    status.appendChild(this.statusDot);
    status.appendChild(this.statusText);
    heading.appendChild(h);
    heading.appendChild(status);
    var closeBtn = this.closeBtn = el('button', 'aa-close');
    closeBtn.type = 'button';
    closeBtn.setAttribute('aria-label', t.close);
    closeBtn.title = t.close;
    closeBtn.appendChild(icon(ICON_CLOSE));
    closeBtn.addEventListener('click', function () { self.close(); });
    header.appendChild(heading);
    header.appendChild(closeBtn);

    var banner = this.banner = el('p', 'aa-banner', t.offlineBanner);
    banner.hidden = true;

    var list = this.list = el('ol', 'aa-messages');
    list.setAttribute('aria-label', t.conversation);
    list.tabIndex = 0; /* scrollable by keyboard */
    /* Stays at the newest message while the reader is there, also when the
     * input grows or the typing indicator comes and goes. */
    this.atBottom = true;
    list.addEventListener('scroll', function () {
      self.atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
    });
    if (window.ResizeObserver)
      new ResizeObserver(function () { if (self.atBottom) self.scrollDown(); }).observe(list);

    var typing = this.typing = el('div', 'aa-typing');
    typing.hidden = true;
    var dots = el('span', 'aa-dots');
    dots.setAttribute('aria-hidden', 'true');
    for (var i = 0; i < 3; i++) dots.appendChild(el('span', 'aa-dots-dot'));
    typing.appendChild(dots);
    typing.appendChild(el('span', 'aa-sr', t.typing));

    var chips = el('div', 'aa-chips');
    chips.setAttribute('role', 'group');
    chips.setAttribute('aria-label', t.chipsLabel);
    t.chips.forEach(function (c) {
      var b = el('button', 'aa-chip', c[0]);
      b.type = 'button';
      b.title = c[1];
      b.addEventListener('click', function () { self.submit(c[1]); });
      chips.appendChild(b);
    });

    var form = this.form = el('form', 'aa-form');
    form.noValidate = true;
    var label = el('label', 'aa-sr', t.inputLabel);
    label.htmlFor = uid + '-input';
    var input = this.input = el('textarea', 'aa-input');
    input.id = uid + '-input';
    input.rows = 1;
    input.placeholder = t.placeholder;
    input.setAttribute('aria-describedby', uid + '-hint');
    input.setAttribute('autocomplete', 'off');
    var send = el('button', 'aa-send');
    send.type = 'submit';
    send.setAttribute('aria-label', t.send);
    send.title = t.send;
    send.appendChild(icon(ICON_SEND));
    var hint = this.hint = el('p', 'aa-hint');
    hint.id = uid + '-hint';
    hint.setAttribute('aria-live', 'polite');
    var row = el('div', 'aa-input-row');
    row.appendChild(input);
    row.appendChild(send);
    form.appendChild(label);
    form.appendChild(row);
    form.appendChild(hint);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (self.submit(input.value)) input.value = '';
      self.autosize();
    });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (typeof form.requestSubmit === 'function') form.requestSubmit();
        else form.dispatchEvent(new Event('submit', { cancelable: true }));
      }
    });
    input.addEventListener('input', function () {
      self.autosize();
      if (utf8Length(input.value) > MAX_TEXT_BYTES) self.showHint(t.hintTooLong);
      else self.showHint('');
    });

    /* New messages only: each is added here once, as it arrives. */
    var live = this.live = el('div', 'aa-sr');
    live.setAttribute('aria-live', 'polite');
    live.setAttribute('aria-relevant', 'additions');

    panel.appendChild(header);
    panel.appendChild(banner);
    panel.appendChild(list);
    panel.appendChild(typing);
    panel.appendChild(chips);
    panel.appendChild(form);
    panel.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') { e.preventDefault(); self.close(); }
    });

    root.appendChild(panel);
    root.appendChild(launcher);
    root.appendChild(live);
    this.host.appendChild(root);

    var css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('autoassist-widget.css', scriptUrl).href;
    var show = function () { root.hidden = false; };
    css.addEventListener('load', show);
    css.addEventListener('error', show);
    document.head.appendChild(css);
  };

  Chat.prototype.autosize = function () {
    var i = this.input;
    i.style.height = 'auto';
    i.style.height = Math.min(i.scrollHeight, 120) + 'px';
  };

  Chat.prototype.showHint = function (text) {
    this.hint.textContent = text;
    this.hint.classList.toggle('aa-hint--on', !!text);
    if (text) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  };

  Chat.prototype.announce = function (text) {
    var live = this.live;
    var p = el('p', null, text);
    live.appendChild(p);
    while (live.childNodes.length > 3) live.removeChild(live.firstChild);
  };

  Chat.prototype.open = function (focus) {
    if (this.isOpen) return;
    this.isOpen = true;
    this.panel.hidden = false;
    this.root.classList.add('aa-open');
    this.launcher.setAttribute('aria-expanded', 'true');
    if (!this.transcript.length) this.add({ kind: 'assistant', text: this.t.greeting, ts: Date.now() }, true);
    this.scrollDown();
    if (this.state === 'idle') this.connect();
    this.save();
    if (focus !== false) this.input.focus();
  };

  Chat.prototype.close = function () {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.root.classList.remove('aa-open');
    this.launcher.setAttribute('aria-expanded', 'false');
    this.save();
    this.launcher.focus();
  };

  /* ---- transcript ---- */

  Chat.prototype.save = function () {
    try {
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify({
        v: 1, endpoint: this.endpoint, session: this.session, open: this.isOpen,
        outbox: this.outbox, transcript: this.transcript.slice(-TRANSCRIPT_MAX)
      }));
    } catch (e) { /* storage full or disabled: the widget still works */ }
  };

  Chat.prototype.restore = function () {
    var self = this;
    this.transcript.forEach(function (item) { self.render(item); });
  };

  /* Adds an item to the transcript and shows it; announced unless quiet. */
  Chat.prototype.add = function (item, quiet) {
    this.transcript.push(item);
    if (this.transcript.length > TRANSCRIPT_MAX) this.transcript.shift();
    this.render(item);
    this.save();
    this.scrollDown();
    if (quiet) return;
    var t = this.t;
    if (item.kind === 'assistant') this.announce(t.assistant + ': ' + item.text);
    else if (item.kind === 'escalation') this.announce(t.escalationTitle + '. ' + t.escalationTicket + ' ' + item.ticket);
    else if (item.kind === 'notice') this.announce(item.text);
  };

  Chat.prototype.timeOf = function (ts) {
    var time = el('time');
    var d = new Date(ts);
    time.dateTime = d.toISOString();
    try {
      time.textContent = d.toLocaleTimeString(this.locale, { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      time.textContent = d.toTimeString().slice(0, 5);
    }
    return time;
  };

  Chat.prototype.render = function (item) {
    var t = this.t, li;
    if (item.kind === 'customer' || item.kind === 'assistant') {
      li = el('li', 'aa-msg aa-msg--' + item.kind);
      var bubble = el('div', 'aa-bubble');
      bubble.appendChild(el('span', 'aa-sr', (item.kind === 'customer' ? t.you : t.assistant) + ': '));
      String(item.text).split(/\n\s*\n/).forEach(function (para) {
        /* Right-to-left text keeps its direction (on the paragraph: the
         * bubble starts with the left-to-right screen reader prefix). */
        var p = el('p', null, para);
        p.dir = 'auto';
        bubble.appendChild(p);
      });
      var meta = el('div', 'aa-meta');
      meta.appendChild(this.timeOf(item.ts));
      if (item.kind === 'customer') {
        var st = el('span', 'aa-state');
        meta.appendChild(st);
        this.stateNodes[item.id] = st;
        this.markState(item);
      }
      li.appendChild(bubble);
      li.appendChild(meta);
    } else if (item.kind === 'escalation') {
      li = el('li', 'aa-notice aa-notice--escalation');
      li.appendChild(icon(ICON_TICKET));
      var body = el('div', 'aa-notice-body');
      body.appendChild(el('strong', 'aa-notice-title', t.escalationTitle));
      var ref = el('p');
      ref.appendChild(document.createTextNode(t.escalationTicket + ' '));
      ref.appendChild(el('span', 'aa-ticket', item.ticket));
      body.appendChild(ref);
      li.appendChild(body);
    } else {
      li = el('li', 'aa-notice aa-notice--' + (item.level || 'info'));
      li.appendChild(el('p', null, item.text));
    }
    this.list.appendChild(li);
  };

  Chat.prototype.markState = function (item) {
    var node = this.stateNodes[item.id];
    if (!node) return;
    var text = item.state === 'pending' ? this.t.pending : item.state === 'failed' ? this.t.notSent : '';
    node.textContent = text;
    node.className = 'aa-state' + (text ? ' aa-state--' + item.state : '');
  };

  Chat.prototype.findCustomer = function (id) {
    for (var i = this.transcript.length - 1; i >= 0; i--)
      if (this.transcript[i].kind === 'customer' && this.transcript[i].id === id) return this.transcript[i];
    return null;
  };

  Chat.prototype.scrollDown = function () {
    this.list.scrollTop = this.list.scrollHeight;
    this.atBottom = true;
  };

  /* ---- sending ---- */

  /* Takes what the customer wrote; false (with a visible hint) when it is
   * refused. */
  Chat.prototype.submit = function (raw) {
    var text = String(raw || '').trim();
    if (!text) {
      this.showHint(this.t.hintEmpty);
      return false;
    }
    var id = newId();
    if (utf8Length(text) > MAX_TEXT_BYTES || !this.fits({ id: id, text: text })) {
      this.showHint(this.t.hintTooLong);
      return false;
    }
    this.showHint('');
    this.outbox.push({ id: id, text: text });
    this.add({ kind: 'customer', id: id, text: text, ts: Date.now(), state: 'pending' }, true);
    if (this.state === 'idle') this.connect();
    this.flush();
    return true;
  };

  /* Sends what waits in the outbox, in order, paced under the server's
   * rate limit. Only once the session is attached (after the welcome). */
  Chat.prototype.flush = function () {
    if (this.state !== 'ready' || this.sendTimer) return;
    var self = this;
    for (var i = 0; i < this.outbox.length; i++) {
      var m = this.outbox[i];
      if (this.sentHere[m.id]) continue;
      if (!this.fits(m)) {
        /* Queued before the welcome told a lower limit: the server would
         * close the connection on it, again at every reconnect. */
        this.refuse(m.id);
        i--;
        continue;
      }
      var wait = this.lastSend + SEND_SPACING_MS - Date.now();
      if (wait > 0) {
        this.sendTimer = setTimeout(function () { self.sendTimer = null; self.flush(); }, wait);
        return;
      }
      this.ws.send(JSON.stringify({ type: 'message', id: m.id, text: m.text }));
      this.sentHere[m.id] = true;
      this.lastSend = Date.now();
      this.watch();
    }
  };

  /* Whether the message's frame is within what the server takes. */
  Chat.prototype.fits = function (m) {
    return utf8Length(JSON.stringify({ type: 'message', id: m.id, text: m.text })) <= this.maxFrame;
  };

  /* A message that cannot be sent (too long for this server): out of the
   * outbox, marked, and said. */
  Chat.prototype.refuse = function (id) {
    this.ack(id, 'failed');
    this.add({ kind: 'notice', level: 'error', text: this.t.hintTooLong, ts: Date.now() });
  };

  /* Messages are out and unanswered: a link that stays silent for
   * SILENCE_TIMEOUT_MS is taken for dead (a server that hangs, a network
   * that drops packets without closing), and the widget reconnects, which
   * sends them again. Any frame from the server restarts the wait. */
  Chat.prototype.watch = function () {
    var self = this, ws = this.ws;
    clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
    if (!ws || !this.unanswered()) return;
    this.silenceTimer = setTimeout(function () {
      self.silenceTimer = null;
      if (self.ws === ws && self.unanswered()) self.dropped(ws);
    }, SILENCE_TIMEOUT_MS);
  };

  /* Whether a message sent on this connection waits for its answer. */
  Chat.prototype.unanswered = function () {
    var self = this;
    return this.outbox.some(function (m) { return self.sentHere[m.id]; });
  };

  /* The server answered the message (its reply, or an error for it). A
   * typing frame is no answer: the server may still die before the reply,
   * and the message must then go again (its ticket is filed once). */
  Chat.prototype.ack = function (id, state) {
    for (var i = 0; i < this.outbox.length; i++)
      if (this.outbox[i].id === id) { this.outbox.splice(i, 1); break; }
    var item = this.findCustomer(id);
    if (item) { item.state = state; this.markState(item); }
    this.save();
  };

  /* ---- the connection ---- */

  Chat.prototype.setState = function (state) {
    this.state = state;
    var t = this.t;
    this.root.classList.remove('aa-state-connecting', 'aa-state-ready', 'aa-state-offline');
    var cls = state === 'ready' ? 'ready' : state === 'offline' ? 'offline' : 'connecting';
    this.root.classList.add('aa-state-' + cls);
    this.root.setAttribute('data-state', cls);
    this.statusText.textContent = cls === 'ready' ? t.statusOnline : cls === 'offline' ? t.statusOffline : t.statusConnecting;
    this.banner.hidden = cls !== 'offline';
  };

  Chat.prototype.connect = function () {
    var self = this;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) return;
    this.setState(this.state === 'offline' ? 'offline' : 'connecting');
    var ws;
    try {
      ws = new WebSocket(this.endpoint);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.sentHere = {};
    this.connectTimer = setTimeout(function () { ws.close(); }, CONNECT_TIMEOUT_MS);
    ws.addEventListener('open', function () { self.hello(ws); });
    ws.addEventListener('message', function (e) {
      if (self.ws !== ws) return;
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg && typeof msg === 'object') self.onFrame(msg);
    });
    ws.addEventListener('close', function () { self.dropped(ws); });
  };

  /* Asks for the session, when there is one, in the page's language
   * unless the server refused it. */
  Chat.prototype.hello = function (ws) {
    var hello = { type: 'hello' };
    if (this.helloLang) hello.lang = this.lang;
    if (this.session) hello.session = this.session;
    ws.send(JSON.stringify(hello));
  };

  /* The connection ws is gone: closed, or given up on. */
  Chat.prototype.dropped = function (ws) {
    if (this.ws !== ws) return;
    clearTimeout(this.connectTimer);
    clearTimeout(this.sendTimer);
    clearTimeout(this.silenceTimer);
    this.sendTimer = this.silenceTimer = null;
    this.ws = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    this.typingFor = {};
    this.typing.hidden = true;
    /* What waits for an answer goes again: it says so. */
    for (var i = 0; i < this.outbox.length; i++) {
      var item = this.findCustomer(this.outbox[i].id);
      if (item && item.state !== 'pending') { item.state = 'pending'; this.markState(item); }
    }
    this.save();
    var was = this.state;
    this.setState('offline');
    if (was !== 'offline') this.announce(this.t.statusOffline);
    this.scheduleReconnect();
  };

  Chat.prototype.connectNow = function () {
    this.attempt = 0;
    this.connect();
  };

  /* Exponential backoff with jitter: 0.5 s doubling up to 10 s. */
  Chat.prototype.scheduleReconnect = function () {
    var self = this;
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, this.attempt));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.connect(); }, delay);
  };

  Chat.prototype.onFrame = function (msg) {
    this.handle(msg);
    this.watch();
  };

  Chat.prototype.handle = function (msg) {
    var t = this.t;
    switch (msg.type) {
    case 'welcome':
      clearTimeout(this.connectTimer);
      var hadConversation = this.session && this.transcript.some(function (i) { return i.kind === 'customer'; });
      if (hadConversation && msg.session !== this.session)
        this.add({ kind: 'notice', level: 'info', text: t.newConversation, ts: Date.now() });
      else if (this.everReady)
        this.announce(t.reconnected);
      this.session = typeof msg.session === 'string' ? msg.session : null;
      if (typeof msg.max_bytes === 'number' && msg.max_bytes > 0)
        this.maxFrame = Math.min(MAX_FRAME_BYTES, msg.max_bytes);
      this.attempt = 0;
      this.everReady = true;
      this.setState('ready');
      this.save();
      this.flush();
      break;
    case 'typing':
      if (msg.in_reply_to != null) {
        this.typingFor[msg.in_reply_to] = true;
        var item = this.findCustomer(msg.in_reply_to);
        if (item) { item.state = 'sent'; this.markState(item); this.save(); }
      }
      this.typing.hidden = false;
      this.scrollDown();
      break;
    case 'reply':
      if (msg.in_reply_to != null) {
        delete this.typingFor[msg.in_reply_to];
        this.ack(msg.in_reply_to, 'sent');
      }
      this.typing.hidden = Object.keys(this.typingFor).length === 0;
      if (typeof msg.text === 'string' && msg.text)
        this.add({ kind: 'assistant', text: msg.text, ts: Date.now() });
      var esc = msg.escalation;
      // A follow-up names the conversation's ticket, the one the customer has.
      var ref = typeof msg.follow_up_of === 'string' ? msg.follow_up_of : esc && esc.ticket;
      if (esc && esc.escalate && esc.status === 'stored' && typeof ref === 'string')
        this.add({ kind: 'escalation', ticket: ref, ts: Date.now() });
      else if (esc && esc.escalate && esc.status === 'failed')
        this.add({ kind: 'notice', level: 'error', text: t.escalationFailed, ts: Date.now() });
      break;
    case 'error':
      this.onError(msg);
      break;
    default:
      break;
    }
  };

  Chat.prototype.onError = function (msg) {
    var t = this.t, self = this;
    if (msg.code === 'rate_limited') {
      /* Not processed: the message it names (else the newest sent and
       * not yet taken) goes again in a moment. */
      if (msg.in_reply_to != null && this.sentHere[msg.in_reply_to])
        delete this.sentHere[msg.in_reply_to];
      else
        /* No id: a frame without one was refused (a hello sent too
         * fast). The newest message not yet taken goes again too: should
         * it have been taken after all, the server answers a message
         * sent again with the same reply, not a second turn. */
        for (var i = this.outbox.length - 1; i >= 0; i--)
          if (this.sentHere[this.outbox[i].id] && !this.typingFor[this.outbox[i].id]) {
            delete this.sentHere[this.outbox[i].id];
            break;
          }
      this.add({ kind: 'notice', level: 'error', text: t.errorRateLimited, ts: Date.now() });
      clearTimeout(this.sendTimer);
      this.sendTimer = setTimeout(function () { self.sendTimer = null; self.flush(); }, 1000);
      return;
    }
    if (msg.in_reply_to != null) {
      delete this.typingFor[msg.in_reply_to];
      this.typing.hidden = Object.keys(this.typingFor).length === 0;
      this.ack(msg.in_reply_to, 'failed');
      this.add({ kind: 'notice', level: 'error', text: t.errorMessage, ts: Date.now() });
      return;
    }
    if (msg.code === 'bad_lang' && this.state !== 'ready' && this.helloLang && this.ws) {
      /* A server that does not serve the page's language: it finds the
       * language from the customer's messages instead. */
      this.helloLang = false;
      this.hello(this.ws);
      return;
    }
    this.add({ kind: 'notice', level: 'error', text: t.errorGeneric, ts: Date.now() });
    /* No session came of the hello: try again later. */
    if (this.state !== 'ready' && this.ws) this.ws.close();
  };

  /* ---- start ---- */

  var instance = null;

  function start() {
    if (instance) return;
    var host = document.getElementById('autoassist-chat');
    if (!host || !window.WebSocket) return;
    instance = new Chat(host);
  }

  window.AutoAssistChat = {
    open: function () { if (instance) instance.open(true); },
    close: function () { if (instance) instance.close(); },
    languages: Object.keys(STRINGS),
    /* A copy of the widget's strings for a language (tests, translators). */
    strings: function (lang) { return JSON.parse(JSON.stringify(STRINGS[lang] || STRINGS.en)); }
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
