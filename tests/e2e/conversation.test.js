'use strict';
// Conversations over a real WebSocket: several turns in English and in
// German and Norwegian, a message that is half administrative and half
// technical, messages sent back to back, and resuming a conversation after
// a dropped connection (within and after the session TTL).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Client, healthz, metrics, registryFile, sleep, startServer, stopClean } = require('./lib');

// The source article's auto-response, verbatim (typographic apostrophe).
const CONFIRMED_1_MARCH_2027 =
  'I’ve confirmed your Tibber contract for the new address starts on 1 March 2027. ' +
  'Your billing for the old address will automatically cease on that day.';
const ESCALATION_PREVIEW =
  'The technical part about the solar installation needs our experts, so it will be split off ' +
  'into a separate ticket and escalated to our L2 technical support for further investigation.';
const NO_ESCALATION = { escalate: false, topics: [], status: 'none', ticket: null };

const outcome = (reply, intent) => (reply.outcomes.find((o) => o.intent === intent) || {}).outcome;

test('English: start date asked, date given, meter confirms it against the registry', async (t) => {
  const server = await startServer(t, ['--registry', registryFile()]);
  const c = await Client.connect(server.wsUrl);

  // No hello: the first message starts a session, welcomed first.
  c.send({ type: 'message', id: 'm1', text: 'When does my contract at the new address start?' });
  const welcome = await c.expect('welcome');
  assert.match(welcome.session, /^[0-9a-f]{32}$/);
  assert.equal(welcome.resumed, false);
  const r1 = await c.replyTo('m1');
  assert.equal(r1.lang, 'en');
  assert.equal(r1.intents[0].id, 'contract_start_date');
  assert.equal(typeof r1.intents[0].score, 'number');
  assert.equal(outcome(r1, 'contract_start_date'), 'ask');
  assert.match(r1.text, /move-in date/);
  assert.deepEqual(r1.slots, {});
  assert.deepEqual(r1.technical_part, []);
  assert.deepEqual(r1.escalation, NO_ESCALATION);

  const r2 = await c.ask('m2', 'We move in on 1 March 2027.');
  assert.equal(r2.lang, 'en');
  assert.equal(r2.slots.date, '2027-03-01');
  assert.equal(outcome(r2, 'contract_start_date'), 'ask');
  assert.equal(r2.text,
    'To confirm 1 March 2027 as your start date, I need to check the grid registry. ' +
    'Please send me the meter ID (EAN, 18 digits) or the new address.');

  const r3 = await c.ask('m3', 'The meter ID is 707057500012345671');
  assert.equal(outcome(r3, 'contract_start_date'), 'confirmed');
  assert.ok(r3.text.startsWith(CONFIRMED_1_MARCH_2027), r3.text);
  assert.equal(r3.slots.date, '2027-03-01');
  assert.equal(r3.slots.meter.id, '707057500012345671');
  assert.deepEqual(r3.escalation, NO_ESCALATION);

  const r4 = await c.ask('m4', 'Will my payment method stay the same after the move?');
  assert.equal(outcome(r4, 'payment_method'), 'answer');
  assert.equal(r4.text,
    'Your payment method remains the same by default. If you’d like to change it for the new house, ' +
    'go to You > Account > Payment Method in the Tibber app.');
  await c.close();
  await stopClean(server);
});

test('German: every reply in German, and the language carries over a turn that has none', async (t) => {
  const server = await startServer(t, ['--registry', registryFile()]);
  const c = await Client.connect(server.wsUrl);
  await c.hello();

  const r1 = await c.ask(1, 'Wann beginnt mein Vertrag an der neuen Adresse?');
  assert.equal(r1.lang, 'de');
  assert.equal(outcome(r1, 'contract_start_date'), 'ask');
  assert.match(r1.text, /Einzugsdatum/);

  const r2 = await c.ask(2, 'Ich ziehe am 1. März 2027 ein.');
  assert.equal(r2.lang, 'de');
  assert.equal(r2.slots.date, '2027-03-01');
  assert.match(r2.text, /^Um den 1\. März 2027 als Startdatum zu bestätigen/);

  // Nothing but digits: no language to detect, the conversation's stays.
  const r3 = await c.ask(3, '707057500012345671');
  assert.equal(r3.lang, 'de');
  assert.equal(outcome(r3, 'contract_start_date'), 'confirmed');
  assert.ok(r3.text.startsWith(
    'Ich habe bestätigt, dass dein Tibber-Vertrag für die neue Adresse am 1. März 2027 beginnt.'), r3.text);
  await c.close();
  await stopClean(server);
});

test('Norwegian: hello with lang nb fixes the language for the whole conversation', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  const welcome = await c.hello({ lang: 'nb' });
  assert.equal(welcome.lang, 'nb');
  assert.equal(welcome.resumed, false);

  const r1 = await c.ask('a', 'Når starter avtalen min på den nye adressen?');
  assert.equal(r1.lang, 'nb');
  assert.equal(outcome(r1, 'contract_start_date'), 'ask');
  assert.match(r1.text, /målepunkt/);

  const r2 = await c.ask('b', 'Jeg flytter inn 1. mars 2027.');
  assert.equal(r2.lang, 'nb');
  assert.equal(r2.slots.date, '2027-03-01');
  assert.match(r2.text, /1\. mars 2027/);

  const r3 = await c.ask('c', 'Kan jeg ta med meg Pulsen?');
  assert.equal(r3.lang, 'nb');
  assert.equal(outcome(r3, 'pulse_relocation'), 'answer');
  assert.match(r3.text, /Tibber Pulse/);
  await c.close();
  await stopClean(server);
});

test('mixed message: the administrative part is answered, the solar part escalated (preview)', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });
  const r = await c.ask('mix',
    'When does my contract at the new address start? We move in on 1 March 2027. ' +
    'Also, the solar panels on the roof stopped producing last week.');
  assert.equal(outcome(r, 'contract_start_date'), 'ask');
  assert.equal(r.slots.date, '2027-03-01');
  assert.deepEqual(r.escalation, { escalate: true, topics: ['solar'], status: 'preview', ticket: null });
  assert.equal(r.escalate, true);
  assert.deepEqual(r.l2_topics, ['solar']);
  assert.ok(r.technical_part.length >= 1);
  assert.match(r.technical_part.join(' '), /solar panels/);
  // Both parts in one reply: the question about the date, then the L2 note.
  assert.match(r.text, /To confirm 1 March 2027 as your start date/);
  assert.ok(r.text.endsWith(ESCALATION_PREVIEW), r.text);
  await c.close();
  await stopClean(server);
});

test('messages sent back to back are answered in the order they were sent', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });
  const texts = [
    'When does my contract at the new address start?',
    'Can I take my Tibber Pulse with me?',
    'Does my payment method change?',
    'We move in on 1 March 2027.',
    'hello',
    'What about my new address?',
  ];
  texts.forEach((text, i) => c.send({ type: 'message', id: `q${i}`, text }));
  const order = [];
  for (let i = 0; i < texts.length; i++) {
    const r = await c.replyTo(`q${i}`);
    order.push(r.in_reply_to);
  }
  assert.deepEqual(order, texts.map((_, i) => `q${i}`));
  await c.close();
  await stopClean(server);
});

// The engine worker decides a conversation's message while the loop thread
// takes the next frames: a second tab's hello on that conversation (which
// may set its language) waits for the turn out, then is welcomed. Tab A
// sends 200 messages back to back while tab B says hello on A's session 50
// times, asking for German: every reply comes, in order, every welcome
// comes, resumed, and the conversation ends up German.
test('two tabs on one conversation: hellos while messages are being decided', async (t) => {
  const server = await startServer(t, ['--rate', '100000', '--burst', '100000', '--queue', '256']);
  const a = await Client.connect(server.wsUrl);
  const wa = await a.hello({ lang: 'en' });
  const b = await Client.connect(server.wsUrl);
  const texts = [
    'When does my contract at the new address start?',
    'Can I take my Tibber Pulse with me?',
    'Does my payment method change?',
    'We move in on 1 March 2027.',
  ];
  for (let i = 0; i < 200; i++) a.send({ type: 'message', id: i, text: texts[i % texts.length] });
  for (let i = 0; i < 50; i++) b.send({ type: 'hello', session: wa.session, lang: 'de' });
  for (let i = 0; i < 200; i++) await a.replyTo(i);
  for (let i = 0; i < 50; i++) {
    const w = await b.expect('welcome');
    assert.equal(w.session, wa.session);
    assert.equal(w.resumed, true);
    assert.equal(w.lang, 'de');
  }
  const r = await b.ask('last', 'Kann ich meinen Tibber Pulse mitnehmen?');
  assert.equal(r.lang, 'de');
  const r2 = await a.ask('after', 'Can I take my Tibber Pulse with me?');
  assert.equal(r2.lang, 'de', 'the language B fixed holds for A too: one conversation');
  await a.close();
  await b.close();
  await stopClean(server);
});

// While it has time to spare the loop thread decides a message itself;
// under load the engine worker does (--offload-above). Both must answer alike: the
// held-out corpus, as one conversation per language, through a server that
// always hands messages to the worker and one that decides every batch it
// can on the loop, gives the same reply frames byte for byte.
test('the loop thread and the engine worker answer alike', async (t) => {
  const corpus = fs.readFileSync(path.join(__dirname, '..', 'corpus', 'heldout.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const args = ['--registry', registryFile(), '--rate', '100000', '--burst', '100000', '--queue', '512'];
  const worker = await startServer(t, args, { AUTOASSIST_OFFLOAD_ABOVE: '0' });
  const loop = await startServer(t, args, { AUTOASSIST_OFFLOAD_ABOVE: '2' });
  const replies = [];
  for (const server of [worker, loop]) {
    const frames = [];
    for (const lang of ['en', 'nb', 'sv', 'de', 'nl']) {
      const c = await Client.connect(server.wsUrl);
      await c.hello({ lang });
      const texts = corpus.filter((m) => m.lang === lang).map((m) => m.text);
      texts.forEach((text, i) => c.send({ type: 'message', id: i, text }));
      for (let i = 0; i < texts.length; i++) frames.push(JSON.stringify(await c.replyTo(i)));
      await c.close();
    }
    replies.push(frames);
  }
  assert.equal(replies[0].length, corpus.length);
  assert.deepEqual(replies[1], replies[0]);
  await stopClean(worker);
  await stopClean(loop);
  assert.ok(replies[0].some((f) => JSON.parse(f).escalate), 'the corpus escalates somewhere');
});

test('reconnect and resume: the session, its language and its facts carry on', async (t) => {
  const server = await startServer(t, ['--registry', registryFile()]);
  const a = await Client.connect(server.wsUrl);
  const w1 = await a.hello();
  await a.ask(1, 'When does my contract at the new address start?');
  const r2 = await a.ask(2, 'We move in on 1 March 2027.');
  assert.equal(r2.slots.date, '2027-03-01');
  a.ws.terminate(); // a dropped connection, no close handshake
  await a.waitClose();

  const b = await Client.connect(server.wsUrl);
  const w2 = await b.hello({ session: w1.session });
  assert.equal(w2.session, w1.session);
  assert.equal(w2.resumed, true);
  assert.equal(w2.lang, 'en');
  const r3 = await b.ask(3, '707057500012345671');
  assert.equal(r3.slots.date, '2027-03-01', 'the date given before the reconnect is still known');
  assert.equal(outcome(r3, 'contract_start_date'), 'confirmed');
  assert.ok(r3.text.startsWith(CONFIRMED_1_MARCH_2027), r3.text);

  // A session id nobody has: a new conversation, not an error.
  const c = await Client.connect(server.wsUrl);
  const w3 = await c.hello({ session: 'f'.repeat(32) });
  assert.equal(w3.resumed, false);
  assert.notEqual(w3.session, 'f'.repeat(32));
  // An id with a NUL after the real one is no id, not the real one.
  const d = await Client.connect(server.wsUrl);
  d.send(JSON.stringify({ type: 'hello', session: `${w1.session}\u0000x` }));
  const w4 = await d.expect('welcome');
  assert.equal(w4.resumed, false);
  assert.notEqual(w4.session, w1.session);
  await b.close();
  await c.close();
  await d.close();
  await stopClean(server);
});

test('a message sent again after a dropped connection (same id, same text) gets its reply again, not a second turn', async (t) => {
  const server = await startServer(t, ['--registry', registryFile()]);
  const a = await Client.connect(server.wsUrl);
  const w = await a.hello({ lang: 'en' });
  const question = 'When does my contract start? We move in on 1 March 2027.';
  const first = await a.ask('m1', question);
  a.ws.terminate(); // the widget never saw that reply
  await a.waitClose();

  const b = await Client.connect(server.wsUrl);
  assert.equal((await b.hello({ session: w.session })).resumed, true);
  assert.deepEqual(await b.ask('m1', question), first, 'the same reply');
  let m = await metrics(server.port);
  assert.equal(m['autoassist_replies_total{intent="contract_start_date"}'], 1, 'decided once');
  // Another text under that id, or that text under another id, is another message.
  assert.equal(outcome(await b.ask('m1', 'Will my payment method change?'), 'payment_method'), 'answer');
  await b.ask('m2', question);
  m = await metrics(server.port);
  assert.equal(m['autoassist_replies_total{intent="contract_start_date"}'], 2);
  assert.equal(m['autoassist_replies_total{intent="payment_method"}'], 1);
  await b.close();
  await stopClean(server);
});

test('five messages sent again after a dropped connection: the four newest get their replies again, the oldest alone is decided again', async (t) => {
  const server = await startServer(t, ['--registry', registryFile(), '--rate', '100', '--burst', '100']);
  const a = await Client.connect(server.wsUrl);
  const w = await a.hello({ lang: 'en' });
  const texts = ['We move in on 1 March.', 'My meter is 707057500012345671', 'Tell me about Tibber Pulse',
    'What payment methods do you have?', 'Will my payment method stay the same?'];
  const first = [];
  for (const [i, text] of texts.entries()) first.push(await a.ask(`k${i}`, text));
  a.ws.terminate(); // the widget saw none of the replies
  await a.waitClose();

  const b = await Client.connect(server.wsUrl);
  assert.equal((await b.hello({ session: w.session })).resumed, true);
  const total = (m) => Object.entries(m).filter(([k]) => k.startsWith('autoassist_replies_total{'))
    .reduce((n, [, v]) => n + v, 0);
  const before = total(await metrics(server.port));
  await b.ask('k0', texts[0]);
  for (let i = 1; i < texts.length; i++)
    assert.deepEqual(await b.ask(`k${i}`, texts[i]), first[i], `k${i}: the same reply`);
  const decided = total(await metrics(server.port)) - before;
  assert.ok(decided >= 1 && decided <= first[0].outcomes.length,
    `only k0 decided again (${decided} reply parts counted)`);
  await b.close();
  await stopClean(server);
});

test('resume after the session TTL: a new conversation that knows nothing', async (t) => {
  const server = await startServer(t, ['--session-ttl', '1']);
  const a = await Client.connect(server.wsUrl);
  const w1 = await a.hello();
  const r1 = await a.ask(1, 'We move in on 1 March 2027. When does my contract start?');
  assert.equal(r1.slots.date, '2027-03-01');
  await a.close();
  // Wait until the server has seen the close, then past the TTL.
  for (let i = 0; i < 40 && (await healthz(server.port)).json.connections !== 0; i++) await sleep(50);
  await sleep(2000);

  const b = await Client.connect(server.wsUrl);
  const w2 = await b.hello({ session: w1.session });
  assert.equal(w2.resumed, false);
  assert.notEqual(w2.session, w1.session);
  const r2 = await b.ask(2, '707057500012345671');
  assert.equal(r2.slots.date, undefined, 'the expired conversation\'s date must be gone');
  assert.notEqual(outcome(r2, 'contract_start_date'), 'confirmed');
  await b.close();
  await stopClean(server);
});
