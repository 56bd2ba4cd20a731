'use strict';
/* The chat widget in a real browser: Debian's chromium (headless), driven by
 * playwright-core, against the real `autoassist serve` and a real
 * redis-server. Each test starts its own redis-server (on a unix socket in
 * a temporary directory) and its own server on a free port.
 *
 *   AUTOASSIST_BIN          the server binary (default: ../../build/autoassist)
 *   AUTOASSIST_SCREENSHOTS  where screenshots go (default: a temporary dir)
 *   CHROMIUM                the browser (default: /usr/bin/chromium)
 *
 * Every wait is bounded. */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.resolve(process.env.AUTOASSIST_BIN || path.join(ROOT, 'build', 'autoassist'));
const WEB = path.join(ROOT, 'web');
const SHOTS = process.env.AUTOASSIST_SCREENSHOTS ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'autoassist-shots-'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const METER = '707057500012345671';
const REGISTRY = [
  { meter_id: METER, address: 'Storgata 12B', postcode: '0155', city: 'Oslo', supply_start: '2027-03-01' },
];
const WAIT = 10000;        /* one reply, one state change */
const RECONNECT_WAIT = 20000;

let browser;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
});

after(async () => {
  if (browser) await browser.close();
});

/* ---- processes ---- */

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

function redisCli(sock, ...args) {
  return execFileSync('redis-cli', ['-s', sock, ...args],
                      { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function exited(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

async function stop(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  if (!(await exited(proc, 12000))) {
    proc.kill('SIGKILL');
    await exited(proc, 2000);
  }
}

/* A redis-server on a unix socket, a registry file and the server: what a
 * test needs, torn down by close(). */
class Stack {
  /* serveArgs: more serve options for the server's first start. */
  async start(serveArgs = []) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoassist-browser-'));
    this.sock = path.join(this.dir, 'redis.sock');
    this.redis = spawn('redis-server', ['--port', '0', '--unixsocket', this.sock, '--unixsocketperm', '700',
                                        '--save', '', '--appendonly', 'no', '--dir', this.dir],
                       { stdio: ['ignore', 'ignore', 'inherit'] });
    await until('redis-server', () => redisCli(this.sock, 'PING').trim() === 'PONG', 5000);
    /* The grid registry: the file for --registry, and the same records in
     * Redis (docs/redis.md), where the server looks them up once it has
     * --redis. */
    this.registry = path.join(this.dir, 'registry.jsonl');
    fs.writeFileSync(this.registry, REGISTRY.map((r) => JSON.stringify(r)).join('\n') + '\n');
    for (const r of REGISTRY) {
      redisCli(this.sock, 'HSET', `autoassist:registry:meter:${r.meter_id}`, 'meter_id', r.meter_id,
               'address', r.address, 'postcode', r.postcode, 'city', r.city, 'supply_start', r.supply_start);
      redisCli(this.sock, 'SET', `autoassist:registry:addr:${r.address.toLowerCase()}`, r.meter_id);
    }
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}/`;
    this.log = '';
    await this.startServer(serveArgs);
    return this;
  }

  /* extra: more serve options, for this start only. */
  async startServer(extra = []) {
    this.server = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(this.port), '--web', WEB,
                              '--redis', `unix://${this.sock}`, '--spool', path.join(this.dir, 'spool.jsonl'),
                              '--registry', this.registry, ...extra],
                        { stdio: ['ignore', 'ignore', 'pipe'] });
    this.server.stderr.on('data', (d) => { this.log += d; });
    const proc = this.server;
    await until('the server to be healthy', async () => {
      if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}:\n${this.log}`);
      const r = await get(`${this.url}healthz`);
      return r.status === 200 && JSON.parse(r.body).redis === 'ok';
    }, 10000).catch((e) => { throw new Error(`${e.message}\n${this.log}`); });
  }

  async stopServer() {
    await stop(this.server);
  }

  tickets() {
    /* XRANGE as redis-cli prints it: id, then field and value lines. */
    const lines = redisCli(this.sock, 'XRANGE', 'autoassist:l2', '-', '+').split('\n');
    const out = [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === 'ticket_id') out.push({ ticket_id: lines[i + 1] });
      if (lines[i] === 'session_id' && out.length) out[out.length - 1].session_id = lines[i + 1];
      if (lines[i] === 'topics' && out.length) out[out.length - 1].topics = lines[i + 1];
    }
    return out;
  }

  async close() {
    await stop(this.server);
    await stop(this.redis);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/* ---- the page ---- */

/* Records what the page does that a test wants to see afterwards: the
 * WebSocket frames, the sockets (to drop one), whether the typing indicator
 * was ever shown. */
function instrument() {
  window.__aa = { sockets: [], frames: [], typingSeen: false };
  const Native = window.WebSocket;
  window.WebSocket = new Proxy(Native, {
    construct(T, args) {
      const ws = new T(...args);
      window.__aa.sockets.push(ws);
      ws.addEventListener('message', (e) => window.__aa.frames.push({ dir: 'in', data: JSON.parse(e.data) }));
      const send = ws.send.bind(ws);
      ws.send = (d) => { window.__aa.frames.push({ dir: 'out', data: JSON.parse(d) }); send(d); };
      return ws;
    },
  });
  new MutationObserver((records) => {
    for (const r of records)
      if (r.target.classList && r.target.classList.contains('aa-typing') && r.oldValue !== null)
        window.__aa.typingSeen = true;
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['hidden'], attributeOldValue: true });
}

async function newPage(stack, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport || { width: 1280, height: 800 },
    locale: options.locale || 'en-GB',
    reducedMotion: options.reducedMotion || 'no-preference',
  });
  await context.addInitScript(instrument);
  if (options.init) await context.addInitScript(options.init);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    /* A refused WebSocket while the server is down is expected; anything
     * else the console calls an error (a CSP violation, say) is not. */
    if (m.type() === 'error' && !/WebSocket connection to .* failed|Failed to load resource/.test(m.text()))
      problems.push(m.text());
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.problems = problems;
  page.closeAll = () => context.close();
  await page.goto(stack.url + (options.query || ''));
  await page.locator('.aa-launcher').waitFor({ state: 'visible' });
  return page;
}

async function withStack(fn, serveArgs = []) {
  const stack = await new Stack().start(serveArgs);
  try {
    await fn(stack);
  } catch (e) {
    e.message += `\n--- server log (tail) ---\n${stack.log.split('\n').slice(-25).join('\n')}`;
    throw e;
  } finally {
    await stack.close();
  }
}

async function open(page) {
  await page.locator('.aa-launcher').click();
  await page.locator('.aa-panel').waitFor({ state: 'visible' });
  await page.locator('.aa-root[data-state="ready"]').waitFor();
}

const assistant = (page) => page.locator('.aa-msg--assistant .aa-bubble');
const customer = (page) => page.locator('.aa-msg--customer .aa-bubble');

/* Types text and presses Enter, as the customer would. */
async function write(page, text) {
  await page.locator('.aa-input').fill(text);
  await page.locator('.aa-input').press('Enter');
}

/* The browser refuses the page's WebSocket (its own routing: the server
 * stays up) until the function returned is called. */
async function refuseWebSocket(page) {
  let refuse = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (refuse) ws.close({ code: 1011, reason: 'test: offline' });
    else ws.connectToServer();
  });
  return () => { refuse = false; };
}

/* Sends text as the customer would (type, Enter) and returns the text of
 * the assistant's reply to it. */
async function say(page, text) {
  const before = await assistant(page).count();
  await write(page, text);
  await assistant(page).nth(before).waitFor();
  return (await assistant(page).nth(before).innerText()).replace(/^\S+: /, '');
}

async function chip(page, label) {
  const before = await assistant(page).count();
  await page.locator('.aa-chip', { hasText: label }).click();
  await assistant(page).nth(before).waitFor();
  return assistant(page).nth(before).innerText();
}

function frames(page, dir, type) {
  return page.evaluate(([d, t]) => window.__aa.frames.filter((f) => f.dir === d && f.data.type === t)
    .map((f) => f.data), [dir, type]);
}

function stored(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('autoassist:chat')));
}

/* Two frames, so layout and scrolling are done before a screenshot. */
function settle(page) {
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

function noProblems(page) {
  assert.deepEqual(page.problems, [], 'console errors, page errors or dialogs');
}

/* ---- tests ---- */

test('an English conversation covers all four topics', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    assert.equal(await page.locator('.aa-title').innerText(), 'Moving help');
    assert.match(await assistant(page).first().innerText(), /I can help with your move/);

    let r = await chip(page, 'Contract start');
    assert.match(r, /check it against the grid registry/);
    r = await say(page, `We move in on 1 March 2027, the meter ID is ${METER}.`);
    assert.match(r, /confirmed your Tibber contract for the new address starts on 1 March 2027/);

    r = await chip(page, 'New address');
    assert.match(r, /address/i);
    r = await say(page, 'The new address is Storgata 12B, 0155 Oslo');
    assert.match(r, /Your profile has been updated! Your new home at Storgata 12B/);

    r = await chip(page, 'Tibber Pulse');
    assert.match(r, /You can take your Tibber Pulse with you!/);
    r = await chip(page, 'Payment method');
    assert.match(r, /Your payment method remains the same by default/);

    /* Customer and assistant bubbles, each with a timestamp. */
    assert.equal(await customer(page).count(), 6);
    assert.equal(await assistant(page).count(), 7);
    const times = await page.locator('.aa-msg time').evaluateAll((ts) => ts.map((t) => t.dateTime));
    assert.equal(times.length, 13);
    for (const t of times) assert.ok(!Number.isNaN(Date.parse(t)), t);
    assert.match(await page.locator('.aa-msg time').last().innerText(), /^\d{2}[:.]\d{2}/);
    /* Paragraphs of a reply are separate paragraphs. */
    const paras = await assistant(page).evaluateAll((bs) => Math.max(...bs.map((b) => b.querySelectorAll('p').length)));
    assert.ok(paras >= 1);
    assert.ok(await page.evaluate(() => window.__aa.typingSeen), 'the typing indicator was shown');
    assert.equal(await page.locator('.aa-typing').isVisible(), false);

    const hello = await frames(page, 'out', 'hello');
    assert.equal(hello.length, 1);
    assert.equal(hello[0].lang, 'en');
    assert.equal(hello[0].session, undefined);
    const [welcome] = await frames(page, 'in', 'welcome');
    assert.equal((await stored(page)).session, welcome.session);
    noProblems(page);
    await page.closeAll();
  });
});

test('a Norwegian conversation', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack, { query: '?lang=nb', locale: 'nb-NO' });
    assert.equal(await page.locator('.aa-launcher').innerText(), 'Chat med oss');
    await open(page);
    assert.equal(await page.locator('.aa-input').getAttribute('placeholder'), 'Skriv spørsmålet ditt…');
    assert.equal(await page.locator('.aa-close').getAttribute('aria-label'), 'Lukk chatten');
    assert.equal(await page.locator('.aa-status-text').innerText(), 'Tilkoblet');
    assert.equal(await page.locator('.aa-root').getAttribute('lang'), 'nb');
    assert.equal(await page.locator('.aa-title').innerText(), 'Hjelp med flytting');

    let r = await say(page, 'Hei! Når starter avtalen min? Vi flytter inn 1. mars 2027.');
    assert.match(r, /For å bekrefte 1\. mars 2027 som startdato må jeg sjekke målepunktregisteret/);
    r = await say(page, `Målepunkt-ID-en er ${METER}`);
    assert.match(r, /Jeg har bekreftet at Tibber-avtalen din for den nye adressen starter 1\. mars 2027/);
    r = await chip(page, 'Tibber Pulse');
    assert.match(r, /Du kan ta med deg Tibber Pulse/);
    r = await chip(page, 'Betalingsmåte');
    assert.match(r, /betalingsmåte/i);
    assert.equal((await frames(page, 'out', 'hello'))[0].lang, 'nb');
    for (const reply of await frames(page, 'in', 'reply')) assert.equal(reply.lang, 'nb');
    noProblems(page);
    await page.closeAll();
  });
});

test('a solar mention shows the escalation notice and the ticket is in the Redis stream', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    const r = await say(page, 'When does my contract start? We move in on 1 March 2027, and we have solar panels on the roof.');
    assert.match(r, /To confirm 1 March 2027 as your start date/);
    assert.match(r, /escalated it to our L2 technical support/);
    const notice = page.locator('.aa-notice--escalation');
    await notice.waitFor();
    assert.match(await notice.innerText(), /Passed on to technical support/);
    const ticket = await notice.locator('.aa-ticket').innerText();
    assert.match(ticket, /^L2-\d{8}-[0-9A-F]{16}$/);
    assert.ok(r.includes(ticket), 'the reply names the same ticket');
    /* Distinct from a bubble: its own element, colours and border. */
    const look = await notice.evaluate((n) => {
      const s = getComputedStyle(n);
      return { bg: s.backgroundColor, border: s.borderLeftWidth };
    });
    assert.notEqual(look.bg, await assistant(page).first().evaluate((b) => getComputedStyle(b).backgroundColor));
    assert.equal(look.border, '4px');
    /* Announced once, as new. */
    const live = await page.locator('.aa-root > [aria-live]').innerText();
    assert.ok(live.includes(ticket));

    const tickets = stack.tickets();
    assert.equal(tickets.length, 1);
    assert.equal(tickets[0].ticket_id, ticket);
    assert.equal(tickets[0].topics, 'solar');
    assert.equal(tickets[0].session_id, (await stored(page)).session);
    noProblems(page);
    await page.closeAll();
  });
});

test('a dropped connection reconnects and resumes the same conversation', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    const r = await say(page, 'When does my contract start? We move in on 1 March 2027.');
    assert.match(r, /To confirm 1 March 2027 as your start date/);
    const session = (await stored(page)).session;

    await page.evaluate(() => window.__aa.sockets[window.__aa.sockets.length - 1].close());
    await page.locator('.aa-root[data-state="offline"]').waitFor();
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    const hellos = await frames(page, 'out', 'hello');
    assert.equal(hellos.length, 2);
    assert.equal(hellos[1].session, session);
    const welcomes = await frames(page, 'in', 'welcome');
    assert.equal(welcomes[1].resumed, true);
    assert.equal(welcomes[1].session, session);

    /* The date given before the drop is still known. */
    const r2 = await say(page, METER);
    assert.match(r2, /starts on 1 March 2027/);
    assert.equal(await page.locator('.aa-notice').count(), 0);
    noProblems(page);
    await page.closeAll();
  });
});

test('the server restarts mid-conversation: the widget reconnects and delivers what was typed meanwhile', async (t) => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    const r = await say(page, 'When does my contract start? We move in on 1 March 2027.');
    assert.match(r, /To confirm 1 March 2027 as your start date/);
    const session = (await stored(page)).session;

    await stack.stopServer();
    await page.locator('.aa-root[data-state="offline"]').waitFor();
    assert.ok(await page.locator('.aa-banner').isVisible(), 'the offline banner is shown');
    assert.match(await page.locator('.aa-status-text').innerText(), /Offline/);

    /* Typed while offline: shown at once, waiting to be sent. */
    await write(page, METER);
    assert.match(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/);
    assert.deepEqual((await stored(page)).outbox.map((m) => m.text), [METER]);
    await sleep(1500); /* a few reconnect attempts fail meanwhile */

    const before = await assistant(page).count();
    await stack.startServer();
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    await assistant(page).nth(before).waitFor();
    assert.doesNotMatch(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/);
    assert.deepEqual((await stored(page)).outbox, []);
    /* Sent once, on the new connection, after its welcome. */
    const order = await page.evaluate(() => window.__aa.frames.map((f) => f.data.type + ':' + (f.data.text || '')));
    assert.equal(order.filter((f) => f === `message:${METER}`).length, 1);
    assert.ok(order.indexOf(`message:${METER}`) > order.lastIndexOf('welcome:'), order.join(' '));
    const hellos = await frames(page, 'out', 'hello');
    assert.equal(hellos.length, 2);
    assert.equal(hellos[1].session, session, 'the reconnect asks for the same session');

    /* Whatever the server answered, the widget says so when it is a new
     * conversation. */
    const welcome2 = (await frames(page, 'in', 'welcome'))[1];
    assert.equal(await page.locator('.aa-notice', { hasText: 'could not be continued' }).count(),
                 welcome2.session === session ? 0 : 1);
    assert.equal((await stored(page)).session, welcome2.session);

    /* The conversation goes on after the restart. */
    const r3 = await chip(page, 'Payment method');
    assert.match(r3, /Your payment method remains the same by default/);
    noProblems(page);

    await t.test('the same session continues (facts known before the restart)', async () => {
      const welcome = (await frames(page, 'in', 'welcome'))[1];
      assert.equal(welcome.session, session);
      assert.equal(welcome.resumed, true);
      assert.match(await assistant(page).nth(before).innerText(), /starts on 1 March 2027/);
    });
    await page.closeAll();
  });
});

test('a message typed offline survives a page reload and is sent once the connection is back', async () => {
  await withStack(async (stack) => {
    /* The page loads over HTTP while the WebSocket is refused (the
     * browser's own routing: the server itself stays up). */
    const page = await newPage(stack);
    const online = await refuseWebSocket(page);
    await page.locator('.aa-launcher').click();
    await page.locator('.aa-root[data-state="offline"]').waitFor();
    await write(page, 'Will my payment method change?');
    assert.match(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/);

    await page.reload();
    await page.locator('.aa-panel').waitFor({ state: 'visible' });
    assert.equal(await customer(page).count(), 1, 'the transcript survives the reload');
    assert.match(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/);
    /* Restored messages are not announced again; that the chat is
     * offline is. */
    await until('the offline state to be announced', async () =>
      (await page.locator('.aa-root > [aria-live] > *').allInnerTexts()).length === 1, WAIT);
    assert.deepEqual(await page.locator('.aa-root > [aria-live] > *').allInnerTexts(), ['Offline – reconnecting…']);

    online();
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    await assistant(page).nth(1).waitFor();
    assert.match(await assistant(page).nth(1).innerText(), /Your payment method remains the same/);
    assert.doesNotMatch(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/);
    assert.deepEqual((await stored(page)).outbox, []);
    /* Then only the new reply is announced. */
    const live = await page.locator('.aa-root > [aria-live] > *').allInnerTexts();
    assert.equal(live.length, 2, JSON.stringify(live));
    assert.match(live[1], /^Assistant: Your payment method/);
    noProblems(page);
    await page.closeAll();
  });
});

test('the server dies after "typing" and before the reply: the message goes again, and its ticket is filed once', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    const text = 'Our solar inverter shows an error since yesterday.';
    stack.redis.kill('SIGSTOP'); /* the ticket waits for Redis */
    await write(page, text);
    await page.waitForFunction(() => window.__aa.frames.some((f) => f.data.type === 'typing'));
    stack.server.kill('SIGKILL');
    await exited(stack.server, 5000);
    stack.redis.kill('SIGCONT');
    assert.deepEqual((await stored(page)).outbox.map((m) => m.text), [text], 'typing is no answer');
    await page.locator('.aa-root[data-state="offline"]').waitFor();
    assert.match(await page.locator('.aa-msg--customer').last().innerText(), /Waiting to send/,
                 'it says it waits to go again');

    await stack.startServer();
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    await page.locator('.aa-notice--escalation').waitFor();
    const ticket = await page.locator('.aa-ticket').innerText();
    assert.deepEqual(stack.tickets().map((x) => x.ticket_id), [ticket], 'one ticket, the one shown');
    const sent = (await frames(page, 'out', 'message')).filter((m) => m.text === text);
    assert.equal(sent.length, 2);
    assert.equal(sent[0].id, sent[1].id, 'sent again under its id');
    assert.deepEqual((await stored(page)).outbox, []);
    noProblems(page);
    await page.closeAll();
  }, ['--redis-timeout', '5']);
});

test('a server with a lower --max-bytes: a message over it is refused in the widget, also one typed before the welcome told the limit', async () => {
  await withStack(async (stack) => {
    /* Typed while the WebSocket is refused, so before any welcome: the
     * widget does not know the limit yet. Before, the server closed the
     * connection on such a message (1009) at every reconnect, and nothing
     * after it was ever sent. */
    const page = await newPage(stack);
    const online = await refuseWebSocket(page);
    await page.locator('.aa-launcher').click();
    await page.locator('.aa-root[data-state="offline"]').waitFor();
    const long = 'When does my contract start? ' + 'x'.repeat(1200);
    await write(page, long);
    await write(page, 'Will my payment method change?');
    assert.equal((await stored(page)).outbox.length, 2);

    online();
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    await page.locator('.aa-msg--assistant', { hasText: 'Your payment method remains the same' }).waitFor();
    assert.match(await page.locator('.aa-msg--customer').first().innerText(), /Not sent/);
    assert.equal(await page.locator('.aa-notice', { hasText: 'too long' }).count(), 1);
    assert.equal((await frames(page, 'out', 'message')).filter((m) => m.text === long).length, 0);
    assert.equal((await frames(page, 'in', 'welcome')).length, 1, 'no reconnect loop');
    assert.deepEqual((await stored(page)).outbox, []);

    /* Now that the welcome told it, a long message is refused as it is typed. */
    await write(page, long);
    assert.match(await page.locator('.aa-hint').innerText(), /too long/);
    assert.equal(await customer(page).count(), 2);
    noProblems(page);
    await page.closeAll();
  }, ['--max-bytes', '1000']);
});

test('the server\'s queue for the connection is full: the message past it waits unread, and each is answered once, in order', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    stack.redis.kill('SIGSTOP'); /* the first ticket waits; two more wait behind it */
    const texts = ['My solar inverter is offline.', 'The home battery does not charge.',
                   'The solar app shows an error.', 'Will my payment method change?'];
    for (const text of texts) await write(page, text);
    /* With --queue 2 the server reads no further than the two waiting:
     * the fourth stays in the socket, refused by no one. */
    await until('the four messages sent', async () => (await frames(page, 'out', 'message')).length >= 4, WAIT);
    await sleep(500);
    assert.deepEqual(await frames(page, 'in', 'error'), []);
    stack.redis.kill('SIGCONT');
    await page.locator('.aa-msg--assistant', { hasText: 'Your payment method remains the same' })
      .waitFor({ timeout: WAIT });
    await until('every reply', async () => (await frames(page, 'in', 'reply')).length >= 4, WAIT);
    await sleep(500);
    const sent = (await frames(page, 'out', 'message'));
    assert.deepEqual(sent.map((m) => m.text), texts, 'each sent once');
    const replies = (await frames(page, 'in', 'reply')).map((r) => r.in_reply_to);
    assert.deepEqual(replies, sent.map((m) => m.id), 'each answered once, in order');
    assert.deepEqual(await frames(page, 'in', 'error'), []);
    assert.equal((await frames(page, 'out', 'hello')).length, 1, 'on the same connection');
    assert.deepEqual((await stored(page)).outbox, []);
    noProblems(page);
    await page.closeAll();
  }, ['--queue', '2', '--redis-timeout', '5']);
});

test('a link that goes silent with a message out is given up on after 15 s, and the message goes again', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    stack.server.kill('SIGSTOP'); /* hangs: the socket stays open, nothing answers */
    await write(page, 'Will my payment method change?');
    await page.locator('.aa-root[data-state="offline"]').waitFor({ timeout: RECONNECT_WAIT });
    stack.server.kill('SIGCONT');
    await page.locator('.aa-msg--assistant', { hasText: 'Your payment method remains the same' })
      .first().waitFor({ timeout: RECONNECT_WAIT });
    assert.deepEqual((await stored(page)).outbox, []);
    assert.ok((await frames(page, 'out', 'hello')).length >= 2, 'it reconnected');
    noProblems(page);
    await page.closeAll();
  });
});

test('the browser going offline shows the offline state at once, and coming back reconnects', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    await page.context().setOffline(true);
    await page.locator('.aa-root[data-state="offline"]').waitFor({ timeout: 2000 });
    assert.ok(await page.locator('.aa-banner').isVisible());
    await page.context().setOffline(false);
    await page.locator('.aa-root[data-state="ready"]').waitFor({ timeout: RECONNECT_WAIT });
    assert.match(await say(page, 'Will my payment method change?'), /Your payment method remains the same/);
    noProblems(page);
    await page.closeAll();
  });
});

test('a server that does not serve the page\'s language: the widget says hello again without it', async () => {
  await withStack(async (stack) => {
    /* The shipped data without Dutch. */
    const data = fs.mkdtempSync(path.join(stack.dir, 'data-'));
    for (const dir of ['intents', 'templates']) {
      fs.mkdirSync(path.join(data, dir));
      for (const f of fs.readdirSync(path.join(ROOT, dir)))
        if (f !== 'nl.txt') fs.copyFileSync(path.join(ROOT, dir, f), path.join(data, dir, f));
    }
    await stack.stopServer();
    await stack.startServer(['--intents', path.join(data, 'intents'), '--templates', path.join(data, 'templates')]);
    const page = await newPage(stack, { query: '?lang=nl' });
    await open(page);
    const hellos = await frames(page, 'out', 'hello');
    assert.deepEqual(hellos.map((h) => h.lang), ['nl', undefined]);
    assert.equal((await frames(page, 'in', 'welcome')).length, 1);
    assert.equal(await page.locator('.aa-notice').count(), 0, 'no error notice');
    assert.match(await say(page, 'Will my payment method change?'), /Your payment method remains the same/);
    noProblems(page);
    await page.closeAll();
  });
});

test('markup typed by the customer is shown as text and runs nothing', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    await open(page);
    const evil = '<img src=x onerror=alert(1)>';
    await say(page, evil);
    const bubble = customer(page).last();
    assert.equal((await bubble.locator('p').innerText()), evil);
    assert.equal(await page.locator('.aa-root img, .aa-root script').count(), 0);
    assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length), 0);
    /* Every bubble holds only the screen reader prefix and paragraphs of
     * text. */
    const tags = await page.locator('.aa-bubble *').evaluateAll((es) => [...new Set(es.map((e) => e.tagName))]);
    assert.deepEqual(tags.sort(), ['P', 'SPAN']);
    /* The script never parses text as HTML. */
    const src = fs.readFileSync(path.join(WEB, 'autoassist-widget.js'), 'utf8');
    assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    /* Right-to-left text is laid out right to left. */
    await say(page, 'שלום, מתי מתחיל החוזה שלי?');
    assert.equal(await customer(page).last().locator('p').evaluate((e) => getComputedStyle(e).direction), 'rtl');
    assert.equal(await customer(page).first().locator('p').evaluate((e) => getComputedStyle(e).direction), 'ltr');
    await sleep(300);
    noProblems(page);
    await page.closeAll();
  });
});

test('keyboard only: open, type, send, close', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack);
    const focused = () => page.evaluate(() => {
      const a = document.activeElement;
      return a ? a.className || a.tagName : '';
    });
    /* Tab to the launcher. */
    for (let i = 0; i < 40 && (await focused()) !== 'aa-launcher'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'aa-launcher');
    await page.keyboard.press('Enter');
    await page.locator('.aa-panel').waitFor({ state: 'visible' });
    assert.equal(await focused(), 'aa-input', 'focus moves into the input when the panel opens');
    assert.equal(await page.locator('.aa-launcher').getAttribute('aria-expanded'), 'true');
    await page.locator('.aa-root[data-state="ready"]').waitFor();

    /* Empty and oversized text are refused with a visible hint. */
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('.aa-hint').innerText(), 'Please type a message first.');
    assert.ok(await page.locator('.aa-hint').isVisible());
    await page.keyboard.insertText('ø'.repeat(1800));
    assert.match(await page.locator('.aa-hint').innerText(), /too long/);
    await page.keyboard.press('Enter');
    assert.equal(await customer(page).count(), 0);
    assert.equal(await page.locator('.aa-input').getAttribute('aria-invalid'), 'true');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    assert.equal(await page.locator('.aa-hint').innerText(), '');

    await page.keyboard.type('Can I take my Pulse with me?');
    await page.keyboard.press('Enter');
    await assistant(page).nth(1).waitFor();
    assert.match(await assistant(page).nth(1).innerText(), /Tibber Pulse/);
    assert.equal(await page.locator('.aa-input').inputValue(), '');
    assert.equal(await focused(), 'aa-input');

    /* Shift+Tab reaches the chips; Enter on one sends it. */
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'aa-chip');
    await page.keyboard.press('Enter');
    await assistant(page).nth(2).waitFor();
    assert.match(await assistant(page).nth(2).innerText(), /payment method/);

    /* Escape closes and gives focus back to the launcher. */
    await page.locator('.aa-input').focus();
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.aa-panel').isVisible(), false);
    assert.equal(await focused(), 'aa-launcher');
    assert.equal(await page.locator('.aa-launcher').getAttribute('aria-expanded'), 'false');

    /* Reopen; Shift+Tab back to the close button; Enter closes. */
    await page.keyboard.press('Enter');
    assert.equal(await focused(), 'aa-input');
    for (let i = 0; i < 15 && (await focused()) !== 'aa-close'; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'aa-close');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('.aa-panel').isVisible(), false);
    assert.equal(await focused(), 'aa-launcher');

    /* Every control has a name. */
    await page.keyboard.press('Enter');
    const unnamed = await page.evaluate(() => {
      const name = (e) => (e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent) ||
                           e.textContent || '').trim();
      return [...document.querySelectorAll('.aa-root button, .aa-root textarea, .aa-root [tabindex], .aa-root [role="group"], .aa-root [role="dialog"]')]
        .filter((e) => e.getAttribute('role') === 'dialog'
          ? !document.getElementById(e.getAttribute('aria-labelledby'))
          : !name(e))
        .map((e) => e.outerHTML.slice(0, 80));
    });
    assert.deepEqual(unnamed, []);
    noProblems(page);
    await page.closeAll();
  });
});

test('the language comes from the page, then the browser, and data-lang overrides it; every string exists in every language', async () => {
  await withStack(async (stack) => {
    /* <html lang="sv"> (set before the widget starts). */
    let page = await newPage(stack, {
      init: () => document.addEventListener('readystatechange', () => {
        if (document.readyState === 'interactive') document.documentElement.lang = 'sv-SE';
      }),
    });
    assert.equal(await page.locator('.aa-launcher').innerText(), 'Chatta med oss');
    await open(page);
    assert.equal((await frames(page, 'out', 'hello'))[0].lang, 'sv');
    await page.closeAll();

    /* No lang on the page: the browser's. */
    page = await newPage(stack, {
      locale: 'de-DE',
      init: () => document.addEventListener('readystatechange', () => {
        if (document.readyState === 'interactive') document.documentElement.removeAttribute('lang');
      }),
    });
    assert.equal(await page.locator('.aa-launcher').innerText(), 'Chatte mit uns');
    await page.closeAll();

    /* data-lang wins over both. */
    page = await newPage(stack, { query: '?lang=nl', locale: 'de-DE' });
    assert.equal(await page.locator('.aa-launcher').innerText(), 'Chat met ons');
    await open(page);
    assert.match(await chip(page, 'Tibber Pulse'), /Je kunt je Tibber Pulse meenemen/);

    const all = await page.evaluate(() => Object.fromEntries(
      window.AutoAssistChat.languages.map((l) => [l, window.AutoAssistChat.strings(l)])));
    assert.deepEqual(Object.keys(all).sort(), ['de', 'en', 'nb', 'nl', 'sv']);
    const keys = Object.keys(all.en).sort();
    for (const [lang, s] of Object.entries(all)) {
      assert.deepEqual(Object.keys(s).sort(), keys, lang);
      for (const k of keys) if (k !== 'chips') assert.ok(typeof s[k] === 'string' && s[k].trim(), `${lang}.${k}`);
      assert.equal(s.chips.length, 4, lang);
    }
    noProblems(page);
    await page.closeAll();

    /* Each chip's text is classified as its topic, in its language. */
    const want = ['contract_start_date', 'address_update', 'pulse_relocation', 'payment_method'];
    const input = [];
    for (const [lang, s] of Object.entries(all))
      s.chips.forEach(([, text], i) => input.push({ lang, text, want: want[i] }));
    const out = execFileSync(BIN, ['classify', '--jsonl'], {
      input: input.map((x) => JSON.stringify({ text: x.text, lang: x.lang })).join('\n') + '\n',
      encoding: 'utf8', timeout: 10000,
    }).trim().split('\n').map((l) => JSON.parse(l));
    out.forEach((o, i) => {
      assert.deepEqual(o.intents.map((x) => x.id), [input[i].want], `${input[i].lang}: ${input[i].text}`);
      assert.equal(o.escalate, false);
    });
  });
});

/* Contrast of the text in the widget against what is behind it. */
function contrastReport() {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const sel = ['.aa-launcher-text', '.aa-title', '.aa-status-text', '.aa-msg--customer .aa-bubble p',
               '.aa-msg--assistant .aa-bubble p', '.aa-meta time', '.aa-chip', '.aa-hint', '.aa-notice p',
               '.aa-notice-title', '.aa-banner', '.aa-state'];
  const out = [];
  for (const s of sel)
    for (const e of document.querySelectorAll(s)) {
      if (!e.offsetParent || !e.textContent.trim()) continue;
      const fg = lum(rgb(getComputedStyle(e).color).slice(0, 3));
      const bg = lum(background(e));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      out.push({ sel: s, ratio: Math.round(ratio * 100) / 100 });
    }
  return out;
}

test('screenshots at desktop size and at 320 px; contrast; reduced motion', async () => {
  await withStack(async (stack) => {
    const page = await newPage(stack, { viewport: { width: 1280, height: 900 } });
    await open(page);
    await say(page, 'We move in on 1 March 2027 and have a home battery. When does my contract start?');
    await page.locator('.aa-notice--escalation').waitFor();
    await page.locator('.aa-input').fill(METER);
    const shotDesktop = path.join(SHOTS, 'widget-desktop.png');
    await settle(page);
    await page.screenshot({ path: shotDesktop, animations: 'disabled' });

    const ratios = await page.evaluate(contrastReport);
    const seen = new Set(ratios.map((r) => r.sel));
    for (const s of ['.aa-launcher-text', '.aa-title', '.aa-status-text', '.aa-msg--customer .aa-bubble p',
                     '.aa-msg--assistant .aa-bubble p', '.aa-meta time', '.aa-chip', '.aa-notice p'])
      assert.ok(seen.has(s), `contrast measured for ${s}`);
    for (const r of ratios) assert.ok(r.ratio >= 4.5, `${r.sel}: contrast ${r.ratio} < 4.5`);

    /* The typing dots move, unless the reader asked for less motion. */
    const anim = (p) => p.locator('.aa-dots-dot').first().evaluate((e) => getComputedStyle(e).animationName);
    assert.equal(await anim(page), 'aa-blink');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    assert.equal(await anim(page), 'none');
    assert.equal(await page.locator('.aa-panel').evaluate((e) => getComputedStyle(e).animationName), 'none');
    noProblems(page);
    await page.closeAll();

    /* 320 px wide: the panel fills the screen, nothing scrolls sideways. */
    const small = await newPage(stack, { viewport: { width: 320, height: 640 } });
    const launcherBox = await small.locator('.aa-launcher').boundingBox();
    assert.ok(launcherBox.x >= 0 && launcherBox.x + launcherBox.width <= 320);
    await open(small);
    await chip(small, 'Tibber Pulse');
    await small.locator('.aa-input').fill('When does my contract start?');
    const shotSmall = path.join(SHOTS, 'widget-320.png');
    await settle(small);
    await small.screenshot({ path: shotSmall, animations: 'disabled' });
    const box = await small.locator('.aa-panel').boundingBox();
    assert.ok(box.x >= 0 && box.width <= 320 && box.y >= 0 && box.height <= 640, JSON.stringify(box));
    for (const s of ['.aa-input', '.aa-send', '.aa-close']) {
      const b = await small.locator(s).boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= 320 && b.y + b.height <= 640, `${s} on screen: ${JSON.stringify(b)}`);
    }
    const overflow = await small.evaluate(() => [...document.querySelectorAll('.aa-root *')]
      .filter((e) => e.getClientRects().length && !e.closest('.aa-sr') &&
                     e.getBoundingClientRect().right > 320.5)
      .map((e) => `${e.tagName}.${e.getAttribute('class')}`));
    assert.deepEqual(overflow, []);
    assert.ok(await small.evaluate(() => document.documentElement.scrollWidth <= 320));
    noProblems(small);
    await small.closeAll();
    assert.ok(fs.statSync(shotDesktop).size > 10000 && fs.statSync(shotSmall).size > 5000);
  });
});
