'use strict';
// Bad input: every error frame with its exact code (the connection stays
// usable after each), and the protocol violations that close the
// connection: oversized (one frame or fragments), binary, invalid UTF-8.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Client, healthz, metrics, startServer, stopClean } = require('./lib');

// JSON whose objects nest `levels` deep, the message object being level 1.
function nestedMessage(levels, id) {
  let inner = '"x"';
  for (let i = 1; i < levels; i++) inner = `{"k":${inner}}`;
  return `{"type":"message","id":${JSON.stringify(id)},"text":"Does my payment method change?","extra":${inner}}`;
}

// After an error frame the connection answers the next message normally.
async function stillUsable(c, id) {
  const r = await c.ask(id, 'Does my payment method change?');
  assert.equal(r.outcomes[0].intent, 'payment_method');
}

test('every bad input gets its error code, and the connection stays usable', async (t) => {
  // Rate limiting is tested on its own (limits.test.js); here it would
  // only get in the way of 40 messages in a row.
  const server = await startServer(t, ['--rate', '1000', '--burst', '1000']);
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });

  const cases = [
    // [what is sent, the error frame expected]
    ['{not json', { code: 'bad_json' }],
    ['', { code: 'bad_json' }],
    ['[1,2,3]', { code: 'bad_json' }],
    ['"a string"', { code: 'bad_json' }],
    ['{"type":"hello"} trailing', { code: 'bad_json' }],
    ['{"type":"message","id":1,"text":"hi"}{"type":"hello"}', { code: 'bad_json' }],
    ['{"type":"message","id":1,"text":"unterminated', { code: 'bad_json' }],
    // What lenient parsers take and RFC 8259 does not.
    ["{'type':'hello'}", { code: 'bad_json' }],
    // json-c's strict mode takes these two: 'a' and 't' are letters of its words.
    ["{\"type\":\"hello\",'a':1}", { code: 'bad_json' }],
    ["{\"type\":\"message\",\"id\":1,\"text\":\"hi\",\"x\":'t'}", { code: 'bad_json' }],
    ['{"type":"hello",}', { code: 'bad_json' }],
    ['{"type":"hello" /* hi */}', { code: 'bad_json' }],
    ['{"type":"hello","x":TRUE}', { code: 'bad_json' }],
    ['{"type":"message","id":007,"text":"hi"}', { code: 'bad_json' }],
    ['{"type":"hello","x":Infinity}', { code: 'bad_json' }],
    ['{"type":"hello","x":-NaN}', { code: 'bad_json' }],
    ['{"type":"hello","x":-007}', { code: 'bad_json' }],
    ['{"type":"hello","x":1.}', { code: 'bad_json' }],
    ['{"type":"message","id":1,"text":"a\tb"}', { code: 'bad_json' }],
    ['{"type":"message","id":1,"text":"a\nb"}', { code: 'bad_json' }],
    ['{"id":1,"text":"no type"}', { code: 'bad_type' }],
    ['{"type":"goodbye"}', { code: 'bad_type' }],
    ['{"type":5}', { code: 'bad_type' }],
    ['{"type":"message","id":"t1"}', { code: 'bad_text', in_reply_to: 't1' }],
    ['{"type":"message","id":42,"text":17}', { code: 'bad_text', in_reply_to: 42 }],
    ['{"type":"message","id":"t3","text":null}', { code: 'bad_text', in_reply_to: 't3' }],
    // U+0000 would cut the ticket's fields in Redis and the stored turns.
    ['{"type":"message","id":"t4","text":"solar\\u0000 panels"}', { code: 'bad_text', in_reply_to: 't4' }],
    // Past 64 bits json-c clamps integers: two ids would name one message.
    ['{"type":"message","id":123456789012345678901234567890,"text":"hi"}', { code: 'bad_id', in_reply_to: undefined }],
    ['{"type":"message","id":-9223372036854775809,"text":"hi"}', { code: 'bad_id', in_reply_to: undefined }],
    ['{"type":"message","id":1.5,"text":"hi"}', { code: 'bad_id', in_reply_to: undefined }],
    ['{"type":"message","id":{"n":1},"text":"hi"}', { code: 'bad_id', in_reply_to: undefined }],
    ['{"type":"hello","lang":"fr"}', { code: 'bad_lang' }],
    ['{"type":"hello","lang":7}', { code: 'bad_lang' }],
    ['{"type":"hello","session":12345}', { code: 'bad_session' }],
    ['{"type":"hello","session":["x"]}', { code: 'bad_session' }],
    [nestedMessage(9, 'deep'), { code: 'too_deep' }],
    ['[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]', { code: 'too_deep' }],
  ];
  let n = 0;
  for (const [sent, want] of cases) {
    c.send(sent);
    const f = await c.expect('error');
    assert.equal(f.code, want.code, `for ${JSON.stringify(sent)}: ${JSON.stringify(f)}`);
    assert.equal(typeof f.message, 'string');
    assert.ok(f.message.length > 0);
    if ('in_reply_to' in want) assert.equal(f.in_reply_to, want.in_reply_to, JSON.stringify(f));
    await stillUsable(c, `ok${n++}`);
  }
  assert.equal(c.closed, null);

  // A hello with a bad field changes nothing: the session is the same.
  const w = await c.hello();
  assert.equal(typeof w.session, 'string');
  await c.close();
  await stopClean(server);
});

// The server reads the usual frame itself (service/jr.c) and leaves the
// rest to json-c: both must read a message alike.
test('a message is answered alike however its JSON is written', async (t) => {
  const server = await startServer(t, ['--rate', '1000', '--burst', '1000']);
  const text = 'We move on 1 March, does my payment method change? Meter 707057500012345675';
  const q = JSON.stringify(text);
  const forms = {
    plain: (id) => JSON.stringify({ type: 'message', id, text }),
    spaced: (id) => ` {\r\n "text" : ${q} ,\t"id" : "${id}" , "type" : "message" }\n`,
    escaped: (id) => `{"type":"m\\u0065ssage","id":"${id}","text":${q.replace('?', '\\u003f')}}`,
    nested: (id) => `{"type":"message","id":"${id}","text":${q},"meta":{"tags":["a"],"n":1.5e3}}`,
    twice: (id) => `{"type":"message","id":"${id}","text":"not this","text":${q}}`,
  };
  const answers = {};
  for (const [name, frame] of Object.entries(forms)) {
    // One conversation each, so that each reply starts from the same state.
    const c = await Client.connect(server.wsUrl);
    await c.hello({ lang: 'en' });
    c.send(frame(name));
    const r = await c.replyTo(name);
    delete r.in_reply_to;
    answers[name] = r;
    await c.close();
  }
  assert.deepEqual(answers.plain.outcomes.map((o) => o.intent), ['contract_start_date', 'address_update', 'payment_method']);
  for (const name of Object.keys(forms)) assert.deepEqual(answers[name], answers.plain, name);

  // Integer ids come back as they were sent, on both ways of reading.
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });
  for (const [sent, back] of [
    ['999999999999999999', '999999999999999999'],
    ['-999999999999999999', '-999999999999999999'],
    ['-0', '0'],
    ['18446744073709551614', '18446744073709551614'],
    ['-9223372036854775807', '-9223372036854775807'],
  ]) {
    for (const t of ['"hi"', '"h\\u0069"']) {
      c.send(`{"type":"message","id":${sent},"text":${t}}`);
      const f = await c.expect('reply');
      assert.ok(f.wire.includes(`"in_reply_to":${back},`), `${sent} with text ${t}: ${f.wire.slice(0, 120)}`);
    }
  }
  // String ids too, whatever they hold, and spelt alike in a reply and an
  // error frame, so that a client matching bytes finds both.
  const spelling = (f) => f.wire.match(/"in_reply_to":("(?:[^"\\]|\\.)*")/)[1];
  for (const id of ['a"b/c\\d ø\u0001', '']) {
    const spelt = [];
    for (const t of ['"hi"', '"h\\u0069"']) {
      c.send(`{"type":"message","id":${JSON.stringify(id)},"text":${t}}`);
      const r = await c.expect('reply');
      assert.equal(r.in_reply_to, id);
      spelt.push(spelling(r));
    }
    c.send(`{"type":"message","id":${JSON.stringify(id)},"text":5}`);
    const e = await c.expect('error');
    assert.equal(e.code, 'bad_text');
    assert.equal(e.in_reply_to, id);
    spelt.push(spelling(e));
    assert.deepEqual(spelt, [spelt[0], spelt[0], spelt[0]], id);
  }
  await c.close();
  await stopClean(server);
});

test('JSON nesting: 8 levels are accepted, 9 are too_deep (README: "deeper than 8 levels")', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });
  c.send(nestedMessage(7, 'd7'));
  assert.equal((await c.replyTo('d7')).in_reply_to, 'd7');
  c.send(nestedMessage(9, 'd9'));
  assert.equal((await c.expect('error')).code, 'too_deep');
  c.send(nestedMessage(8, 'd8'));
  const f = await c.next();
  assert.equal(f.type, 'reply', `8 levels of objects must be accepted, got ${JSON.stringify(f)}`);
  await c.close();
  await stopClean(server);
});

test('a message over --max-bytes in one frame: close 1009; one at the limit is answered', async (t) => {
  const server = await startServer(t, ['--max-bytes', '4096']);
  const ok = await Client.connect(server.wsUrl);
  const base = JSON.stringify({ type: 'message', id: 'full', text: '' });
  const atLimit = JSON.stringify({ type: 'message', id: 'full', text: 'a'.repeat(4096 - base.length) });
  assert.equal(Buffer.byteLength(atLimit), 4096);
  ok.send(atLimit);
  assert.equal((await ok.expect('welcome')).max_bytes, 4096, 'the welcome tells the limit');
  await ok.replyTo('full');

  const big = await Client.connect(server.wsUrl);
  big.send(JSON.stringify({ type: 'message', id: 'big', text: 'b'.repeat(4097) }));
  const closed = await big.waitClose();
  assert.equal(closed.code, 1009);
  assert.deepEqual(big.frames, [], 'nothing is answered to an oversized message');

  // Others are not affected.
  await ok.ask('after', 'Does my payment method change?');
  await ok.close();
  await stopClean(server);
});

test('a fragmented message is reassembled up to --max-bytes; past it, close 1009', async (t) => {
  const server = await startServer(t, ['--max-bytes', '4096']);
  const c = await Client.connect(server.wsUrl);
  await c.hello();
  const msg = JSON.stringify({ type: 'message', id: 'frag', text: 'Can I take my Tibber Pulse with me? '.repeat(20) });
  const parts = [msg.slice(0, 7), msg.slice(7, 300), msg.slice(300, 301), msg.slice(301)];
  parts.forEach((p, i) => c.send(p, { fin: i === parts.length - 1 }));
  const r = await c.replyTo('frag');
  assert.equal(r.outcomes[0].intent, 'pulse_relocation');

  // A character split between two fragments is still valid UTF-8.
  const nb = Buffer.from(JSON.stringify({ type: 'message', id: 'utf8', text: 'Når starter avtalen på den nye adressen? æøå' }));
  const cut = nb.indexOf(Buffer.from('å', 'utf8')) + 1;
  c.send(nb.subarray(0, cut), { binary: false, fin: false });
  c.send(nb.subarray(cut), { binary: false, fin: true });
  assert.equal((await c.replyTo('utf8')).lang, 'nb');

  // 5 x 1000 bytes, never finished: refused once past 4096.
  for (let i = 0; i < 5; i++) c.send('x'.repeat(1000), { fin: false });
  const closed = await c.waitClose();
  assert.equal(closed.code, 1009);
  assert.equal((await healthz(server.port)).status, 200);
  await stopClean(server);
});

test('a binary frame: close 1003, after the replies already owed', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  await c.hello({ lang: 'en' });
  // Both frames in one TCP segment: the server reads them in one turn of
  // its loop, and the message before the violation is still answered.
  const sock = c.ws._socket;
  sock.cork();
  c.send({ type: 'message', id: 'owed', text: 'Does my payment method change?' });
  c.send(Buffer.from(JSON.stringify({ type: 'message', id: 'bin', text: 'hi' })), { binary: true });
  process.nextTick(() => sock.uncork());
  const r = await c.replyTo('owed');
  assert.equal(r.outcomes[0].intent, 'payment_method');
  const closed = await c.waitClose();
  assert.equal(closed.code, 1003);
  assert.deepEqual(c.frames, []);
  await stopClean(server);
});

test('invalid UTF-8 in a text frame: close 1007, the server carries on', async (t) => {
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  c.send(Buffer.from([0x7b, 0xff]), { binary: false });
  assert.equal((await c.waitClose()).code, 1007);

  // Overlong encoding and a lone surrogate, inside otherwise valid JSON.
  for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
    const d = await Client.connect(server.wsUrl);
    const buf = Buffer.concat([Buffer.from('{"type":"message","id":1,"text":"'), Buffer.from(bad), Buffer.from('"}')]);
    d.send(buf, { binary: false });
    assert.equal((await d.waitClose()).code, 1007);
    assert.deepEqual(d.frames, []);
  }
  const ok = await Client.connect(server.wsUrl);
  await ok.hello();
  await ok.ask(1, 'Does my payment method change?');
  await ok.close();
  const m = await metrics(server.port);
  assert.equal(m.autoassist_connections_open, 0);
  await stopClean(server);
});
