'use strict';
// Limits and refusals: rate limiting, a client that does not read, the
// origin allow-list, --max-connections, the idle timeout, and requests
// that are not a WebSocket upgrade for us (CVE-2025-11677: "Upgrade: foo").

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const {
  Client, HOST, Raw, handshake, healthz, maskedTextFrame, metrics, sanitizerReports, sleep, startServer,
  stopClean,
} = require('./lib');

test('rate limiting: --rate 1 --burst 2, ten quick messages, the excess is rate_limited', async (t) => {
  const server = await startServer(t, ['--rate', '1', '--burst', '2']);
  const c = await Client.connect(server.wsUrl);
  for (let i = 0; i < 10; i++) c.send({ type: 'message', id: i, text: 'Does my payment method change?' });
  await c.expect('welcome');
  let replies = 0;
  let limited = 0;
  while (replies + limited < 10) {
    const f = await c.next();
    if (f.type === 'reply') replies++;
    else if (f.type === 'error') {
      assert.equal(f.code, 'rate_limited', JSON.stringify(f));
      limited++;
    } else assert.equal(f.type, 'typing', JSON.stringify(f));
  }
  assert.ok(limited >= 1, 'at least one message is rate limited');
  assert.ok(replies >= 2, 'the burst is answered');
  assert.equal(c.closed, null, 'rate limiting does not close the connection');
  // The bucket refills at 1 message/s.
  await sleep(1100);
  await c.ask('later', 'Does my payment method change?');
  const m = await metrics(server.port);
  assert.equal(m['autoassist_errors_total{code="rate_limited"}'], limited);
  assert.equal(m.autoassist_messages_total, replies + 1);
  await c.close();
  await stopClean(server);
});

test('a rate_limited error names the message by its id, and names none by an id no message may have', async (t) => {
  const server = await startServer(t, ['--rate', '1', '--burst', '1']);
  const c = await Client.connect(server.wsUrl);
  c.send({ type: 'message', id: 'first', text: 'Does my payment method change?' });
  c.send({ type: 'message', id: 'second', text: 'Does my payment method change?' });
  c.send('{"type":"message","id":123456789012345678901234567890,"text":"hi"}');
  await c.expect('welcome');
  assert.equal((await c.next()).in_reply_to, 'first');
  const named = await c.expect('error');
  assert.equal(named.code, 'rate_limited');
  assert.equal(named.in_reply_to, 'second');
  const unnamed = await c.expect('error');
  assert.equal(unnamed.code, 'rate_limited');
  assert.ok(!('in_reply_to' in unnamed), JSON.stringify(unnamed));
  await c.close();
  await stopClean(server);
});

// On both event loops: the server stops reading the client (it owes it
// --queue frames) before it drops it.
for (const loop of ['ev', 'poll']) {
  test(`a client that never reads is dropped once its replies wait too long or its queue passes --queue; memory stays bounded (${loop} loop)`, async (t) => {
    const server = await startServer(t, ['--event-loop', loop, '--queue', '4', '--rate', '100000', '--burst', '100000']);
    const rssBefore = server.rssKiB();
    const raw = await Raw.open(server.port);
    raw.collect();
    await raw.write(handshake(HOST, server.port));
    await raw.waitFor((s) => s.includes('\r\n\r\n'));
    assert.match(raw.text(), /^HTTP\/1\.1 101 /);
    raw.sock.pause(); // from now on nothing is read

    const frame = maskedTextFrame(JSON.stringify({
      type: 'message', id: 1, text: 'Our solar panels and the inverter stopped working. '.repeat(20),
    }));
    // Many messages, as fast as the socket takes them, until the server
    // hangs up: several megabytes of replies fill the kernel's socket
    // buffers first (loopback buffers are large), then the server's queue,
    // and then the server reads no more, so these writes stall too.
    const until = Date.now() + 10000;
    const drained = () => new Promise((r) => {
      const done = () => { clearTimeout(timer); raw.sock.off('drain', done); r(); };
      const timer = setTimeout(done, 100);
      raw.sock.once('drain', done);
    });
    for (let i = 0; i < 30000 && !raw.ended && !raw.error && Date.now() < until; i++) {
      if (!raw.sock.write(frame)) await drained();
    }
    // Still not reading: within a few seconds the server sees replies that
    // no socket takes and drops the connection (no close frame can get
    // through a choked socket). A paused socket notices only once it reads
    // again, so read (and discard) after the server has had its time.
    let dropped = 0;
    for (let i = 0; i < 100 && !dropped; i++) {
      await sleep(100);
      dropped = (await metrics(server.port))['autoassist_errors_total{code="slow_reader"}'];
    }
    raw.sock.resume();
    await raw.waitClose(5000);

    const m = await metrics(server.port);
    assert.ok(m['autoassist_errors_total{code="slow_reader"}'] >= 1, 'slow_reader counted');
    // The connection is gone on the server too, and its queue with it.
    let open = m.autoassist_connections_open;
    for (let i = 0; i < 40 && open !== 0; i++) {
      await sleep(50);
      open = (await metrics(server.port)).autoassist_connections_open;
    }
    assert.equal(open, 0);
    const grownMiB = (server.rssKiB() - rssBefore) / 1024;
    t.diagnostic(`the server grew by ${grownMiB.toFixed(1)} MiB`);
    assert.ok(grownMiB < 64, `the server grew by ${grownMiB.toFixed(1)} MiB`);

    // Everyone else is still served.
    const c = await Client.connect(server.wsUrl);
    await c.hello({ lang: 'en' });
    await c.ask('ok', 'Does my payment method change?');
    await c.close();
    await stopClean(server);
  });
}

test('a client that reads but sends many messages in one TCP segment is not dropped as a slow reader', async (t) => {
  // Defaults: --queue 64, --rate 5, --burst 10. The client reads all the
  // time; it sends 60 small messages in one write. The first 10 are
  // answered, the other 50 are rate_limited: 1 + 10 + 50 frames owed.
  const server = await startServer(t);
  const c = await Client.connect(server.wsUrl);
  const sock = c.ws._socket;
  sock.cork();
  for (let i = 0; i < 60; i++) c.send({ type: 'message', id: i, text: 'Does my payment method change?' });
  process.nextTick(() => sock.uncork());
  const seen = { welcome: 0, typing: 0, reply: 0, error: 0 };
  while (seen.reply + seen.error < 60) {
    let f;
    try {
      f = await c.next(3000);
    } catch (e) {
      assert.fail(`${e.message}; frames so far ${JSON.stringify(seen)}; close ${JSON.stringify(c.closed)}`);
    }
    seen[f.type]++;
  }
  // Without Redis the replies go out at once, with no typing frame.
  assert.deepEqual(seen, { welcome: 1, typing: 0, reply: 10, error: 50 });
  assert.equal(c.closed, null);
  await c.close();
  await stopClean(server);
});

// A burst far past what --queue frames hold (and past 4 x --queue, where a
// server that read it all at once would drop the client as a slow
// reader): the server stops reading the connection while the answers it
// owes pile up and reads on as the client takes them. Run on both event
// loops, and with a queue as small as --queue allows.
for (const [loop, queue] of [['ev', null], ['poll', null], ['ev', '2'], ['poll', '2']]) {
  const label = `${loop} loop${queue ? `, --queue ${queue}` : ''}`;
  test(`a burst of 600 messages in one write is answered in order, one answer each, and the connection stays open (${label})`, async (t) => {
    const args = ['--event-loop', loop, ...(queue ? ['--queue', queue] : [])];
    const server = await startServer(t, args);
    const c = await Client.connect(server.wsUrl);
    const n = 600;
    const burst = [];
    for (let i = 0; i < n; i++) {
      burst.push(maskedTextFrame(JSON.stringify({ type: 'message', id: String(i), text: 'Does my payment method change?' })));
    }
    // One write on the WebSocket's own socket: the frames arrive together,
    // as from a client that sends what it queued offline at once.
    c.ws._socket.write(Buffer.concat(burst));
    await c.expect('welcome');
    const answers = [];
    while (answers.length < n) {
      let f;
      try {
        f = await c.next(5000);
      } catch (e) {
        assert.fail(`${e.message} after ${answers.length} answers; close ${JSON.stringify(c.closed)}`);
      }
      // Without Redis nothing waits, so no typing frame comes.
      assert.ok(f.type === 'reply' || (f.type === 'error' && f.code === 'rate_limited'), JSON.stringify(f));
      answers.push(f);
    }
    assert.deepEqual(answers.map((f) => f.in_reply_to), Array.from({ length: n }, (_, i) => String(i)),
      'every message answered once, in the order sent');
    // --burst 10 lets the first ten through; the bucket refills at 5/s
    // while the burst is read, so a few more may pass (more on a slow
    // machine, a sanitizer build).
    const replies = answers.filter((f) => f.type === 'reply').length;
    assert.ok(replies >= 10 && replies < n / 4, `${replies} replies`);
    // Nothing more is owed, and the connection is still served.
    await sleep(300);
    assert.deepEqual(c.frames, []);
    assert.equal(c.closed, null);
    await c.ask('after', 'Does my payment method change?');
    const m = await metrics(server.port);
    assert.equal(m['autoassist_errors_total{code="slow_reader"}'] || 0, 0);
    assert.equal(m['autoassist_errors_total{code="rate_limited"}'], n - replies);
    await c.close();
    await stopClean(server);
  });
}

test('origin allow-list: a listed origin connects, any other (or none) is refused at the upgrade (403)', async (t) => {
  const server = await startServer(t, ['--origins', 'https://chat.example.com,https://www.example.com']);
  for (const origin of ['https://chat.example.com', 'https://www.example.com']) {
    const c = await Client.connect(server.wsUrl, { origin });
    await c.hello();
    await c.ask(1, 'Does my payment method change?');
    await c.close();
  }
  for (const opts of [{ origin: 'https://evil.example.com' }, { origin: 'https://chat.example.com.evil.test' }, {}]) {
    await assert.rejects(Client.connect(server.wsUrl, opts), { status: 403 },
      `origin ${JSON.stringify(opts.origin)} must be refused`);
  }
  // Another path is refused as well (404), and counted.
  await assert.rejects(Client.connect(`ws://127.0.0.1:${server.port}/chat`, { origin: 'https://www.example.com' }),
    { status: 404 });
  const m = await metrics(server.port);
  assert.equal(m.autoassist_connections_rejected_total, 4);
  assert.equal(m.autoassist_connections_total, 2);
  await stopClean(server);
});

test('an upgrade naming one of the server\'s other protocols is refused, whatever its path and origin', async (t) => {
  const server = await startServer(t, ['--origins', 'https://good.example', '--max-connections', '1']);
  const base = `ws://127.0.0.1:${server.port}`;
  for (const protocols of [['autoassist-http'], ['autoassist-listener']]) {
    for (const [p, origin] of [['/ws', 'https://good.example'], ['/nope', 'https://evil.example'], ['/ws', 'https://evil.example']]) {
      await assert.rejects(Client.connect(base + p, { protocols, origin }),
        `${protocols} at ${p} from ${origin} must be refused`);
    }
  }
  assert.equal((await healthz(server.port)).json.connections, 0);
  // The chat protocol asked for by name is the chat, checked as ever.
  const c = await Client.connect(server.wsUrl, { protocols: ['autoassist'], origin: 'https://good.example' });
  await c.hello();
  await c.ask(1, 'Does my payment method change?');
  await assert.rejects(Client.connect(server.wsUrl, { protocols: ['autoassist'], origin: 'https://good.example' }),
    'past --max-connections');
  await c.close();
  await stopClean(server);
});

test('--max-connections 2: a third connection is refused (503); a place that frees up is taken again', async (t) => {
  const server = await startServer(t, ['--max-connections', '2']);
  const a = await Client.connect(server.wsUrl);
  const b = await Client.connect(server.wsUrl);
  await assert.rejects(Client.connect(server.wsUrl), { status: 503 }, 'the third connection must be refused');
  // HTTP is still answered.
  assert.equal((await healthz(server.port)).json.connections, 2);
  await a.close();
  for (let i = 0; i < 40 && (await healthz(server.port)).json.connections !== 1; i++) await sleep(50);
  const c = await Client.connect(server.wsUrl);
  await c.hello();
  await c.ask(1, 'Does my payment method change?');
  await b.close();
  await c.close();
  assert.equal((await metrics(server.port)).autoassist_connections_rejected_total, 1);
  await stopClean(server);
});

// The soft and hard limits on open files of process pid, as numbers
// (Infinity for "unlimited").
function fileLimits(pid) {
  const m = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').match(/Max open files\s+(\S+)\s+(\S+)/);
  return m.slice(1, 3).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
}

const HAVE_PRLIMIT = spawnSync('prlimit', ['--version']).status === 0;

test('open files: the server raises its soft limit for --max-connections; out of descriptors it logs a line a second, not one per refused accept, and recovers', { skip: !HAVE_PRLIMIT && 'no prlimit' }, async (t) => {
  // Started with a soft limit of 100: twice the connections, for those
  // still in their upgrade, and 256 of its own take 296.
  const server = await startServer(t, ['--max-connections', '20'], {}, ['prlimit', '--nofile=100:4096', '--']);
  assert.deepEqual(fileLimits(server.proc.pid), [296, 4096]);
  // Now leave it fewer descriptors than the connections about to come.
  assert.equal(spawnSync('prlimit', ['--pid', String(server.proc.pid), '--nofile=40:40']).status, 0);
  const raws = [];
  for (let i = 0; i < 60; i++) raws.push(await Raw.open(server.port));
  await sleep(2500);
  const lines = server.logLines().map((l) => JSON.parse(l)).filter((o) => o.event === 'lws');
  assert.ok(lines.length >= 1 && lines.length <= 5, `${lines.length} lws lines in 2.5 s`);
  assert.ok(lines.some((o) => o.repeated > 0), JSON.stringify(lines));
  for (const r of raws) r.sock.destroy();
  await sleep(500);
  const c = await Client.connect(server.wsUrl);
  await c.hello();
  await c.ask(1, 'Does my payment method change?');
  await c.close();
  await stopClean(server);
});

test('--idle-timeout 2: pinged after 1 s; a client that never answers is hung up; one that pongs stays', async (t) => {
  const server = await startServer(t, ['--idle-timeout', '2']);
  const ponging = await Client.connect(server.wsUrl); // ws answers pings itself
  let pings = 0;
  ponging.ws.on('ping', () => { pings++; });
  const raw = await Raw.open(server.port);
  raw.collect();
  const t0 = Date.now();
  await raw.write(handshake(HOST, server.port));
  await raw.waitFor((s) => s.includes('\r\n\r\n'));
  const headerLen = raw.data.indexOf('\r\n\r\n') + 4;
  // A ping frame (0x89) arrives, then the hang-up.
  await raw.waitFor(() => raw.data.length > headerLen && raw.data[headerLen] === 0x89, 3000);
  await raw.waitClose(4000);
  const took = Date.now() - t0;
  assert.ok(took >= 1500 && took < 4500, `hung up after ${took} ms`);
  assert.ok(pings >= 1);
  assert.equal((await metrics(server.port))['autoassist_errors_total{code="idle_timeout"}'], 1);
  assert.equal(ponging.closed, null, 'a client that answers pings is kept');
  await ponging.hello();
  await ponging.ask(1, 'Does my payment method change?');
  await ponging.close();
  await stopClean(server);
});

test('--idle-timeout 2: a client that sends messages is not hung up, though it never answers a ping', async (t) => {
  const server = await startServer(t, ['--idle-timeout', '2']);
  const raw = await Raw.open(server.port);
  raw.collect();
  await raw.write(handshake(HOST, server.port));
  await raw.waitFor((s) => s.includes('\r\n\r\n'));
  const headerLen = raw.data.indexOf('\r\n\r\n') + 4;
  // Unanswered pings, one message every 0.6 s for 4.2 s: twice the timeout.
  for (let i = 0; i < 7; i++) {
    await raw.write(maskedTextFrame(JSON.stringify({ type: 'message', id: `m${i}`, text: 'Does my payment method change?' })));
    await sleep(600);
  }
  assert.equal(raw.ended, false, 'the server hung up on a client that kept sending');
  const replies = (raw.data.subarray(headerLen).toString('latin1').match(/"type":"reply"/g) || []).length;
  assert.equal(replies, 7);
  raw.destroy();
  await stopClean(server);
});

test('CVE-2025-11677: "Upgrade: foo" is refused cleanly, and the server stays healthy', async (t) => {
  const server = await startServer(t);
  const requests = [
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo, websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', // no key
  ];
  for (const req of requests) {
    const raw = await Raw.open(server.port);
    raw.collect();
    await raw.write(req);
    // Either an HTTP status line or a hang-up, within 2 s, and never 101.
    await raw.waitFor((s) => /^HTTP\/1\.[01] \d{3} /.test(s), 2000);
    const status = raw.text().match(/^HTTP\/1\.[01] (\d{3}) /);
    if (status) assert.notEqual(status[1], '101', `switched protocols for ${JSON.stringify(req)}`);
    raw.destroy();
    assert.equal((await healthz(server.port)).status, 200, `healthy after ${JSON.stringify(req)}`);
  }
  const c = await Client.connect(server.wsUrl);
  await c.hello();
  await c.ask(1, 'Does my payment method change?');
  await c.close();
  await stopClean(server);
});

test('HTTP keep-alive: two requests pipelined on one connection both get their bodies (and nothing leaks)', async (t) => {
  const server = await startServer(t);
  const raw = await Raw.open(server.port);
  raw.collect();
  await raw.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  await raw.waitFor((s) => s.includes('autoassist_reply_seconds_count'), 1000).catch(() => {});
  raw.destroy();
  const text = raw.text().replace(/^(content-security-policy|x-[a-z-]+|referrer-policy): .*\r\n/gm, '');
  // Stop first, so that a sanitizer build reports what leaked either way.
  const exit = await server.stop();
  const problems = [];
  if (!/"status":"ok"/.test(text)) problems.push('the /healthz body is missing');
  if (!/autoassist_reply_seconds_count/.test(text)) problems.push('the /metrics body is missing');
  problems.push(...sanitizerReports(server.stderr));
  if (exit.code !== 0) problems.push(`exit code ${exit.code}`);
  assert.deepEqual(problems, [], `what came back: ${JSON.stringify(text)}`);
});

test('one client saying hello over and over does not use up the conversations for everyone else', async (t) => {
  // --max-connections 1 keeps room for 4 sessions (max_connections * 4).
  // With the defaults it takes 40000 hellos: 50 connections that each say
  // hello 10 times (the burst), hang up and reconnect (a new connection
  // gets a full token bucket) do it in under 5 s, and every new customer
  // is then refused for the session TTL (30 minutes).
  const server = await startServer(t, ['--max-connections', '1']);
  const greedy = await Client.connect(server.wsUrl);
  const answers = [];
  for (let i = 0; i < 6; i++) {
    greedy.send({ type: 'hello' });
    const f = await greedy.next();
    answers.push(f.type === 'welcome' ? 'welcome' : `${f.type}:${f.code}`);
  }
  await greedy.close();
  for (let i = 0; i < 40 && (await healthz(server.port)).json.connections !== 0; i++) await sleep(50);

  const customer = await Client.connect(server.wsUrl);
  customer.send({ type: 'message', id: 1, text: 'Does my payment method change?' });
  const first = await customer.next();
  await customer.close();
  await stopClean(server);
  assert.equal(first.type, 'welcome',
    `a new customer is refused: ${JSON.stringify(first)} (the greedy client got ${answers.join(', ')})`);
});
