'use strict';
// End-to-end tests of the L2 queue and the grid registry in Redis: the real
// `autoassist serve` (AUTOASSIST_BIN) against a real redis-server that each
// test starts on a unix socket in its own temporary directory, a real
// WebSocket client, and the technicians' commands (`autoassist l2 ...`,
// `autoassist registry ...`) run as separate processes.
//
// Covered: a ticket from chat to `l2 pull` / `l2 ack`; a mixed message; a
// follow-up of a conversation's ticket at a restarted server;
// Redis killed, paused and restarted mid-conversation (spool, drain,
// exactly once, in order, /healthz); kill -9 of the service with Redis up
// and down; kill -9 of a technician's `l2 pull`; Redis protocol inside a
// message; registry match / mismatch / unknown / bad check digit / Redis
// down / profile link; the spool's idempotent drain, and a message sent
// again on a later day; Redis refusing writes (OOM); a customer leaving
// while the ticket is written; SIGTERM while Redis hangs; SIGHUP while a
// ticket waits for Redis; TCP URLs and --stream.
//
// Three tests fail against the server as it is (server bugs, left failing
// on purpose): the torn spool line, the profile link reply, and SIGTERM
// with a reply owed.
//
// Every wait is bounded; every redis-server, server and CLI process a test
// starts is killed and its directory removed when the test ends.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {
  BIN, HOST, REGISTRY_LINE, Client, Raw, Server, dataCopy, freePort, handshake, healthz, maskedTextFrame,
  metrics, sanitizerReports, sleep, stopClean, waitFor, within,
} = require('./lib');

const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0 &&
  spawnSync('redis-cli', ['--version']).status === 0;
const SKIP = HAVE_REDIS ? false : 'redis-server and redis-cli are needed';

const METER = REGISTRY_LINE.meter_id; // 707057500012345671, in the registry
const METER_UNKNOWN = '707057500012345688'; // valid check digit, not in the registry
const METER_BAD = '707057500012345675'; // wrong check digit
const TICKET_RE = /^L2-\d{8}-[0-9A-F]{16}$/;
const ENTRY_RE = /^\d+-\d+$/;
const CONFIRMED_1_MARCH_2027 =
  'I’ve confirmed your Tibber contract for the new address starts on 1 March 2027. ' +
  'Your billing for the old address will automatically cease on that day.';
const CANNOT_CHECK = 'I can’t check the grid registry right now';
const escalatedText = (topics, ref) =>
  `The technical part about ${topics} needs our experts, so I’ve split it off into a separate ` +
  `ticket (${ref}) and escalated it to our L2 technical support for further investigation.`;
// A follow-up's reply names the conversation's first ticket, ref.
const addedText = (topics, ref) =>
  `I’ve added what you wrote about ${topics} to your ticket (${ref}), so our L2 technical support has it all in one place.`;
// A ticket's dedupe key: its reference without the date.
const dedupeKey = (ref) => `autoassist:l2:ticket:${ref.replace(/^L2-\d{8}-/, 'L2-')}`;
const outcome = (reply, intent) => (reply.outcomes.find((o) => o.intent === intent) || {}).outcome;

// ---- a minimal RESP client (binary-safe, one connection per command) ----

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

// Parses one RESP2 value at buf[i]; null while incomplete. Error replies
// become Error objects.
function parseReply(buf, i) {
  if (i >= buf.length) return null;
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const line = buf.toString('utf8', i + 1, eol);
  const type = String.fromCharCode(buf[i]);
  if (type === '+') return { value: line, next: eol + 2 };
  if (type === '-') return { value: new Error(line), next: eol + 2 };
  if (type === ':') return { value: Number(line), next: eol + 2 };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, next: eol + 2 };
    if (buf.length < eol + 2 + n + 2) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + n), next: eol + 2 + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, next: eol + 2 };
    const out = [];
    let at = eol + 2;
    for (let k = 0; k < n; k++) {
      const r = parseReply(buf, at);
      if (!r) return null;
      out.push(r.value);
      at = r.next;
    }
    return { value: out, next: at };
  }
  throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
}

function respCommand(sock, args, ms = 3000) {
  return within(new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = Buffer.alloc(0);
    c.on('connect', () => c.write(encodeCommand(args)));
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try {
        r = parseReply(buf, 0);
      } catch (err) {
        c.destroy();
        reject(err);
        return;
      }
      if (!r) return;
      c.destroy();
      if (r.value instanceof Error) reject(r.value);
      else resolve(r.value);
    });
    c.on('error', reject);
  }), ms, `Redis to answer ${args[0]}`);
}

// ---- processes ----

// Runs a command to its end (killed after ms). Resolves {code, signal, stdout, stderr}.
function run(cmd, args, ms = 10000) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    p.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(err) });
    });
  });
}

// A redis-server on a unix socket in dir. With aof, every write is fsync'd
// to the append-only file before Redis answers, so a SIGKILL loses nothing
// Redis acknowledged.
class Redis {
  constructor(dir, { aof = false } = {}) {
    this.dir = dir;
    this.aof = aof;
    this.sock = path.join(dir, 'redis.sock');
    this.url = `unix://${this.sock}`;
    this.proc = null;
    this.log = '';
  }

  get running() { return this.proc !== null && this.exit === null; }

  async start(ms = 5000) {
    const args = ['--port', '0', '--unixsocket', this.sock, '--unixsocketperm', '700',
      '--dir', this.dir, '--save', '', '--daemonize', 'no', '--logfile', '',
      '--appendonly', this.aof ? 'yes' : 'no'];
    if (this.aof) args.push('--appendfsync', 'always');
    this.exit = null;
    this.proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
    });
    const until = Date.now() + ms;
    for (;;) {
      if (this.exit) throw new Error(`redis-server exited: ${this.log.slice(-1000)}`);
      try {
        if (await respCommand(this.sock, ['PING'], 500) === 'PONG') return this;
      } catch { /* not listening yet */ }
      if (Date.now() > until) throw new Error(`redis-server did not answer within ${ms} ms`);
      await sleep(25);
    }
  }

  // Stops it with a signal (SIGKILL: a crash; SIGTERM: a clean shutdown).
  async stop(signal = 'SIGKILL') {
    if (!this.running) return;
    this.proc.kill(signal);
    await within(this.exited, 5000, `redis-server to exit after ${signal}`);
  }

  pause() { this.proc.kill('SIGSTOP'); }
  resume() { this.proc.kill('SIGCONT'); }

  cmd(...args) { return respCommand(this.sock, args); }

  // The stream's entries: [{id, fields}], read a page at a time so that a
  // long stream does not make one reply too big to parse in time.
  async entries(stream = 'autoassist:l2') {
    const out = [];
    for (let start = '-'; ;) {
      const r = await this.cmd('XRANGE', stream, start, '+', 'COUNT', '500');
      for (const [id, flat] of r) {
        const fields = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
        out.push({ id, fields });
      }
      if (r.length < 500) return out;
      start = `(${r[r.length - 1][0]}`;
    }
  }

  async ticketIds(stream) {
    return (await this.entries(stream)).map((e) => e.fields.ticket_id);
  }

  // Every key, as `redis-cli --scan` lists them, sorted.
  async keys() {
    const r = await run('redis-cli', ['-s', this.sock, '--scan'], 5000);
    assert.equal(r.code, 0, `redis-cli --scan: ${r.stderr}`);
    return r.stdout.split('\n').filter((k) => k.length > 0).sort();
  }

  // Calls per command since the last CONFIG RESETSTAT: {hgetall: 2, ...}.
  async commandCalls() {
    const info = await this.cmd('INFO', 'commandstats');
    const out = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }
}

// One test's world: a temporary directory, its Redis, its servers and
// helper processes, all gone when the test ends.
class World {
  constructor(t) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoassist-redis-e2e-'));
    this.spool = path.join(this.dir, 'spool.jsonl');
    this.servers = [];
    this.procs = [];
    this.clients = [];
    this.redis = null;
    t.after(() => this.cleanup());
  }

  async startRedis(opts) {
    if (!this.redis) this.redis = new Redis(this.dir, opts);
    return this.redis.start();
  }

  // Starts `autoassist serve` against this world's Redis and spool.
  async serve(extra = []) {
    const s = new Server(['--redis', this.redis ? this.redis.url : `unix://${path.join(this.dir, 'redis.sock')}`,
      '--spool', this.spool, '--redis-timeout', '0.5', ...extra]);
    this.servers.push(s);
    await s.start();
    // With Redis there, wait until the worker has connected (and created
    // the stream and its group), so tests start from a known state.
    if (this.redis && this.redis.running) await waitRedisHealth(s, 'ok');
    return s;
  }

  // A server logging in to Redis as an ACL user; the caller waits for the
  // health it expects.
  async serveAs(user, password) {
    const s = new Server(['--redis', this.redis.url, '--spool', this.spool, '--redis-timeout', '0.5'],
      { AUTOASSIST_REDIS_USER: user, AUTOASSIST_REDIS_PASSWORD: password });
    this.servers.push(s);
    await s.start();
    return s;
  }

  async connect(server, lang = 'en') {
    const c = await this.client(server);
    c.welcome = await c.hello({ lang });
    return c;
  }

  // A client connected to server, no hello sent yet.
  async client(server) {
    const c = await Client.connect(server.wsUrl);
    this.clients.push(c);
    return c;
  }

  // Another instance on this world's Redis, with a spool of its own.
  // Redis, two instances on it (a, b, both with args) and a customer at
  // a: returns them, the session and its conversation's key.
  async twoInstances(args = []) {
    await this.startRedis();
    const a = await this.serve(args);
    const b = await this.serveAnother('b', args);
    const c = await this.connect(a);
    const session = c.welcome.session;
    return { a, b, c, session, key: `autoassist:conversation:${session}` };
  }

  serveAnother(name, extra = []) {
    return this.serve([...extra, '--spool', path.join(this.dir, `spool-${name}.jsonl`)]);
  }

  // The stored conversation's bytes (null when there is none), and a wait
  // until they are other than before: a save reaches Redis after its reply.
  storedCopy(session) {
    return this.redis.cmd('HGET', `autoassist:conversation:${session}`, 'conv');
  }

  async stored(session, before = null, what = 'the turn to be stored') {
    await waitFor(async () => (await this.storedCopy(session)) !== before, 5000, what);
  }

  // A new conversation at server whose first turn (a question that asks
  // for the move-in date) is stored. Returns its client; the session is
  // c.welcome.session.
  async firstTurn(server, lang = 'en') {
    const c = await this.connect(server, lang);
    await c.ask('m1', 'When does my contract start?', 5000);
    await this.stored(c.welcome.session);
    return c;
  }

  // The customer switches the widget to German at server (a hello, no
  // turn), and the language is stored. Returns the client.
  async chooseGerman(server, session) {
    const before = await this.storedCopy(session);
    const c = await this.client(server);
    assert.equal((await c.hello({ session, lang: 'de' })).lang, 'de');
    await this.stored(session, before, 'the language to be stored');
    return c;
  }

  // Runs the CLI against this world's Redis; checks the sanitizers said nothing.
  async cli(args, ms = 10000) {
    const r = await run(BIN, [...args, '--redis', this.redis.url], ms);
    assert.deepEqual(sanitizerReports(r.stderr), [], `sanitizer reports from autoassist ${args.join(' ')}`);
    return r;
  }

  // Writes records to this world's registry file and loads it into Redis
  // with `registry load`, which must succeed; returns its result.
  async loadRegistry(records) {
    const file = path.join(this.dir, 'registry.jsonl');
    fs.writeFileSync(file, records.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const r = await this.cli(['registry', 'load', file]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  }

  // Starts a CLI process and leaves it running.
  spawnCli(args) {
    const p = spawn(BIN, [...args, '--redis', this.redis.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.out = '';
    p.err = '';
    p.exit = null;
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => { p.out += d; });
    p.stderr.on('data', (d) => { p.err += d; });
    p.exited = new Promise((resolve) => p.on('exit', (code, signal) => { p.exit = { code, signal }; resolve(p.exit); }));
    this.procs.push(p);
    return p;
  }

  spoolText() {
    return fs.existsSync(this.spool) ? fs.readFileSync(this.spool, 'utf8') : '';
  }

  spoolTickets() {
    return this.spoolText().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  }

  async cleanup() {
    for (const c of this.clients) if (!c.closed) c.ws.terminate();
    for (const s of this.servers) await s.kill();
    for (const p of this.procs) {
      if (!p.exit) {
        p.kill('SIGKILL');
        await within(p.exited, 3000, 'a CLI process to die').catch(() => {});
      }
    }
    if (this.redis) {
      if (this.redis.running) this.redis.resume();
      await this.redis.stop('SIGKILL').catch(() => {});
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// The log's events about Redis and the spool, in order.
const outageEvents = (server) => server.logLines().map((l) => JSON.parse(l))
  .filter((o) => ['redis_up', 'redis_down', 'spooling', 'spool_drained'].includes(o.event));

// Waits until the log has event (Redis' state is looked at once a second);
// resolves all of outageEvents then.
const logged = async (server, event) => {
  await server.waitLogged(event, 1, 3000);
  return outageEvents(server);
};

const waitRedisHealth = (server, want, ms = 6000) =>
  waitFor(async () => (await healthz(server.port)).json.redis === want, ms, `/healthz to say redis "${want}"`);

// Resumes session at server and sends message id/text again: the reply
// is the one given before (reply), and it is not decided again. Returns
// the client.
async function givenAgain(w, server, session, id, text, reply, intent = 'contract_start_date') {
  const c = await w.client(server);
  assert.equal((await c.hello({ session })).resumed, true);
  const k = `autoassist_replies_total{intent="${intent}"}`;
  const before = await metrics(server.port);
  assert.deepEqual(await c.ask(id, text, 5000), reply, 'the same reply');
  assert.equal((await metrics(server.port))[k], before[k], 'not decided again');
  return c;
}

// Sends a message that must escalate with a stored ticket; returns the reply.
async function escalate(c, id, text, topics = ['solar']) {
  const r = await c.ask(id, text, 5000);
  assert.equal(r.escalate, true, `no escalation for ${JSON.stringify(text)}: ${r.text}`);
  assert.equal(r.escalation.status, 'stored', `ticket not stored: ${JSON.stringify(r.escalation)}`);
  assert.match(r.escalation.ticket, TICKET_RE);
  assert.deepEqual(r.escalation.topics, topics);
  // A follow-up's reply names the conversation's ticket.
  const named = r.follow_up_of || r.escalation.ticket;
  assert.ok(r.text.includes(`(${named})`), `the reply does not name the ticket: ${r.text}`);
  return r;
}

// SIGKILL, no clean-up by the server; checks nothing was reported before.
async function crash(server) {
  server.proc.kill('SIGKILL');
  const exit = await within(server.exited, 3000, 'the server to die after SIGKILL');
  assert.equal(exit.signal, 'SIGKILL');
  assert.deepEqual(sanitizerReports(server.stderr), [], 'sanitizer reports before the kill');
}

function ticketJson(id, extra = {}) {
  return {
    ticket_id: id,
    session_id: '0123456789abcdef0123456789abcdef',
    created_at: '2026-11-26T08:15:02Z',
    lang: 'en',
    technical_part: ['our solar inverter is offline'],
    message: 'When does my contract start? our solar inverter is offline',
    l2_topics: ['solar'],
    slots: { date: '2027-03-01' },
    intents_answered: ['contract_start_date'],
    turns: [],
    ...extra,
  };
}

// ---- 1. chat → ticket → l2 pull → l2 ack ----

test('a solar mention becomes a ticket that l2 pull shows with every field, and l2 ack clears', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);

  const first = 'Will my payment method stay the same after the move?';
  const r1 = await c.ask('m1', first, 5000);
  assert.equal(r1.escalation.status, 'none');
  const text = 'The inverter of our solar panels shows error 31 since yesterday.';
  const r2 = await escalate(c, 'm2', text);
  const ref = r2.escalation.ticket;
  assert.equal(r2.text, escalatedText('the solar installation', ref));
  assert.deepEqual(w.spoolTickets(), [], 'with Redis up nothing is spooled');

  const pulled = await w.cli(['l2', 'pull', '--consumer', 'alice', '--json']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const lines = pulled.stdout.split('\n').filter((l) => l);
  assert.equal(lines.length, 1, pulled.stdout);
  const { id, fields: f } = JSON.parse(lines[0]);
  assert.match(id, ENTRY_RE);
  assert.equal(f.ticket_id, ref);
  assert.equal(f.session_id, c.welcome.session);
  assert.equal(f.lang, 'en');
  assert.equal(f.topics, 'solar');
  assert.equal(f.technical_part, text);
  assert.equal(f.message, text);
  assert.match(f.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(f.created_at) - Date.now()) < 120000, `created_at ${f.created_at} is not now`);
  assert.deepEqual(JSON.parse(f.turns), [
    { from: 'customer', text: first },
    { from: 'assistant', text: r1.text },
  ]);
  assert.equal(f.new_address, '');
  assert.equal(f.meter_id, '');
  assert.equal(f.move_date, '');
  assert.equal(f.intents_answered, '');
  const ticket = JSON.parse(f.ticket);
  assert.equal(ticket.ticket_id, ref);
  assert.equal(ticket.message, text);
  assert.deepEqual(ticket.l2_topics, ['solar']);
  assert.equal(await w.redis.cmd('GET', dedupeKey(ref)), ref, 'the dedupe key holds the reference');

  let pending = await w.cli(['l2', 'pending', '--json']);
  assert.equal(pending.code, 0, pending.stderr);
  let p = JSON.parse(pending.stdout);
  assert.equal(p.pending, 1);
  assert.deepEqual(p.consumers, [{ name: 'alice', pending: 1 }]);
  assert.equal(p.entries[0].id, id);
  assert.equal(p.entries[0].consumer, 'alice');

  const ack = await w.cli(['l2', 'ack', id]);
  assert.equal(ack.code, 0, ack.stderr);
  assert.match(ack.stdout, /acknowledged 1 of 1/);
  pending = await w.cli(['l2', 'pending', '--json']);
  p = JSON.parse(pending.stdout);
  assert.equal(p.pending, 0);
  assert.deepEqual(p.entries, []);
  const human = await w.cli(['l2', 'pending']);
  assert.match(human.stdout, /nothing pending/);
  const again = await w.cli(['l2', 'pull', '--consumer', 'alice', '--json']);
  assert.equal(again.code, 0);
  assert.equal(again.stdout, '', 'no second delivery of an acknowledged ticket');

  await c.close();
  await stopClean(server);
});

// ---- 2. a mixed message ----

test('mixed message: the contract question is answered, only the solar/battery sentence goes to L2', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const text = 'when does my contract start? we move on 1 March. we also have solar panels and a battery';
  const r = await escalate(c, 'm1', text, ['solar', 'battery']);
  assert.deepEqual(r.l2_topics, ['solar', 'battery']);
  assert.ok(r.intents.some((i) => i.id === 'contract_start_date'), JSON.stringify(r.intents));
  assert.equal(outcome(r, 'contract_start_date'), 'ask');
  assert.equal(r.slots.date, '2027-03-01');
  // The administrative part first, then the escalation.
  assert.ok(r.text.startsWith('To confirm 1 March 2027 as your start date, I need to check the grid registry.'), r.text);
  assert.ok(r.text.endsWith(escalatedText('the solar installation and the home battery', r.escalation.ticket)), r.text);

  const [e, ...rest] = await w.redis.entries();
  assert.equal(rest.length, 0);
  assert.equal(e.fields.ticket_id, r.escalation.ticket);
  assert.equal(e.fields.topics, 'solar,battery');
  assert.match(e.fields.technical_part, /we also have solar panels and a battery/);
  assert.doesNotMatch(e.fields.technical_part, /contract/);
  assert.doesNotMatch(e.fields.technical_part, /1 March/);
  assert.equal(e.fields.message, text);
  assert.equal(e.fields.move_date, '2027-03-01');
  assert.equal(e.fields.intents_answered, 'contract_start_date');
  await c.close();
  await stopClean(server);
});

test('what the customer writes after a ticket is a follow-up naming it, also at a restarted server; the same words again file nothing', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const first = await w.serve();
  const c = await w.connect(first);
  const session = c.welcome.session;
  const r1 = await escalate(c, 'm1', 'We have solar panels on the roof. How do we move them?');
  const ref = r1.escalation.ticket;
  await c.close();
  await stopClean(first);

  // The conversation, and its ticket, come back from Redis.
  const server = await w.serve();
  const tab = await w.client(server);
  assert.equal((await tab.hello({ session })).resumed, true);
  const detail = 'The app shows error 1013 since the move.';
  const r2 = await tab.ask('m2', detail, 5000);
  assert.equal(r2.escalate, true, r2.text);
  assert.equal(r2.follow_up_of, ref);
  assert.equal(r2.sent_before, false);
  assert.equal(r2.escalation.status, 'stored');
  assert.match(r2.escalation.ticket, TICKET_RE, 'the frame names the follow-up filed');
  assert.notEqual(r2.escalation.ticket, ref);
  assert.equal(r2.text, addedText('the solar installation', ref));

  const r3 = await tab.ask('m3', detail, 5000);
  assert.equal(r3.sent_before, true);
  assert.equal(r3.escalation.ticket, ref);
  assert.match(r3.text, new RegExp(`already with our L2 technical support in ticket ${ref}\\.`));

  const entries = await w.redis.entries();
  assert.equal(entries.length, 2, 'the words sent again filed nothing');
  assert.equal(entries[0].fields.ticket_id, ref);
  assert.equal(entries[0].fields.follow_up_of, '');
  const f = entries[1].fields;
  assert.match(f.ticket_id, TICKET_RE);
  assert.equal(f.ticket_id, r2.escalation.ticket);
  assert.equal(f.follow_up_of, ref);
  assert.equal(f.session_id, session);
  assert.equal(f.topics, 'solar');
  assert.equal(f.technical_part, detail);
  assert.equal(JSON.parse(f.ticket).follow_up_of, ref);
  const pulled = await w.cli(['l2', 'pull', '--consumer', 'alice', '--count', '2']);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.ok(pulled.stdout.includes(`follow-up of ${ref}`), pulled.stdout);
  await tab.close();
  await stopClean(server);
});

// ---- 3. Redis goes away and comes back ----

test('Redis killed mid-conversation and restarted on the same socket: spooled tickets arrive once each, in order; the log and /metrics tell the outage', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis({ aof: true }); // what Redis acknowledged survives its SIGKILL
  const server = await w.serve();
  let h = await healthz(server.port);
  assert.equal(h.json.redis, 'ok');
  assert.equal(h.json.spool_pending, false);
  const c = await w.connect(server);
  const refs = [];
  // Redis' state is looked at once a second.
  await logged(server, 'redis_up');

  refs.push((await escalate(c, 'a', 'Our solar inverter shows a red light.')).escalation.ticket);
  assert.deepEqual(await w.redis.ticketIds(), refs);

  await w.redis.stop('SIGKILL');
  await waitRedisHealth(server, 'down');

  const b = await escalate(c, 'b', 'And the home battery does not charge any more.', ['battery']);
  refs.push(b.escalation.ticket);
  // Spooled: the customer is still told the follow-up is recorded, with
  // the reference they have.
  assert.equal(b.follow_up_of, refs[0]);
  assert.equal(b.text, addedText('the home battery', refs[0]));
  const admin = await c.ask('c', 'Will my payment method stay the same after the move?', 5000);
  assert.equal(outcome(admin, 'payment_method'), 'answer', 'administrative answers go on while Redis is down');
  refs.push((await escalate(c, 'd', 'The Modbus connection to the inverter keeps dropping.', ['solar', 'modbus'])).escalation.ticket);
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), refs.slice(1), 'the spool holds the tickets, in order');
  h = await healthz(server.port);
  assert.equal(h.json.redis, 'down');
  assert.equal(h.json.spool_pending, true);
  let m = await metrics(server.port);
  assert.equal(m.autoassist_redis_up, 0);
  assert.equal(m.autoassist_spool_pending, 1);
  assert.equal(m.autoassist_tickets_spooled_total, 2);
  await logged(server, 'redis_down');

  await w.redis.start();
  assert.equal((await w.redis.ticketIds())[0], refs[0], 'the ticket from before the crash is still there');
  await waitFor(async () => {
    const j = (await healthz(server.port)).json;
    return j.redis === 'ok' && j.spool_pending === false;
  }, 6000, 'the spool to drain');
  assert.equal(w.spoolText(), '', 'the spool file ends empty');

  refs.push((await escalate(c, 'e', 'One more thing: the solar app shows no production.')).escalation.ticket);
  const ids = await w.redis.ticketIds();
  assert.deepEqual(ids, refs, 'every ticket exactly once, in the order sent');

  // One line each way, not one per ticket.
  const events = await logged(server, 'spool_drained');
  assert.deepEqual(events.map((e) => e.event), ['redis_up', 'redis_down', 'spooling', 'redis_up', 'spool_drained']);
  assert.deepEqual(events.map((e) => e.level), ['info', 'warn', 'warn', 'info', 'info']);
  const drained = events[4];
  assert.equal(drained.tickets, 2, 'the tickets moved from the spool to Redis');
  assert.ok(drained.seconds > 0 && drained.seconds < 30, `spool_drained.seconds ${drained.seconds}`);
  m = await metrics(server.port);
  assert.equal(m.autoassist_redis_up, 1);
  assert.equal(m.autoassist_spool_pending, 0);
  assert.equal(m['autoassist_tickets_total{result="stored"}'], 4);
  assert.equal(m['autoassist_tickets_total{result="failed"}'], 0);
  assert.equal(m.autoassist_tickets_spooled_total, 2);
  assert.equal(m.autoassist_spool_drained_total, 2);
  assert.equal(new Set(refs).size, refs.length);
  for (const ref of refs) assert.equal(await w.redis.cmd('GET', dedupeKey(ref)), ref);

  // The technicians see them all.
  const pulled = await w.cli(['l2', 'pull', '--consumer', 'alice', '--count', '10', '--json']);
  assert.deepEqual(pulled.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l).fields.ticket_id), refs);
  await c.close();
  await stopClean(server);
});

test('twenty customers escalating at once while Redis is killed and restarted: every ticket told stored arrives once, each customer\'s in order', { skip: SKIP }, async (t) => {
  // Concurrent tickets reach the worker together and go to Redis in one
  // pipeline; a crash in the middle of one must still lose none.
  const w = new World(t);
  await w.startRedis({ aof: true });
  const server = await w.serve(['--rate', '1000', '--burst', '1000']);
  const texts = ['Our solar inverter shows a red light.', 'The solar panels produce nothing today.',
    'My solar app shows no production since the move.'];
  const told = [];
  let stop = false;
  const customers = await Promise.all(Array.from({ length: 20 }, () => w.connect(server)));
  const runs = customers.map(async (c, n) => {
    const mine = [];
    for (let k = 0; !stop; k++) {
      // Each a new message: the same words again would file nothing.
      const r = await escalate(c, `${n}-${k}`, `${texts[k % texts.length]} Try ${k}.`);
      mine.push(r.escalation.ticket);
      await sleep(10); // a pace that keeps the stream small enough to read back
    }
    told.push(mine);
  });
  await waitFor(async () => await w.redis.cmd('XLEN', 'autoassist:l2') >= 100, 6000, '100 tickets in Redis');
  await w.redis.stop('SIGKILL');
  await waitRedisHealth(server, 'down');
  await sleep(200); // tickets go to the spool meanwhile
  await w.redis.start();
  await sleep(200);
  stop = true;
  await Promise.all(runs);
  await waitFor(async () => {
    const j = (await healthz(server.port)).json;
    return j.redis === 'ok' && j.spool_pending === false;
  }, 6000, 'the spool to drain');

  const ids = await w.redis.ticketIds();
  const all = told.flat();
  assert.ok(all.length > 100, `only ${all.length} tickets`);
  assert.equal(new Set(ids).size, ids.length, 'no ticket twice in the stream');
  assert.deepEqual([...ids].sort(), [...all].sort(), 'the stream holds exactly the tickets the customers were told');
  for (const mine of told) {
    const order = ids.filter((id) => mine.includes(id));
    assert.deepEqual(order, mine, 'one customer\'s tickets in the order sent');
  }
  await stopClean(server);
});

test('SIGHUP while a ticket waits for Redis: the swap waits for it, and messages sent meanwhile get the new templates', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const data = dataCopy();
  const server = await w.serve(['--intents', data.intents, '--templates', data.templates,
    '--redis-timeout', '5']);
  const a = await w.connect(server);
  const b = await w.connect(server);
  w.redis.pause();
  a.send({ type: 'message', id: 'a1', text: 'Our solar inverter shows a red light.' });
  assert.equal((await a.expect('typing')).in_reply_to, 'a1');

  const en = path.join(data.templates, 'en.txt');
  const old = 'Your payment method remains the same by default.';
  fs.writeFileSync(en, fs.readFileSync(en, 'utf8').replace(old, 'Reloaded: nothing changes.'));
  server.proc.kill('SIGHUP');
  // Loaded, but a1's job still holds the old engine: the swap waits, and
  // says so.
  const [held] = await server.waitLogged('reload_waiting');
  assert.equal(held.jobs, 1);
  // b1 waits for the swap rather than being answered by the files the
  // operator replaced.
  b.send({ type: 'message', id: 'b1', text: 'Does my payment method change after the move?' });
  w.redis.resume();
  const ra = await a.replyTo('a1', 8000);
  assert.equal(ra.escalation.status, 'stored');
  const rb = await b.replyTo('b1', 8000);
  assert.ok(rb.text.startsWith('Reloaded: nothing changes.'), rb.text);
  // In the log: a1 said, then the swap, then b1 decided.
  const said = (c) => (o) => o.event === 'message' && o.session === c.welcome.session;
  await waitFor(() => server.logLines().map((l) => JSON.parse(l)).some(said(b)), 5000, 'b1 in the log');
  const log = server.logLines().map((l) => JSON.parse(l));
  const at = (pred) => log.findIndex(pred);
  assert.ok(at(said(a)) < at((o) => o.event === 'reloaded') &&
    at((o) => o.event === 'reloaded') < at(said(b)), log.map((o) => o.event).join(' '));
  assert.equal((await w.redis.entries()).length, 1, 'a1\'s ticket is in the stream');
  await stopClean(server);
});

test('--queue 4 behind a ticket Redis is slow to take: four more wait, the rest of one TCP segment is read once there is room, and all are answered in order', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve(['--queue', '4', '--rate', '1000', '--burst', '1000', '--redis-timeout', '5']);
  const c = await w.connect(server);
  w.redis.pause();
  const sock = c.ws._socket;
  sock.cork();
  for (let i = 0; i < 10; i++) c.send({ type: 'message', id: `m${i}`, text: 'Our solar inverter shows a red light.' });
  process.nextTick(() => sock.uncork());
  // m0 waits for Redis; m1..m4 wait behind it, which is all the server
  // owes with --queue 4, so it reads no further: nothing is refused.
  assert.equal((await c.expect('typing')).in_reply_to, 'm0');
  await sleep(300);
  assert.deepEqual(c.frames, []);
  w.redis.resume();
  const replies = [];
  while (replies.length < 10) {
    const f = await c.next(6000);
    if (f.type === 'reply') replies.push(f.in_reply_to);
    else assert.equal(f.type, 'typing', JSON.stringify(f));
  }
  assert.deepEqual(replies, Array.from({ length: 10 }, (_, i) => `m${i}`));
  assert.equal((await metrics(server.port))['autoassist_errors_total{code="rate_limited"}'] || 0, 0);
  await c.close();
  await stopClean(server);
});

test('Redis paused past --redis-timeout: tickets go to the spool, and a write Redis runs late adds no duplicate', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const refs = [];
  refs.push((await escalate(c, 'a', 'My solar panels produce nothing today.')).escalation.ticket);

  w.redis.pause(); // the socket accepts, Redis answers nothing
  const started = Date.now();
  refs.push((await escalate(c, 'b', 'Also the home battery is stuck at 0 %.', ['battery'])).escalation.ticket);
  refs.push((await escalate(c, 'c', 'The inverter display is blank.')).escalation.ticket);
  assert.ok(Date.now() - started < 3000, `replies took ${Date.now() - started} ms with Redis paused`);
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), refs.slice(1));
  await waitRedisHealth(server, 'down');

  w.redis.resume(); // the write that timed out may now run, before the drain re-sends it
  await waitFor(async () => {
    const j = (await healthz(server.port)).json;
    return j.redis === 'ok' && j.spool_pending === false;
  }, 6000, 'the spool to drain');
  assert.equal(w.spoolText(), '');
  assert.deepEqual(await w.redis.ticketIds(), refs, 'each ticket exactly once, in order');
  // The outage may begin before the log's first look at Redis, and may
  // end before its next: the worker counts it, so it is logged either way.
  const events = await logged(server, 'spool_drained');
  const names = events.map((e) => e.event);
  assert.deepEqual(names[0] === 'redis_up' ? names.slice(1) : names,
    ['redis_down', 'spooling', 'redis_up', 'spool_drained']);
  assert.equal(events.find((e) => e.event === 'spool_drained').tickets, 2);
  assert.match(events.find((e) => e.event === 'redis_down').error, /^no answer within --redis-timeout/);
  await c.close();
  await stopClean(server);
});

// ---- 4. kill -9 of the service ----

test('kill -9 right after an escalated reply, Redis up: the ticket is in Redis', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const r = await escalate(c, 'm1', 'We have a Powerwall and it shows an error.', ['battery']);
  await crash(server);
  const entries = await w.redis.entries();
  assert.deepEqual(entries.map((e) => e.fields.ticket_id), [r.escalation.ticket]);
  assert.equal(entries[0].fields.message, 'We have a Powerwall and it shows an error.');
  assert.equal(w.spoolText(), '');

  // A new instance does not send it again.
  const again = await w.serve();
  await sleep(300);
  assert.deepEqual(await w.redis.ticketIds(), [r.escalation.ticket]);
  await stopClean(again);
});

test('kill -9 right after an escalated reply, Redis down: the ticket is in the spool and reaches Redis once', { skip: SKIP }, async (t) => {
  const w = new World(t);
  w.redis = new Redis(w.dir); // not started: nothing listens on the socket
  const server = await w.serve();
  assert.equal((await healthz(server.port)).json.redis, 'down');
  const c = await w.connect(server);
  const text = 'We move on 1 March. Our solar inverter needs to be moved too.';
  const r = await escalate(c, 'm1', text);
  const ref = r.escalation.ticket;
  await crash(server);

  const spooled = w.spoolTickets();
  assert.equal(spooled.length, 1, w.spoolText());
  assert.equal(spooled[0].ticket_id, ref);
  assert.equal(spooled[0].message, text);
  assert.equal(spooled[0].session_id, c.welcome.session);

  await w.redis.start();
  const second = await w.serve();
  await waitFor(async () => w.spoolText() === '' && (await healthz(second.port)).json.spool_pending === false,
    5000, 'the new instance to drain the spool');
  assert.deepEqual(await w.redis.ticketIds(), [ref]);
  const [e] = await w.redis.entries();
  assert.equal(e.fields.message, text);
  assert.equal(e.fields.session_id, c.welcome.session);
  assert.equal(e.fields.move_date, '2027-03-01');
  assert.equal((await healthz(second.port)).json.spool_pending, false);

  // Crash again and start once more: nothing is sent twice.
  await crash(second);
  const third = await w.serve();
  await sleep(300);
  assert.deepEqual(await w.redis.ticketIds(), [ref]);
  await stopClean(third);
});

test('a spool with a torn last line, a broken line and a byte order mark loses no ticket and deletes no line', { skip: SKIP }, async (t) => {
  // A crash in the middle of appending leaves a line without its newline;
  // that ticket was never acknowledged to anyone. The next ticket, which
  // was acknowledged, must still reach Redis. A line a person's editor
  // broke, or that starts with a byte order mark, is the same file's: the
  // ticket after a mark is sent, and what is no ticket is kept in
  // <spool>.rejected, never just dropped.
  const w = new World(t);
  w.redis = new Redis(w.dir); // Redis still down when the service restarts
  const first = JSON.stringify(ticketJson('L2-20261126-00000000000000B0'));
  const broken = '{"ticket_id": "L2-20261126-00000000000000B1", "mess';
  const torn = JSON.stringify(ticketJson('L2-20261126-7042E0FF'));
  const tornHalf = torn.slice(0, Math.floor(torn.length / 2));
  fs.writeFileSync(w.spool, `\uFEFF${first}\n${broken}\n\n${tornHalf}`);
  const server = await w.serve();
  const c = await w.connect(server);
  const r = await escalate(c, 'm1', 'Our solar panels stopped producing after the storm.');
  const ref = r.escalation.ticket;

  await w.redis.start();
  await waitFor(async () => (await healthz(server.port)).json.spool_pending === false, 6000, 'the spool to drain');
  const ids = await w.redis.ticketIds();
  await c.close();
  await stopClean(server);
  assert.deepEqual(ids, ['L2-20261126-00000000000000B0', ref],
    `the ticket after the byte order mark, then ${ref}, confirmed to the customer, reach the stream`);
  assert.deepEqual(fs.readFileSync(`${w.spool}.rejected`, 'utf8').split('\n').filter((l) => l),
    [broken, tornHalf], 'the broken and the torn line are kept for a person');
  assert.deepEqual(server.logged('spool_set_aside').map((e) => e.why),
    ['not a ticket: no JSON object on the line', 'not a ticket: no JSON object on the line']);
});

// ---- 5. a technician's pull killed before ack ----

test('kill -9 of a technician\'s l2 pull before ack: l2 claim recovers the ticket', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const blocked = async (n) => {
    const list = await w.redis.cmd('CLIENT', 'LIST');
    return (list.match(/cmd=xreadgroup/g) || []).length === n;
  };

  // Killed while waiting, before any ticket: nothing is delivered to it.
  const early = w.spawnCli(['l2', 'pull', '--consumer', 'bob', '--block', '5000', '--json']);
  await waitFor(() => blocked(1), 4000, 'the pull to block in XREADGROUP');
  early.kill('SIGKILL');
  await within(early.exited, 3000, 'the pull to die');
  await waitFor(() => blocked(0), 4000, 'Redis to drop the killed client');

  const pull = w.spawnCli(['l2', 'pull', '--consumer', 'bob', '--block', '5000', '--json']);
  await waitFor(() => blocked(1), 4000, 'the pull to block in XREADGROUP');
  const r = await escalate(c, 'm1', 'Our battery storage shows error E42.', ['battery']);
  const ref = r.escalation.ticket;
  await waitFor(async () => pull.out.includes(ref), 5000, `bob's pull to print ${ref}`);
  // It printed the ticket; kill it before anyone acknowledged (`l2 pull`
  // exits right after printing, so it may be gone already).
  if (!pull.exit) pull.kill('SIGKILL');
  await within(pull.exited, 3000, 'the pull to end');
  const shown = JSON.parse(pull.out.trim().split('\n')[0]);
  assert.equal(shown.fields.ticket_id, ref);

  let p = JSON.parse((await w.cli(['l2', 'pending', '--json'])).stdout);
  assert.equal(p.pending, 1);
  assert.deepEqual(p.entries.map((e) => [e.id, e.consumer, e.deliveries]), [[shown.id, 'bob', 1]]);

  const claim = await w.cli(['l2', 'claim', '--consumer', 'carol', '--idle', '0', '--json']);
  assert.equal(claim.code, 0, claim.stderr);
  const claimed = claim.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l));
  assert.equal(claimed.length, 1, claim.stdout);
  assert.equal(claimed[0].id, shown.id);
  assert.equal(claimed[0].fields.ticket_id, ref);
  assert.equal(claimed[0].fields.message, 'Our battery storage shows error E42.');

  p = JSON.parse((await w.cli(['l2', 'pending', '--json'])).stdout);
  assert.deepEqual(p.entries.map((e) => [e.id, e.consumer, e.deliveries]), [[shown.id, 'carol', 2]]);
  const ack = await w.cli(['l2', 'ack', shown.id]);
  assert.equal(ack.code, 0, ack.stderr);
  p = JSON.parse((await w.cli(['l2', 'pending', '--json'])).stdout);
  assert.equal(p.pending, 0);
  await c.close();
  await stopClean(server);
});

// ---- 6. Redis protocol inside a message ----

test('a message carrying Redis protocol is stored literally and changes nothing else in Redis', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  await w.redis.cmd('SET', 'e2e:sentinel', 'still here');
  const server = await w.serve();
  const c = await w.connect(server);
  const before = await w.redis.keys();
  assert.ok(before.includes('e2e:sentinel') && before.includes('autoassist:l2'), before.join(','));
  const texts = [
    'hi \r\n*1\r\n$8\r\nFLUSHALL\r\n my solar panels',
    'PING\r\nSET e2e:sentinel pwned\r\nFLUSHDB\r\n redis.call(\'FLUSHALL\') -- %s {} [Date] my home battery',
  ];
  const refs = [];
  refs.push((await escalate(c, 'm1', texts[0])).escalation.ticket);
  refs.push((await escalate(c, 'm2', texts[1], ['battery'])).escalation.ticket);

  const after = await w.redis.keys();
  // Besides the tickets' dedupe keys, only the conversation itself and
  // the replies it keeps are stored (after each turn, so they may still be on
  // their way).
  const session = `autoassist:conversation:${c.welcome.session}`;
  const added = after.filter((k) => !before.includes(k) && k !== session);
  const removed = before.filter((k) => !after.includes(k));
  assert.deepEqual(removed, []);
  assert.deepEqual(added, refs.map(dedupeKey).sort());
  assert.equal(await w.redis.cmd('GET', 'e2e:sentinel'), 'still here');
  const entries = await w.redis.entries();
  assert.deepEqual(entries.map((e) => e.fields.ticket_id), refs);
  assert.deepEqual(entries.map((e) => e.fields.message), texts);
  assert.equal(JSON.parse(entries[0].fields.ticket).message, texts[0]);
  for (const ref of refs) assert.equal(await w.redis.cmd('GET', dedupeKey(ref)), ref);

  // The technician's JSON carries it literally too.
  const pulled = await w.cli(['l2', 'pull', '--consumer', 'alice', '--count', '5', '--json']);
  const shown = pulled.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l).fields.message);
  assert.deepEqual(shown, texts);
  await c.close();
  await stopClean(server);
});

// ---- 7. the grid registry ----

test('registry in Redis: match, mismatch, unknown meter, bad check digit, profile link, Redis down', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const load = await w.loadRegistry([REGISTRY_LINE]);
  assert.match(load.stdout, /loaded 1 record/);
  const got = await w.cli(['registry', 'get', METER, '--json']);
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(JSON.parse(got.stdout), REGISTRY_LINE);

  const server = await w.serve();
  const ask = async (text) => {
    const c = await w.connect(server);
    const r = await c.ask('m1', text, 5000);
    await c.close();
    return { r, session: c.welcome.session };
  };
  const contract = (day, meter) => `When does my contract start? We move in on ${day} March. My meter ID is ${meter}`;

  // Match.
  await w.redis.cmd('CONFIG', 'RESETSTAT');
  let { r } = await ask(contract(1, METER));
  assert.equal(outcome(r, 'contract_start_date'), 'confirmed', r.text);
  assert.ok(r.text.startsWith(CONFIRMED_1_MARCH_2027), r.text);
  assert.ok((await w.redis.commandCalls()).hgetall >= 1, 'the match was looked up in Redis');

  // Mismatch: the registry's date is named, nothing is confirmed.
  ({ r } = await ask(contract(2, METER)));
  assert.equal(outcome(r, 'contract_start_date'), 'mismatch', r.text);
  assert.match(r.text, /registry shows 1 March 2027/);
  assert.match(r.text, /not 2 March 2027/);
  assert.ok(!r.text.includes('I’ve confirmed'), r.text);

  // A meter ID with a valid check digit that the registry does not know.
  ({ r } = await ask(contract(1, METER_UNKNOWN)));
  assert.equal(outcome(r, 'contract_start_date'), 'not_found', r.text);
  assert.match(r.text, new RegExp(`couldn’t find ${METER_UNKNOWN} in the grid registry`));
  assert.ok(!r.text.includes('I’ve confirmed'), r.text);

  // A wrong check digit: asked to check it, and Redis is not asked at all.
  await w.redis.cmd('CONFIG', 'RESETSTAT');
  ({ r } = await ask(contract(1, METER_BAD)));
  assert.equal(outcome(r, 'contract_start_date'), 'bad_meter', r.text);
  assert.match(r.text, /check digit/);
  assert.match(r.text, /check it/);
  assert.ok(!r.text.includes('I’ve confirmed'), r.text);
  const calls = await w.redis.commandCalls();
  assert.equal(calls.hgetall, undefined, `a lookup for a bad meter ID: ${JSON.stringify(calls)}`);
  // Each save of the conversation reads the stored copy first (an HGET in
  // its script); a registry lookup would read more.
  assert.equal(calls.get, undefined, `a lookup for a bad meter ID: ${JSON.stringify(calls)}`);
  assert.equal(calls.hget || 0, calls.eval || 0, `a lookup for a bad meter ID: ${JSON.stringify(calls)}`);

  // address_update confirmed: the profile is linked (after the reply: the
  // link is written by the worker, so it is awaited, bounded).
  let session;
  ({ r, session } = await ask(`My new address is Storgata 12B, 0155 Oslo, meter ID ${METER}`));
  assert.equal(outcome(r, 'address_update'), 'confirmed', r.text);
  assert.match(r.text, /^Your profile has been updated! Your new home at Storgata 12B/);
  const profile = await waitFor(async () => {
    const flat = await w.redis.cmd('HGETALL', `autoassist:profile:${session}`);
    return flat.length ? Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]]))) : null;
  }, 3000, 'the profile hash');
  assert.match(profile.address, /^Storgata 12B/);
  assert.equal(profile.meter_id, METER);
  assert.match(profile.linked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  // The meter belongs to another address: no link, and that address is not revealed.
  ({ r, session } = await ask(`My new address is Kirkeveien 3, 0368 Oslo, meter ID ${METER}`));
  assert.equal(outcome(r, 'address_update'), 'mismatch', r.text);
  assert.ok(!r.text.includes('Storgata'), r.text);
  await sleep(200);
  assert.equal(await w.redis.cmd('EXISTS', `autoassist:profile:${session}`), 0);

  // Redis down: never a confirmation.
  await w.redis.stop('SIGKILL');
  ({ r } = await ask(contract(1, METER)));
  assert.equal(outcome(r, 'contract_start_date'), 'unavailable', r.text);
  assert.ok(r.text.startsWith(CANNOT_CHECK), r.text);
  assert.ok(!r.text.includes('I’ve confirmed'), r.text);
  ({ r } = await ask(`My new address is Storgata 12B, 0155 Oslo, meter ID ${METER}`));
  assert.notEqual(outcome(r, 'address_update'), 'confirmed', r.text);
  assert.ok(!r.text.includes('profile has been updated'), r.text);
  await stopClean(server);
});

test('registry in Redis: two supply points at one street address are told apart by postcode, as in the file', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const bergen = { ...REGISTRY_LINE, meter_id: '707057500098765431', postcode: '5003', city: 'Bergen', supply_start: '2027-04-15' };
  // Loaded twice: the address keeps each supply point once, in file order.
  for (let i = 0; i < 2; i++) await w.loadRegistry([REGISTRY_LINE, bergen]);
  assert.deepEqual(await w.redis.cmd('LRANGE', 'autoassist:registry:addr:storgt 12b', '0', '-1'),
    [REGISTRY_LINE.meter_id, bergen.meter_id]);

  const server = await w.serve();
  const ask = async (place, day) => {
    const c = await w.connect(server);
    const r = await c.ask('m1', `When does my contract start? We move to Storgata 12B, ${place} on ${day}.`, 5000);
    await c.close();
    return outcome(r, 'contract_start_date');
  };
  assert.equal(await ask('0155 Oslo', '1 March'), 'confirmed');
  assert.equal(await ask('5003 Bergen', '15 April'), 'confirmed');
  assert.equal(await ask('0155 Oslo', '15 April'), 'mismatch');
  assert.equal(await ask('5003 Bergen', '1 March'), 'mismatch');
  assert.equal(await ask('7010 Trondheim', '1 March'), 'not_found');
  // Without the postcode, a street address in two towns confirms neither.
  const c0 = await w.connect(server);
  const r0 = await c0.ask('m1', 'When does my contract start? We move to Storgata 12B on 1 March.', 5000);
  await c0.close();
  assert.equal(outcome(r0, 'contract_start_date'), 'not_found', r0.text);
  // A town named instead tells them apart, where the registry lists it:
  // registry load keeps the records' towns in a set.
  assert.deepEqual((await w.redis.cmd('SMEMBERS', 'autoassist:registry:cities')).sort(), ['bergen', 'oslo']);
  const inTown = async (town, day) => {
    const c = await w.connect(server);
    const r = await c.ask('m1', `When does my contract start? We move to Storgata 12B in ${town} on ${day}.`, 5000);
    await c.close();
    return outcome(r, 'contract_start_date');
  };
  assert.equal(await inTown('Bergen', '15 April'), 'confirmed');
  assert.equal(await inTown('Oslo', '1 March'), 'confirmed');
  assert.equal(await inTown('Bergen', '1 March'), 'mismatch');
  assert.equal(await inTown('Trondheim', '1 March'), 'not_found', 'a town the registry does not list tells nothing apart');

  // The index as builds before the list wrote it (one meter ID as a
  // string) is still read, and the next load replaces it.
  const key = 'autoassist:registry:addr:storgt 12b';
  await w.redis.cmd('DEL', key);
  await w.redis.cmd('SET', key, bergen.meter_id);
  assert.equal(await ask('5003 Bergen', '15 April'), 'confirmed');
  assert.equal(await ask('0155 Oslo', '1 March'), 'not_found');
  await w.loadRegistry([REGISTRY_LINE, bergen]);
  assert.equal(await ask('0155 Oslo', '1 March'), 'confirmed');

  // The Oslo meter moves to another street: it leaves Storgata's list, and
  // Storgata 12B in Oslo is no longer found.
  const moved = { ...REGISTRY_LINE, address: 'Kirkeveien 3' }; // the same postcode
  await w.loadRegistry([moved, bergen]);
  assert.deepEqual(await w.redis.cmd('LRANGE', key, '0', '-1'), [bergen.meter_id]);
  assert.equal(await ask('0155 Oslo', '1 March'), 'not_found');
  assert.equal(await ask('5003 Bergen', '15 April'), 'confirmed');
  // Even a list changed by hand to name it again does not confirm it.
  await w.redis.cmd('LPUSH', key, REGISTRY_LINE.meter_id);
  assert.equal(await ask('0155 Oslo', '1 March'), 'not_found');
  await stopClean(server);
});

test('registry in Redis: a block of 150 flats at one street address is read in lots; a flat starting on another day leaves the address no answer', { skip: SKIP }, async (t) => {
  // The records behind one street address are read 64 to a round trip;
  // the Oslo flats sit in the second and third lot, and lookups after it
  // still get their own replies.
  const w = new World(t);
  await w.startRedis();
  const gs1 = (body) => {
    let sum = 0;
    for (let i = 0; i < body.length; i++) sum += Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
    return body + String((10 - (sum % 10)) % 10);
  };
  const flats = [];
  for (let i = 0; i < 150; i++) {
    const oslo = i >= 120;
    flats.push({
      meter_id: gs1(`70705750${String(i).padStart(9, '0')}`),
      address: 'Storgata 12B',
      postcode: oslo ? '0155' : '5003',
      city: oslo ? 'Oslo' : 'Bergen',
      supply_start: oslo ? '2027-03-01' : '2027-05-20',
    });
  }
  await w.loadRegistry(flats);
  assert.equal((await w.redis.cmd('LRANGE', 'autoassist:registry:addr:storgt 12b', '0', '-1')).length, 150);

  const server = await w.serve();
  const c = await w.connect(server);
  const ask = async (id, place, day) => outcome(
    await c.ask(id, `When does my contract start? We move to Storgata 12B, ${place} on ${day}.`, 5000),
    'contract_start_date');
  assert.equal(await ask('m1', '0155 Oslo', '1 March'), 'confirmed');
  assert.equal(await ask('m2', '0155 Oslo', '30 June'), 'mismatch');
  assert.equal(await ask('m3', '5003 Bergen', '20 May'), 'confirmed');
  assert.equal(await ask('m4', '7010 Trondheim', '1 March'), 'not_found');
  assert.equal(await ask('m5', '0155 Oslo', '1 March'), 'confirmed');
  // Without a postcode: the Oslo flats, in the second lot, make the street
  // one in two towns, which confirms nothing. A conversation of its own,
  // since one that named the street with its postcode keeps the town.
  const c2 = await w.connect(server);
  const bare = async (id, day) => outcome(
    await c2.ask(id, `When does my contract start? We move to Storgata 12B on ${day}.`, 5000),
    'contract_start_date');
  assert.equal(await bare('m6', '20 May'), 'not_found');
  // All 150 in Bergen, starting on one day: read to the last, the first
  // flat answers.
  await w.loadRegistry(flats.map((x) => ({ ...x, postcode: '5003', city: 'Bergen', supply_start: '2027-05-20' })));
  assert.equal(await bare('m7', '20 May'), 'confirmed');
  // The last Oslo flat, in the third lot, starts on another day: the
  // address no longer tells which flat is the customer's.
  await w.loadRegistry(flats.map((x, i) => (i === 149 ? { ...x, supply_start: '2027-07-01' } : x)));
  assert.equal(await ask('m8', '0155 Oslo', '1 March'), 'several');
  assert.equal(await ask('m9', '5003 Bergen', '20 May'), 'confirmed');
  await c.close();
  await c2.close();
  await stopClean(server);
});

test('a confirmed contract and a ticket in one message carry the meter and date into the ticket', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  await w.loadRegistry([REGISTRY_LINE]);
  const server = await w.serve();
  const c = await w.connect(server);
  const r = await escalate(c, 'm1',
    `When does my contract start? We move in on 1 March, meter ID ${METER}. Our solar panels need a new inverter.`);
  assert.equal(outcome(r, 'contract_start_date'), 'confirmed', r.text);
  assert.ok(r.text.startsWith(CONFIRMED_1_MARCH_2027), r.text);
  const [e] = await w.redis.entries();
  assert.equal(e.fields.ticket_id, r.escalation.ticket);
  assert.equal(e.fields.meter_id, METER);
  assert.equal(e.fields.move_date, '2027-03-01');
  assert.match(e.fields.intents_answered, /contract_start_date/);
  assert.match(e.fields.technical_part, /solar panels need a new inverter/);
  assert.doesNotMatch(e.fields.technical_part, /contract/);
  await c.close();
  await stopClean(server);
});

// ---- 8. idempotency of the drain ----

test('the same ticket spooled twice (and again after it reached Redis) is one stream entry', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const ref = 'L2-20261126-00E2E008';
  const line = JSON.stringify(ticketJson(ref)) + '\n';
  fs.writeFileSync(w.spool, line + line);
  const server = await w.serve();
  await waitFor(async () => w.spoolText() === '', 5000, 'the spool to drain');
  // The log tells the earlier run's spool, found at start, and its end.
  const events = await logged(server, 'spool_drained');
  assert.deepEqual(events.map((e) => e.event).filter((e) => e !== 'redis_up'), ['spooling', 'spool_drained']);
  assert.equal(events.find((e) => e.event === 'spool_drained').tickets, 2, 'both lines went to Redis');
  const m = await metrics(server.port);
  assert.equal(m.autoassist_tickets_spooled_total, 0, 'this run spooled nothing');
  assert.equal(m.autoassist_spool_drained_total, 2);
  let entries = await w.redis.entries();
  assert.deepEqual(entries.map((e) => e.fields.ticket_id), [ref]);
  const f = entries[0].fields;
  assert.equal(f.topics, 'solar');
  assert.equal(f.technical_part, 'our solar inverter is offline');
  assert.equal(f.message, 'When does my contract start? our solar inverter is offline');
  assert.equal(f.move_date, '2027-03-01');
  assert.equal(f.intents_answered, 'contract_start_date');
  assert.equal(f.created_at, '2026-11-26T08:15:02Z');
  assert.deepEqual(JSON.parse(f.turns), []);
  // The dedupe key leaves the date out and holds the reference.
  assert.equal(await w.redis.cmd('GET', dedupeKey(ref)), ref);
  assert.equal(dedupeKey(ref), 'autoassist:l2:ticket:L2-00E2E008');
  await stopClean(server);

  // A crash after Redis took it but before the spool was emptied: the
  // next start sends it again, and it is still one entry. So is the same
  // message sent again after midnight (its reference dated a day later),
  // and a ticket an older build added, whose dedupe key is by the whole
  // reference and holds a stream entry id.
  const old = 'L2-20261125-00E2E0AA';
  await w.redis.cmd('SET', `autoassist:l2:ticket:${old}`, '1764000000000-0');
  fs.writeFileSync(w.spool, line + JSON.stringify(ticketJson('L2-20261127-00E2E008')) + '\n' +
    JSON.stringify(ticketJson(old)) + '\n');
  const again = await w.serve();
  await waitFor(async () => w.spoolText() === '', 5000, 'the spool to drain');
  entries = await w.redis.entries();
  assert.deepEqual(entries.map((e) => e.fields.ticket_id), [ref]);
  await stopClean(again);
});

test('ticket references: the same message sent again is one ticket; another message under an id used before, or 7 against "7", is another', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const send = async (id, text) => (await escalate(c, id, text, ['battery'])).escalation.ticket;
  const a = await send('m1', 'The battery storage makes a clicking noise.');
  assert.equal(await send('m1', 'The battery storage makes a clicking noise.'), a, 'sent again');
  const b = await send('m1', 'Now the battery shows an error code.');
  const n = await send(7, 'My battery is not charging.');
  const s = await send('7', 'The battery app is offline.');
  assert.equal(new Set([a, b, n, s]).size, 4, JSON.stringify([a, b, n, s]));
  assert.deepEqual(await w.redis.ticketIds(), [a, b, n, s]);
  await c.close();
  await stopClean(server);
});

test('a message sent again after its ticket was filed on an earlier day: no second ticket, and the reply names the first one', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const key = `autoassist:conversation:${c.welcome.session}`;
  await c.ask('m0', 'Will my payment method stay the same after the move?', 5000);
  await waitFor(async () => (await w.redis.cmd('HEXISTS', key, '0')) === 1, 5000,
    'the first turn to be stored');
  await w.redis.cmd('COPY', key, `${key}:before`);
  const first = await escalate(c, 'm1', 'The battery storage makes a clicking noise.', ['battery']);
  const ref = first.escalation.ticket;
  const [, hash] = ref.match(/^L2-\d{8}-([0-9A-F]{16})$/);
  // As if it had been filed on an earlier day: the widget lost the reply,
  // reconnected after midnight to a server that restarted meanwhile and
  // sent the message again. The server had died after filing the ticket
  // and before storing the turn with its reply (a server that has the
  // reply gives it again, ticket and all), so Redis holds the
  // conversation as it was before, and the message is decided again.
  const yesterday = `L2-20260101-${hash}`;
  await w.redis.cmd('SET', dedupeKey(ref), yesterday);
  await c.close();
  await stopClean(server);
  assert.equal(await w.redis.cmd('HEXISTS', key, '1'), 1, 'the reply is stored with the turn');
  await w.redis.cmd('DEL', key);
  await w.redis.cmd('COPY', `${key}:before`, key);
  const next = await w.serve();
  const back = await w.client(next);
  assert.equal((await back.hello({ session: c.welcome.session })).resumed, true);
  const again = await escalate(back, 'm1', 'The battery storage makes a clicking noise.', ['battery']);
  assert.equal(again.escalation.ticket, yesterday);
  assert.ok(again.text.includes(yesterday), again.text);
  assert.deepEqual(await w.redis.ticketIds(), [ref]);
  await back.close();
  await stopClean(next);
});

test('a long spool drains in slices: a customer escalating meanwhile is answered before it is done, and every ticket arrives once, in order', { skip: SKIP }, async (t) => {
  // What a long Redis outage leaves: thousands of tickets, with a torn
  // line (a crash mid-append, later closed off) and a line Redis refuses
  // for good (no ticket_id) among them.
  const w = new World(t);
  await w.startRedis();
  const N = 40000;
  const refs = [];
  const lines = [];
  for (let i = 0; i < N; i++) {
    const ref = `L2-20261126-${i.toString(16).toUpperCase().padStart(16, '0')}`;
    refs.push(ref);
    lines.push(JSON.stringify(ticketJson(ref)));
    if (i === 100) lines.push(JSON.stringify(ticketJson('x')).slice(0, 40));
    if (i === 5000) lines.push(JSON.stringify(ticketJson('', { ticket_id: undefined })));
  }
  fs.writeFileSync(w.spool, lines.join('\n') + '\n');
  const server = await w.serve();
  const c = await w.connect(server);
  const r = await escalate(c, 'm1', 'Our solar panels stopped producing after the storm.');
  const inRedis = await w.redis.cmd('XLEN', 'autoassist:l2');
  assert.ok(inRedis < N, `the reply waited for the whole spool to drain (${inRedis} of ${N} in Redis)`);

  await waitFor(async () => w.spoolText() === '' && (await healthz(server.port)).json.spool_pending === false,
    60000, 'the spool to drain');
  assert.deepEqual(await w.redis.ticketIds(), [...refs, r.escalation.ticket],
    'each spooled ticket once, in order, then the one filed during the drain');
  const rejected = fs.readFileSync(`${w.spool}.rejected`, 'utf8');
  assert.equal(rejected.split('\n').filter((l) => l).length, 2, 'the torn line and the ticket without an id are set aside');
  await c.close();
  await stopClean(server);
});

test('Redis full part-way through a drain: every spooled ticket arrives once, and each is counted once as drained', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const N = 300;
  const refs = [];
  for (let i = 0; i < N; i++) refs.push(`L2-20261126-${String(i).padStart(16, '0')}`);
  fs.writeFileSync(w.spool, refs.map((ref) => JSON.stringify(ticketJson(ref))).join('\n') + '\n');
  // Room (Redis 7.0, Debian 12) for the stream, its script and one
  // transaction of 64 tickets, not for the 256 of one drain slice: a later
  // transaction of the slice is refused (OOM) after the first went in.
  const used = Number((await w.redis.cmd('INFO', 'memory')).match(/used_memory:(\d+)/)[1]);
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', String(used + 400000));
  // Not w.serve(), which waits for a healthy Redis.
  const server = new Server(['--redis', w.redis.url, '--spool', w.spool, '--redis-timeout', '0.5']);
  w.servers.push(server);
  await server.start();
  await waitFor(async () => (await healthz(server.port)).json.redis === 'down', 6000, 'Redis to refuse writes');
  const part = await w.redis.cmd('XLEN', 'autoassist:l2');
  assert.ok(part >= 64 && part < N, `${part} tickets went in before Redis was full`);
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  await waitFor(async () => w.spoolText() === '', 6000, 'the spool to drain');
  assert.deepEqual(await w.redis.ticketIds(), refs, 'each once, in order');
  const events = await logged(server, 'spool_drained');
  assert.equal(events.find((e) => e.event === 'spool_drained').tickets, N);
  assert.equal((await metrics(server.port)).autoassist_spool_drained_total, N);
  await stopClean(server);
});

test('a second server on the same spool file refuses to start: its drain could cut tickets the first one stored', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const first = await w.serve();
  const second = new Server(['--redis', w.redis.url, '--spool', w.spool]);
  w.servers.push(second);
  await assert.rejects(second.start(), /exited early/);
  assert.equal(second.exit.code, 4);
  assert.match(second.stderr, /spool .* is in use by another process; give each its own --spool/);
  // The first one goes on filing tickets; once it is gone the spool is free.
  const c = await w.connect(first);
  await escalate(c, 'm1', 'Our solar inverter shows a red light.');
  await c.close();
  await stopClean(first);
  const third = await w.serve();
  await stopClean(third);
});

test('Redis with a password (an ACL user): the right one files tickets, a wrong one is an outage, tickets spool', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  await w.redis.cmd('ACL', 'SETUSER', 'autoassist', 'on', '>s3cret', '~*', '&*', '+@all');
  const serveAs = (password) => w.serveAs('autoassist', password);
  let server = await serveAs('s3cret');
  await waitRedisHealth(server, 'ok');
  let c = await w.connect(server);
  const r = await escalate(c, 'm1', 'Our solar inverter shows a red light.');
  assert.deepEqual(await w.redis.ticketIds(), [r.escalation.ticket]);
  const clients = await w.redis.cmd('CLIENT', 'LIST');
  assert.match(clients, /user=autoassist/, 'the server is connected as its ACL user');
  await c.close();
  await stopClean(server);

  server = await serveAs('wr0ng-pw');
  await waitRedisHealth(server, 'down');
  // The log says why, and not with the password.
  const down = (await logged(server, 'redis_down')).find((e) => e.event === 'redis_down');
  assert.match(down.error, /AUTH refused: WRONGPASS/);
  c = await w.connect(server);
  const spooled = await escalate(c, 'm2', 'The home battery does not charge.', ['battery']);
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), [spooled.escalation.ticket]);
  await c.close();
  await stopClean(server);
  assert.ok(!server.stderr.includes('wr0ng-pw'), 'the password is not logged');

  // A URL holding a password is refused at start, without echoing it.
  const refused = await run(BIN, ['serve', '--port', '1', '--redis', 'redis://u:hunter2@127.0.0.1:1'], 5000);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /set AUTOASSIST_REDIS_PASSWORD/);
  assert.ok(!refused.stderr.includes('hunter2'));
});

// ---- the URL forms and --stream ----

test('Redis over TCP (redis://host:port and host:port) and a custom --stream', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const port = await freePort();
  await w.redis.cmd('CONFIG', 'SET', 'bind', '127.0.0.1');
  await w.redis.cmd('CONFIG', 'SET', 'port', String(port));
  const server = new Server(['--redis', `redis://127.0.0.1:${port}`, '--stream', 'e2e:tickets',
    '--spool', w.spool, '--redis-timeout', '0.5']);
  w.servers.push(server);
  await server.start();
  assert.equal((await healthz(server.port)).json.redis, 'ok');
  const c = await w.connect(server);
  const r = await escalate(c, 'm1', 'The solar inverter shows a grid fault.');
  assert.deepEqual(await w.redis.ticketIds('e2e:tickets'), [r.escalation.ticket]);
  assert.equal(await w.redis.cmd('EXISTS', 'autoassist:l2'), 0, 'nothing on the default stream');
  const pulled = await run(BIN, ['l2', 'pull', '--consumer', 'dave', '--json', '--stream', 'e2e:tickets',
    '--redis', `127.0.0.1:${port}`]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(JSON.parse(pulled.stdout).fields.ticket_id, r.escalation.ticket);
  await c.close();
  await stopClean(server);
});

// ---- more ways Redis can fail ----

// Ways to make Redis refuse every write while it answers reads and PING:
// out of memory (noeviction), or a replica of a primary that is not there.
const outOfMemory = async (redis) => {
  await redis.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await redis.cmd('CONFIG', 'SET', 'maxmemory', '1');
};
const readOnly = (redis) => redis.cmd('REPLICAOF', '127.0.0.1', '1');

// A server connected to a Redis that refuses every write (refuse), with a
// client connected before Redis began to; records, if any, loaded into
// the registry before.
async function refusingWrites(t, { records = [], refuse = outOfMemory } = {}) {
  const w = new World(t);
  await w.startRedis();
  if (records.length) await w.loadRegistry(records);
  const server = await w.serve();
  const c = await w.connect(server);
  await refuse(w.redis);
  return { w, server, c };
}

test('Redis refusing writes (OOM): the ticket is spooled, then drained once writes are allowed again; the outage is logged once', { skip: SKIP }, async (t) => {
  const { w, server, c } = await refusingWrites(t);
  const r = await escalate(c, 'm1', 'The solar inverter is offline since the update.');
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), [r.escalation.ticket]);
  assert.deepEqual(await w.redis.ticketIds(), []);
  await waitRedisHealth(server, 'down');
  // The worker tries the spool and its probe once a second (Redis answers
  // PING all along): none of that ends the outage. It keeps its link,
  // which reads still use: the one new connection is this INFO's own.
  const connections = async () =>
    Number((await w.redis.cmd('INFO', 'stats')).match(/total_connections_received:(\d+)/)[1]);
  const before = await connections();
  await sleep(2500);
  assert.equal((await healthz(server.port)).json.redis, 'down');
  assert.equal(await connections() - before, 1, 'the worker connected again during the outage');
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  await waitFor(async () => w.spoolText() === '', 6000, 'the spool to drain');
  assert.deepEqual(await w.redis.ticketIds(), [r.escalation.ticket]);
  await waitRedisHealth(server, 'ok');
  const events = await logged(server, 'redis_up');
  assert.deepEqual(events.filter((e) => e.event.startsWith('redis_')).map((e) => e.event),
    ['redis_down', 'redis_up'], 'one outage, logged once');
  // The operator reads why in Redis' own words, not a guess.
  assert.match(events.find((e) => e.event === 'redis_down').error, /^OOM command not allowed/);
  await c.close();
  await stopClean(server);
});

test('Redis refusing writes (OOM): registry lookups, which only read, still answer', { skip: SKIP }, async (t) => {
  const { server, c } = await refusingWrites(t, { records: [REGISTRY_LINE] });
  await c.ask('m1', 'When does my contract at the new address start?', 5000);
  await waitRedisHealth(server, 'down');
  // The saves of these messages wait (writes are paused after a refusal,
  // or refused again); the lookups read the registry all along.
  for (const [id, day] of [['m2', 1], ['m3', 2], ['m4', 1]]) {
    const r = await c.ask(id, `When does my contract start? We move in on ${day} March. My meter ID is ${METER}`, 5000);
    assert.equal(outcome(r, 'contract_start_date'), day === 1 ? 'confirmed' : 'mismatch', r.text);
  }
  assert.equal((await healthz(server.port)).json.redis, 'down');
  await c.close();
  await stopClean(server);
});

test('a profile link Redis refuses for good (NOPERM): the check counts as not made, and it is no outage: lookups answer, tickets reach Redis', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  await w.loadRegistry([REGISTRY_LINE]);
  // Everything but the profile links, which the user may only read.
  await w.redis.cmd('ACL', 'SETUSER', 'app', 'on', '>s3cret', '&*', '+@all', '%R~autoassist:profile:*',
    '~autoassist:l2*', '~autoassist:registry:*', '~autoassist:conversation:*', '~autoassist:session:*');
  const server = await w.serveAs('app', 's3cret');
  await waitRedisHealth(server, 'ok');
  const a = await w.connect(server);
  const b = await w.connect(server);
  const linked = await a.ask('m1', `My new address is Storgata 12B, 0155 Oslo, meter ID ${METER}`, 5000);
  assert.equal(outcome(linked, 'address_update'), 'unavailable', linked.text);
  assert.ok(!linked.text.includes('Your profile has been updated'), linked.text);
  for (const [id, day] of [['m2', 1], ['m3', 2], ['m4', 1]]) {
    const r = await b.ask(id, `When does my contract start? We move in on ${day} March. My meter ID is ${METER}`, 5000);
    assert.equal(outcome(r, 'contract_start_date'), day === 1 ? 'confirmed' : 'mismatch', r.text);
  }
  const r = await escalate(b, 'm5', 'The solar inverter is offline since the update.');
  assert.deepEqual(await w.redis.ticketIds(), [r.escalation.ticket]);
  assert.equal(w.spoolText(), '');
  assert.equal((await healthz(server.port)).json.redis, 'ok');
  assert.deepEqual(outageEvents(server).map((e) => e.event), [], 'no outage was logged');
  await a.close();
  await b.close();
  await stopClean(server);
});

test('Redis that answers nothing at start: redis_down says the command timed out, and the outage ends when it answers', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  w.redis.pause(); // the socket accepts, Redis answers nothing
  // Not w.serve(), which waits for a healthy Redis.
  const server = new Server(['--redis', w.redis.url, '--spool', w.spool, '--redis-timeout', '0.5']);
  w.servers.push(server);
  await server.start();
  const [down] = await server.waitLogged('redis_down', 1, 5000);
  assert.equal(down.error, 'no answer within --redis-timeout');
  w.redis.resume();
  await waitRedisHealth(server, 'ok');
  await stopClean(server);
});

test('an ACL that forbids adding tickets: they wait in the spool as in an outage, set aside for no one, and reach Redis once the ACL allows it', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  // Everything but XADD, which the add script runs.
  await w.redis.cmd('ACL', 'SETUSER', 'noxadd', 'on', '>s3cret', '~*', '&*', '+@all', '-xadd');
  const server = await w.serveAs('noxadd', 's3cret');
  await waitRedisHealth(server, 'ok');
  const c = await w.connect(server);
  const first = await escalate(c, 'm1', 'The solar inverter is offline since the update.');
  const second = await escalate(c, 'm2', 'The home battery shows error 1013.', ['battery']);
  const refs = [first.escalation.ticket, second.escalation.ticket];
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), refs);
  await waitRedisHealth(server, 'down');
  // Retried once a retry interval, and still one outage: the probe may
  // create groups, and says nothing of tickets.
  await sleep(2500);
  assert.deepEqual(await w.redis.ticketIds(), []);
  const redisEvents = () => outageEvents(server).filter((e) => e.event.startsWith('redis_'));
  assert.deepEqual(redisEvents().map((e) => e.event), ['redis_down']);
  assert.match(redisEvents()[0].error, /can.t run this command/);
  assert.ok(!fs.existsSync(`${w.spool}.rejected`), 'a ticket was set aside');
  await w.redis.cmd('ACL', 'SETUSER', 'noxadd', '+xadd');
  await waitFor(async () => w.spoolText() === '', 6000, 'the spool to drain');
  assert.deepEqual(await w.redis.ticketIds(), refs);
  await waitRedisHealth(server, 'ok');
  await logged(server, 'redis_up');
  assert.deepEqual(redisEvents().map((e) => e.event), ['redis_down', 'redis_up']);
  await c.close();
  await stopClean(server);
});

test('Redis turned read-only (a replica): the ticket is spooled, the log says READONLY, and the spool drains once it is a primary again', { skip: SKIP }, async (t) => {
  const { w, server, c } = await refusingWrites(t, { refuse: readOnly });
  const r = await escalate(c, 'm1', 'The solar inverter is offline since the update.');
  assert.deepEqual(w.spoolTickets().map((x) => x.ticket_id), [r.escalation.ticket]);
  await waitRedisHealth(server, 'down');
  await w.redis.cmd('REPLICAOF', 'NO', 'ONE');
  await waitFor(async () => w.spoolText() === '', 6000, 'the spool to drain');
  assert.deepEqual(await w.redis.ticketIds(), [r.escalation.ticket]);
  await waitRedisHealth(server, 'ok');
  const events = await logged(server, 'redis_up');
  assert.deepEqual(events.filter((e) => e.event.startsWith('redis_')).map((e) => e.event),
    ['redis_down', 'redis_up']);
  assert.match(events.find((e) => e.event === 'redis_down').error, /^READONLY /);
  await c.close();
  await stopClean(server);
});

test('Redis refusing writes, then taking them again while the server is idle: the outage ends without a customer\'s write', { skip: SKIP }, async (t) => {
  const { w, server, c } = await refusingWrites(t);
  // No ticket, so nothing waits in the spool: only the conversation's
  // save is refused.
  await c.ask('m1', 'When does my contract at the new address start?', 5000);
  await waitRedisHealth(server, 'down');
  // The customer leaves: nothing more comes that would write.
  await c.close();
  await sleep(500);
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  await waitRedisHealth(server, 'ok');
  const events = await logged(server, 'redis_up');
  assert.deepEqual(events.filter((e) => e.event.startsWith('redis_')).map((e) => e.event),
    ['redis_down', 'redis_up']);
  assert.match(events.find((e) => e.event === 'redis_down').error, /^OOM command not allowed/);
  // The conversation the outage kept from Redis is stored once it is over.
  await w.stored(c.welcome.session, null, 'the conversation to be stored');
  await stopClean(server);
});

test('Redis refusing writes, then taking them again under a steady chat with no tickets: the outage ends while messages flow', { skip: SKIP }, async (t) => {
  const { w, server, c } = await refusingWrites(t);
  await c.ask('m1', 'When does my contract at the new address start?', 5000);
  await waitRedisHealth(server, 'down');
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  // A message every 150 ms keeps the Redis worker from ever idling for
  // its probe; only saves reach Redis, and a save does not end such an
  // outage.
  let health = 'down';
  for (let i = 2; i < 40 && health !== 'ok'; i++) {
    await c.ask(`m${i}`, 'When does my contract at the new address start?', 5000);
    await sleep(150);
    health = (await healthz(server.port)).json.redis;
  }
  assert.equal(health, 'ok', 'still down after 38 messages');
  await c.close();
  await stopClean(server);
});

test('Redis refusing writes to a user whose ACL forbids XGROUP: the outage still ends once Redis takes writes', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  // The group exists; the user may use the stream but not create groups.
  await w.redis.cmd('XGROUP', 'CREATE', 'autoassist:l2', 'l2', '0', 'MKSTREAM');
  await w.redis.cmd('ACL', 'SETUSER', 'noxg', 'on', '>s3cret', '~*', '&*', '+@all', '-xgroup');
  const server = await w.serveAs('noxg', 's3cret');
  await waitRedisHealth(server, 'ok');
  const c = await w.connect(server);
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '1');
  await c.ask('m1', 'When does my contract at the new address start?', 5000);
  await waitRedisHealth(server, 'down');
  await c.close();
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  await waitRedisHealth(server, 'ok');
  await stopClean(server);
});

test('Redis down and the spool\'s disk full: the customer is told the technical part was not recorded, the rest is answered, and /metrics counts it', { skip: SKIP }, async (t) => {
  const w = new World(t);
  w.redis = new Redis(w.dir); // not started: nothing listens on the socket
  // /dev/full takes the open and refuses every write with ENOSPC.
  const server = await w.serve(['--spool', '/dev/full']);
  const c = await w.connect(server);
  const r = await c.ask('m1', 'Will my payment method stay the same after the move? Our solar inverter shows a red light.', 5000);
  assert.equal(r.escalation.status, 'failed');
  assert.equal(r.escalation.ticket, null);
  assert.match(r.text, /I couldn’t record the technical part about the solar installation right now\. Please try again shortly\./);
  assert.equal(outcome(r, 'payment_method'), 'answer', 'the administrative part is still answered');
  let m = await metrics(server.port);
  assert.equal(m['autoassist_tickets_total{result="failed"}'], 1);
  assert.equal(m['autoassist_tickets_total{result="stored"}'], 0);
  assert.equal(m.autoassist_tickets_spooled_total, 0);
  assert.equal(m.autoassist_spool_pending, 0, 'nothing waits in a spool that took nothing');
  await server.waitLogged('spool_failed', 1, 3000);
  const failedLines = server.logLines().map((l) => JSON.parse(l)).filter((o) => o.event === 'spool_failed');
  assert.equal(failedLines.length, 1);
  assert.equal(failedLines[0].level, 'error');
  assert.equal(failedLines[0].error, 'No space left on device');
  assert.equal(failedLines[0].tickets, 1);

  // Once Redis is back, the customer's retry is filed.
  await w.redis.start();
  await waitRedisHealth(server, 'ok');
  const again = await escalate(c, 'm2', 'Our solar inverter shows a red light.');
  assert.deepEqual(await w.redis.ticketIds(), [again.escalation.ticket]);
  m = await metrics(server.port);
  assert.equal(m['autoassist_tickets_total{result="stored"}'], 1);
  await logged(server, 'redis_up');
  assert.deepEqual(outageEvents(server).map((e) => e.event), ['redis_down', 'redis_up'],
    'Redis was down from the start; nothing was ever spooled');
  await c.close();
  await stopClean(server);
});

test('"Your profile has been updated" only when the profile link was written', { skip: SKIP }, async (t) => {
  // Redis answers reads (the registry lookup confirms the address) but
  // refuses writes, so the link (HSET autoassist:profile:<session>) fails.
  const w = new World(t);
  await w.startRedis();
  await w.loadRegistry([REGISTRY_LINE]);
  const server = await w.serve();
  const c = await w.connect(server);
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '1');
  const r = await c.ask('m1', `My new address is Storgata 12B, 0155 Oslo, meter ID ${METER}`, 5000);
  await sleep(500); // the link, if any, is written after the reply
  await w.redis.cmd('CONFIG', 'SET', 'maxmemory', '0');
  const linked = await w.redis.cmd('EXISTS', `autoassist:profile:${c.welcome.session}`);
  await c.close();
  await stopClean(server);
  if (r.text.includes('Your profile has been updated')) {
    assert.equal(linked, 1, `the customer was told "${r.text}" but autoassist:profile:${c.welcome.session} was never written`);
  }
});

// A conversation with one question in it, stored in Redis by a server
// that has stopped since: the next server holds nothing of it. Resolves
// its session id.
const STORED_QUESTION = 'When does my contract at the new address start?';
async function storedConversation(w) {
  const first = await w.serve();
  const c = await w.connect(first);
  await c.ask('m1', STORED_QUESTION, 5000);
  await c.close();
  await stopClean(first);
  return c.welcome.session;
}

test('two tabs resume the same stored conversation on a restarted server at once: both continue it', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const session = await storedConversation(w);

  // The new process holds nothing: both tabs' hellos wait for Redis together.
  const server = await w.serve(['--redis-timeout', '5']);
  const tabs = [await Client.connect(server.wsUrl), await Client.connect(server.wsUrl)];
  w.clients.push(...tabs);
  w.redis.pause();
  const welcomes = tabs.map((tab) => tab.hello({ session }));
  await sleep(200);
  w.redis.resume();
  for (const welcome of await Promise.all(welcomes)) {
    assert.equal(welcome.session, session);
    assert.equal(welcome.resumed, true);
  }
  // The conversation goes on in both: the date it asked for is taken.
  const r = await tabs[1].ask('m2', 'We move in on 1 March.', 5000);
  assert.equal(r.slots.date, '2027-03-01');
  for (const tab of tabs) await tab.close();
  await stopClean(server);
});

test('a restarted server cannot ask Redis for the conversation to resume: a new one starts at once, and the stored one is still there once Redis is back', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const first = await w.serve();
  const c = await w.connect(first);
  const session = c.welcome.session;
  await c.ask('m1', 'When does my contract start? We move in on 1 March.', 5000);
  await c.close();
  await stopClean(first);

  const server = await w.serve();
  const tab = await w.client(server);
  w.redis.pause();
  const started = Date.now();
  const welcome = await tab.hello({ session });
  assert.ok(Date.now() - started < 3000, `the welcome took ${Date.now() - started} ms`);
  assert.equal(welcome.resumed, false);
  assert.notEqual(welcome.session, session, 'a conversation it could not load is not taken over');
  const fresh = await tab.ask('n1', METER, 5000);
  assert.equal(fresh.slots.date, undefined, 'the new conversation knows no date');
  w.redis.resume();
  await waitFor(async () => (await healthz(server.port)).json.redis === 'ok', 6000, 'Redis to be back');
  await tab.close();

  const later = await w.client(server);
  const back = await later.hello({ session });
  assert.equal(back.resumed, true);
  assert.equal(back.session, session);
  const r = await later.ask('m2', METER, 5000);
  assert.equal(r.slots.date, '2027-03-01', 'the stored conversation still has its date');
  await later.close();
  await stopClean(server);
});

test('two instances on one Redis: a conversation the customer went on with at the other is resumed as it is now, not as this one last held it', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const b = await w.serveAnother('b');
  const first = await w.connect(a);
  const session = first.welcome.session;
  const key = `autoassist:conversation:${session}`;
  // Each turn's save goes to Redis after its reply: wait for it.
  const saved = async (before) => waitFor(async () => (await w.redis.cmd('HGET', key, 'conv')) !== before,
    5000, 'the turn to be stored');
  await first.ask('m1', 'When does my contract start?', 5000);
  await saved(null);
  await first.close();

  // The reload lands on the other instance, where the date is given.
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  const before = await w.redis.cmd('HGET', key, 'conv');
  assert.equal((await there.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await saved(before);
  await there.close();

  // Back at the first instance, which still holds the conversation from
  // before the date: it goes on from the one the customer left at the other.
  const back = await w.client(a);
  const welcome = await back.hello({ session });
  assert.equal(welcome.resumed, true);
  assert.equal(welcome.session, session);
  const r = await back.ask('m3', METER, 5000);
  assert.equal(r.slots.date, '2027-03-01', 'the date given at the other instance is known');
  await back.close();

  // Redis not answering: the copy held here is resumed, as before Redis
  // was asked, once --redis-timeout has passed.
  w.redis.pause();
  const again = await w.client(a);
  const started = Date.now();
  const held = await again.hello({ session });
  assert.ok(Date.now() - started < 3000, `the welcome took ${Date.now() - started} ms`);
  assert.equal(held.resumed, true);
  assert.equal(held.session, session);
  w.redis.resume();
  const later = await again.ask('m4', METER, 5000);
  assert.equal(later.slots.date, '2027-03-01', 'the copy held here has the date it took from Redis');
  await again.close();
  await stopClean(b);
  await stopClean(a);
});

test('a conversation Redis lost (evicted) while held here is stored whole again after its next turn: its earlier replies too', { skip: SKIP }, async (t) => {
  const w = new World(t);
  const { a, b, c, session, key } = await w.twoInstances();
  const first = await c.ask('m1', 'When does my contract start?', 5000);
  await c.ask('m2', 'We move in on 1 March.', 5000);
  await waitFor(async () => (await w.redis.cmd('HEXISTS', key, '1')) === 1, 5000, 'both turns to be stored');
  await w.redis.cmd('DEL', key);
  // The next turn's save writes only what it changed, into nothing: the
  // server learns so, and stores the whole conversation again.
  await c.ask('m3', METER, 5000);
  await waitFor(async () => (await w.redis.cmd('HEXISTS', key, '0')) === 1, 5000,
    'the first reply to be stored again');
  c.ws.terminate();

  const there = await givenAgain(w, b, session, 'm1', 'When does my contract start?', first);
  await there.close();
  await stopClean(b);
  await stopClean(a);
});

test('a customer who leaves while a turn waits at Redis, after the stored copy expired: the whole conversation is stored again, not just that turn', { skip: SKIP }, async (t) => {
  const w = new World(t);
  const args = ['--session-ttl', '4', '--redis-timeout', '5'];
  const { a, b, c, session, key } = await w.twoInstances(args);
  const first = await c.ask('m1', 'When does my contract start?', 5000);
  await w.stored(session);
  // The tab stays open past the TTL: Redis lets the copy go, this server
  // keeps it.
  await waitFor(async () => (await w.redis.cmd('EXISTS', key)) === 0, 8000, 'the stored copy to expire');
  // The next turn waits at Redis while the customer leaves: its save (its
  // own reply) and the leaving's (a renew) come back together.
  w.redis.pause();
  c.send({ type: 'message', id: 'm2', text: 'The battery storage makes a clicking noise.' });
  assert.equal((await c.expect('typing')).in_reply_to, 'm2');
  c.ws.terminate();
  await sleep(300);
  w.redis.resume();
  await waitFor(async () => (await w.redis.cmd('HEXISTS', key, '0')) === 1, 5000,
    'the first reply to be stored again');
  const there = await givenAgain(w, b, session, 'm1', 'When does my contract start?', first);
  await there.close();
  await stopClean(b);
  await stopClean(a);
});

test('fields a later build adds to a stored conversation push out none of the replies kept', { skip: SKIP }, async (t) => {
  const w = new World(t);
  const { a, b, c, session, key } = await w.twoInstances();
  const first = await c.ask('m1', 'When does my contract start?', 5000);
  await waitFor(async () => (await w.redis.cmd('HEXISTS', key, '0')) === 1, 5000, 'the turn and its reply to be stored');
  const later = [];
  for (let i = 0; i < 12; i++) later.push(`later${i}`, 'x'.repeat(100));
  await w.redis.cmd('HSET', key, ...later);
  c.ws.terminate();

  const there = await givenAgain(w, b, session, 'm1', 'When does my contract start?', first);
  await there.close();
  await stopClean(b);
  await stopClean(a);
});

test('a key of another type where a held conversation is stored is replaced, and Redis is not taken for down', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  await w.redis.cmd('DEL', key);
  await w.redis.cmd('RPUSH', key, 'not a conversation');
  assert.equal((await c.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await waitFor(async () => (await w.redis.cmd('TYPE', key)) === 'hash', 5000, 'the turn to be stored over the list');
  // A ticket goes to Redis, not to the spool, and no outage is logged.
  await escalate(c, 'm3', 'The battery storage makes a clicking noise.', ['battery']);
  assert.equal((await healthz(a.port)).json.redis, 'ok');
  assert.deepEqual(outageEvents(a).map((e) => e.event), []);
  await c.close();
  await stopClean(a);
});

test('messages sent again at another instance after their replies were lost get those replies again, not second turns', { skip: SKIP }, async (t) => {
  const w = new World(t);
  const { a, b, c, session } = await w.twoInstances();
  const text = 'We move in on 1 March. The battery storage makes a clicking noise.';
  const first = await escalate(c, 'm1', text, ['battery']);
  c.ws.terminate(); // the widget never saw that reply
  await waitFor(async () => (await w.redis.cmd('HEXISTS', `autoassist:conversation:${session}`, '0')) === 1,
    5000, 'the turn and its reply to be stored');

  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.deepEqual(await there.ask('m1', text, 5000), first, 'the same reply');
  const m = await metrics(b.port);
  assert.equal(m['autoassist_replies_total{intent="contract_start_date"}'], 0,
    'not decided again at the other instance');
  assert.deepEqual(await w.redis.ticketIds(), [first.escalation.ticket]);
  // The conversation goes on from the one turn: the date is known.
  const second = await there.ask('m2', METER, 5000);
  assert.equal(second.slots.date, '2027-03-01');
  const third = await there.ask('m3', 'Will my payment method stay the same?', 5000);
  // Both replies lost; the widget sends again all it has no reply to, at
  // the first instance now: each gets its reply again, neither is decided.
  there.ws.terminate();
  await waitFor(async () => {
    const kept = await w.redis.cmd('HMGET', `autoassist:conversation:${session}`, '0', '1', '2', '3');
    return kept.some((v) => v && v.includes('"in_reply_to":"m3"'));
  }, 5000, 'the third turn and its reply to be stored');
  const back = await w.client(a);
  assert.equal((await back.hello({ session })).resumed, true);
  const before = await metrics(a.port);
  assert.deepEqual(await back.ask('m2', METER, 5000), second);
  assert.deepEqual(await back.ask('m3', 'Will my payment method stay the same?', 5000), third);
  const after = await metrics(a.port);
  for (const intent of ['contract_start_date', 'payment_method', 'address_update']) {
    const k = `autoassist_replies_total{intent="${intent}"}`;
    assert.equal(after[k], before[k], `${intent}: not decided again`);
  }
  await back.close();
  await there.close();
  await stopClean(b);
  await stopClean(a);
});

// A conversation begun at instance a, its tab left open there, that the
// customer goes on with at instance b: the move-in date given and stored.
async function goneOnAt(w, a, b) {
  const first = await w.firstTurn(a);
  const session = first.welcome.session;
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  const before = await w.storedCopy(session);
  assert.equal((await there.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await w.stored(session, before, 'the second turn to be stored');
  return { first, session, there };
}

test('an instance never stores its copy of a conversation over one with more turns: a tab closing late at the first instance loses nothing said at the second', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const b = await w.serveAnother('b');
  const c = await w.serveAnother('c');
  // The link to the first instance is dead but not yet noticed there; the
  // widget goes on at the second.
  const { first: stale, session, there } = await goneOnAt(w, a, b);
  await there.close();
  const newer = await w.storedCopy(session);
  // Now the first instance lets go of its copy, one turn behind.
  await stale.close();
  await waitFor(async () => (await healthz(a.port)).json.connections === 0, 5000, 'the first instance to see the close');
  await sleep(300);
  assert.equal(await w.storedCopy(session), newer, 'the copy with more turns stays');

  const third = await w.client(c);
  assert.equal((await third.hello({ session })).resumed, true);
  assert.equal((await third.ask('m3', METER, 5000)).slots.date, '2027-03-01');
  await third.close();
  for (const server of [c, b, a]) await stopClean(server);
});

test('back at an instance whose dropped link it has not noticed yet, the customer goes on from what was said at the other', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const b = await w.serveAnother('b');
  // The first link stays open: to the first instance, a dropped link it has
  // not noticed yet (a phone switching networks) looks like a second tab.
  const { first: dead, session, there } = await goneOnAt(w, a, b);
  there.ws.terminate();

  const back = await w.client(a);
  assert.equal((await back.hello({ session })).resumed, true);
  assert.equal((await back.ask('m3', METER, 5000)).slots.date, '2027-03-01', 'the date given at the other instance is known');
  await back.close();
  await dead.close();
  await stopClean(b);
  await stopClean(a);
});

// A language chosen in a hello, with no turn since, at one instance or
// the other: the other resumes the conversation in it.
for (const [name, chooseAt, resumeAt] of [
  ['a language chosen in a hello, with no turn since, is what another instance resumes the conversation in', 'a', 'b'],
  ['a language chosen at another instance, with no turn since, is the one this instance resumes in', 'b', 'a'],
]) {
  test(name, { skip: SKIP }, async (t) => {
    const w = new World(t);
    await w.startRedis();
    const servers = { a: await w.serve(), b: await w.serveAnother('b') };
    const c = await w.firstTurn(servers.a);
    const session = c.welcome.session;
    await c.close();
    // The customer switches the widget to German: no turn, only the hello.
    await (await w.chooseGerman(servers[chooseAt], session)).close();
    const back = await w.client(servers[resumeAt]);
    const welcome = await back.hello({ session });
    assert.equal(welcome.resumed, true);
    assert.equal(welcome.lang, 'de');
    await back.close();
    await stopClean(servers.b);
    await stopClean(servers.a);
  });
}

test('a link noticed dropped late stores nothing over a language chosen at another instance since', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const b = await w.serveAnother('b');
  const dead = await w.firstTurn(a);
  const session = dead.welcome.session;
  await (await w.chooseGerman(b, session)).close();
  const german = await w.storedCopy(session);
  // The first instance notices its link dropped only now.
  await dead.close();
  await waitFor(async () => (await healthz(a.port)).json.connections === 0, 5000, 'the first instance to see the close');
  await sleep(300);
  assert.equal(await w.storedCopy(session), german, 'the language chosen since stays');
  const back = await w.client(a);
  assert.equal((await back.hello({ session })).lang, 'de');
  await back.close();
  await stopClean(b);
  await stopClean(a);
});

test('a copy expired here but not dropped yet gives way to the conversation another instance kept going', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve(['--session-ttl', '2']);
  const b = await w.serveAnother('b', ['--session-ttl', '2']);
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  await c.close();
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.equal((await there.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  // Past the first instance's TTL for its copy, within the second's.
  await sleep(2300);
  await there.ask('m3', 'Will my payment method stay the same?', 5000);
  const back = await w.client(a);
  const welcome = await back.hello({ session });
  assert.equal(welcome.resumed, true);
  assert.equal(welcome.session, session);
  assert.equal((await back.ask('m4', METER, 5000)).slots.date, '2027-03-01');
  await back.close();
  await there.close();
  await stopClean(b);
  await stopClean(a);
});

test('a conversation stored by a build before the hash layout (a string under autoassist:session:) is resumed, and stored on as a hash', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const c = await w.connect(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  const before = `autoassist:session:${session}`;
  assert.equal((await c.ask('m1', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await w.stored(session);
  await c.close();
  await stopClean(a);
  // The layout before: the conversation's bytes as a string, under the
  // key builds before used.
  await w.redis.cmd('EVAL', "local c = redis.call('HGET', KEYS[1], 'conv') " +
    "redis.call('DEL', KEYS[1]) return redis.call('SET', KEYS[2], c)", '2', key, before);

  const b = await w.serveAnother('b');
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.equal((await there.ask('m2', METER, 5000)).slots.date, '2027-03-01',
    'the date from the string is known');
  await w.stored(session, null, 'the next turn to store it as a hash');
  assert.equal(await w.redis.cmd('TYPE', before), 'string', 'the key builds before read is left to them');
  await there.close();
  await stopClean(b);
});

test('in a rolling deploy, a conversation the customer went on with at an instance of the build before (the string) is resumed as it is there', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  const before = `autoassist:session:${session}`;
  const first = `${before}:first`;
  await w.redis.cmd('EVAL', "return redis.call('SET', KEYS[2], redis.call('HGET', KEYS[1], 'conv'))",
    '2', key, first);
  const fewer = await w.storedCopy(session);
  assert.equal((await c.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await w.stored(session, fewer, 'the second turn to be stored');
  await c.close();
  await stopClean(a);
  // An instance of the build before took the second turn: its string has
  // it, and the hash is still at the first.
  await w.redis.cmd('EVAL', "redis.call('SET', KEYS[2], redis.call('HGET', KEYS[1], 'conv')) " +
    "redis.call('DEL', KEYS[1]) return redis.call('HSET', KEYS[1], 'conv', redis.call('GET', KEYS[3]))",
    '3', key, before, first);

  const b = await w.serveAnother('b');
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.equal((await there.ask('m3', METER, 5000)).slots.date, '2027-03-01',
    'the date the string has is known');
  await there.close();
  await stopClean(b);
});

test('a copy with fewer turns let go last keeps the newer stored copy for the session TTL from then', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve(['--session-ttl', '4']);
  const b = await w.serveAnother('b', ['--session-ttl', '4']);
  const key = `autoassist:conversation:`;
  const stale = await w.firstTurn(a);
  const session = stale.welcome.session;
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.equal((await there.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await there.close();
  await sleep(2500);
  // The first instance's tab leaves last, with a copy one turn behind: the
  // stored copy stays, and is kept a TTL from now, not from the other close.
  await stale.close();
  await waitFor(async () => (await w.redis.cmd('TTL', key + session)) >= 3, 3000, 'the stored copy\'s TTL to be renewed');
  await sleep(2000);
  const c = await w.serveAnother('c');
  const third = await w.client(c);
  assert.equal((await third.hello({ session })).resumed, true);
  assert.equal((await third.ask('m3', METER, 5000)).slots.date, '2027-03-01');
  await third.close();
  for (const server of [c, b, a]) await stopClean(server);
});

test('a customer idle in an open tab past the session TTL, then moved by a deploy: the other instance resumes the conversation', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve(['--session-ttl', '2']);
  const b = await w.serveAnother('b', ['--session-ttl', '2']);
  const c = await w.connect(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  assert.equal((await c.ask('m1', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  // Stored after the turn, for the TTL from then: idle longer, it is gone
  // from Redis while the tab, still open, keeps it at this instance.
  await waitFor(async () => (await w.redis.cmd('EXISTS', key)) === 1, 5000, 'the turn to be stored');
  await waitFor(async () => (await w.redis.cmd('EXISTS', key)) === 0, 5000, 'the stored copy to expire');
  // The deploy: SIGTERM closes the tab's connection (1001).
  await stopClean(a);
  await waitFor(async () => (await w.redis.cmd('EXISTS', key)) === 1, 5000,
    'the conversation to be stored again when its last connection left');
  const there = await w.client(b);
  const welcome = await there.hello({ session });
  assert.equal(welcome.resumed, true);
  assert.equal((await there.ask('m2', METER, 5000)).slots.date, '2027-03-01');
  await there.close();
  await stopClean(b);
});

test('a turn taken while Redis was down is stored once it is back, and another instance resumes the conversation with it', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis({ aof: true }); // what Redis took survives its SIGKILL
  const a = await w.serve();
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  const before = await w.redis.cmd('HGET', key, 'conv');
  await w.redis.stop('SIGKILL');
  await waitRedisHealth(a, 'down');
  assert.equal((await c.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await w.redis.start();
  await waitFor(async () => (await w.redis.cmd('HGET', key, 'conv')) !== before, 8000,
    'the turn Redis missed to be stored once it is back');

  const b = await w.serveAnother('b');
  const there = await w.client(b);
  assert.equal((await there.hello({ session })).resumed, true);
  assert.equal((await there.ask('m3', METER, 5000)).slots.date, '2027-03-01',
    'the date given while Redis was down is known at the other instance');
  await there.close();
  await c.close();
  await stopClean(b);
  await stopClean(a);
});

test('a held conversation whose TTL runs out while Redis is asked about it is still the one resumed', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve(['--session-ttl', '2', '--redis-timeout', '1']);
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  await c.close();
  await sleep(1500);
  // Redis hangs: the question about the held copy outlasts its TTL.
  w.redis.pause();
  const back = await w.client(a);
  const welcome = await back.hello({ session });
  assert.equal(welcome.resumed, true);
  assert.equal(welcome.session, session);
  w.redis.resume();
  await back.close();
  await stopClean(a);
});

test('Redis holding an older copy of a conversation than this instance (a save it missed): the copy held here is resumed', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const a = await w.serve();
  const c = await w.firstTurn(a);
  const session = c.welcome.session;
  const key = `autoassist:conversation:${session}`;
  await w.redis.cmd('COPY', key, `${key}:old`);
  assert.equal((await c.ask('m2', 'We move in on 1 March.', 5000)).slots.date, '2027-03-01');
  await waitFor(async () => (await w.redis.cmd('HGET', key, 'conv')) !== (await w.redis.cmd('HGET', `${key}:old`, 'conv')),
    5000, 'the second turn to be stored');
  // Redis goes back to the copy from before the date, as if the second
  // turn's save had been lost.
  await w.redis.cmd('COPY', `${key}:old`, key, 'REPLACE');
  await c.close();

  const back = await w.client(a);
  assert.equal((await back.hello({ session })).resumed, true);
  const r = await back.ask('m3', METER, 5000);
  assert.equal(r.slots.date, '2027-03-01', 'the date Redis lost is still known here');
  await back.close();
  await stopClean(a);
});

// Drops the client's connection while Redis is paused, resumes Redis and
// resolves the one ticket filed, once it is in Redis and the spool empty.
async function leaveThenResume(w, client) {
  client.ws.terminate();
  await sleep(200);
  w.redis.resume();
  await waitFor(async () => (await w.redis.ticketIds()).length === 1 && w.spoolText() === '', 6000,
    'the ticket of the customer who left to reach Redis');
  const [e] = await w.redis.entries();
  return e;
}

test('the customer leaves while the ticket is being written: it is stored once and the conversation resumes', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  const session = c.welcome.session;
  w.redis.pause();
  c.send({ type: 'message', id: 'm1', text: 'The battery storage makes a clicking noise.' });
  await c.expect('typing');
  const e = await leaveThenResume(w, c); // gone before the reply
  assert.equal(e.fields.session_id, session);
  assert.equal(e.fields.message, 'The battery storage makes a clicking noise.');

  const back = await w.client(server);
  const welcome = await back.hello({ session });
  assert.equal(welcome.resumed, true);
  const r = await escalate(back, 'm2', 'And the solar panels too.');
  const entries = await w.redis.entries();
  assert.deepEqual(entries.map((x) => x.fields.ticket_id), [e.fields.ticket_id, r.escalation.ticket]);
  const turns = JSON.parse(entries[1].fields.turns);
  assert.equal(turns[0].text, 'The battery storage makes a clicking noise.', 'the first turn was recorded although the customer left');
  assert.equal(turns[1].from, 'assistant');
  assert.ok(turns[1].text.includes(e.fields.ticket_id), turns[1].text);
  await back.close();
  await stopClean(server);
});

// The widget reconnects and sends again, with the first copy's ticket
// still waiting for Redis, what its lost connection had no reply to.
// behind: messages the lost connection sent after it, decided once it is
// said, which would push its reply out of the four kept (the copy must not
// be decided again all the same).
for (const behind of [0, 4]) {
  test(`a message sent again while its first copy waits at Redis gets that copy's reply and is one turn (${behind} sent behind it)`, { skip: SKIP }, async (t) => {
    const w = new World(t);
    await w.startRedis();
    const server = await w.serve(['--redis-timeout', '5']);
    const c = await w.connect(server);
    const session = c.welcome.session;
    const text = 'The battery storage makes a clicking noise.';
    w.redis.pause();
    c.send({ type: 'message', id: 'm1', text });
    await c.expect('typing');
    for (let k = 0; k < behind; k++) c.send({ type: 'message', id: `b${k}`, text: `Question number ${k}: does my payment method change?` });
    await sleep(100);
    c.ws.terminate(); // the reply is lost with the connection

    const back = await w.client(server);
    assert.equal((await back.hello({ session })).resumed, true);
    back.send({ type: 'message', id: 'm1', text });
    await back.expect('typing');
    await sleep(200);
    w.redis.resume();
    const r = await back.replyTo('m1', 5000);
    assert.equal(r.escalation.status, 'stored');
    const [e] = await w.redis.entries();
    assert.equal(r.escalation.ticket, e.fields.ticket_id, 'the first copy\'s ticket');
    // The log is written by its own thread: the line may follow the reply.
    await waitFor(async () => server.logged('message_again').length === 1, 3000,
      'the copy to be logged as answered with the first copy\'s reply');

    // Each message decided is logged once, in order: m1, those behind it,
    // m2, and m1 again before m2 had it been decided twice.
    await escalate(back, 'm2', 'And the solar panels too.');
    await waitFor(async () => server.logged('message').length >= behind + 2, 3000, 'm2 in the log');
    assert.equal(server.logged('message').length, behind + 2, 'm1 decided once');
    await back.close();
    await stopClean(server);
  });
}

// Sends m0 (escalating) while Redis is paused, then the frames given,
// which wait behind it, then drops the connection and resumes Redis.
// Resolves the fields of the tickets in Redis once the spool is empty and
// the server has stopped (its drain waits for what is still out).
const M0 = 'The battery storage makes a clicking noise.';
async function leaveBehind(t, serveArgs, frames) {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve(serveArgs);
  const c = await w.connect(server);
  w.redis.pause();
  c.send({ type: 'message', id: 'm0', text: M0 });
  await c.expect('typing');
  for (const f of frames) c.send(f);
  await sleep(200);
  c.ws.terminate();
  await sleep(200);
  w.redis.resume();
  await waitFor(async () => (await w.redis.ticketIds()).length >= 1 && w.spoolText() === '', 6000,
    'the first ticket to reach Redis');
  await stopClean(server);
  return (await w.redis.entries()).map((e) => e.fields);
}

test('the customer leaves with messages waiting behind a ticket: each is decided after it, and their tickets are filed in order', { skip: SKIP }, async (t) => {
  const texts = [
    'Our solar inverter shows error 42.',
    'Does my payment method change?',
    'The battery reports a Modbus fault.',
  ];
  const entries = await leaveBehind(t, [], texts.map((text, i) => ({ type: 'message', id: `m${i + 1}`, text })));
  assert.deepEqual(entries.map((e) => e.message), [M0, texts[0], texts[2]]);
  const turns = JSON.parse(entries[2].turns);
  assert.ok(turns.some((x) => x.text === texts[1]), 'the question between them is part of the conversation');
});

test('messages a customer left behind keep the rate limit: what a live connection would have refused files nothing', { skip: SKIP }, async (t) => {
  // --burst 3: the hello and m0 take two tokens, m1 the last; m2..m4 come
  // within milliseconds, with nothing refilled.
  const texts = ['Our solar inverter shows error 1.', 'Our solar inverter shows error 2.',
    'Our solar inverter shows error 3.', 'Our solar inverter shows error 4.'];
  const filed = await leaveBehind(t, ['--rate', '1', '--burst', '3'],
    texts.map((text, i) => ({ type: 'message', id: `m${i + 1}`, text })));
  assert.deepEqual(filed.map((e) => e.message), [M0, texts[0]]);
});

test('messages a customer left behind end at a hello: those after it were meant for another conversation', { skip: SKIP }, async (t) => {
  const filed = await leaveBehind(t, [], [
    { type: 'message', id: 'm1', text: 'Our solar inverter shows error 1.' },
    { type: 'hello', session: 'f'.repeat(32) },
    { type: 'message', id: 'm2', text: 'Our solar inverter shows error 2.' },
  ]);
  assert.deepEqual(filed.map((e) => e.message), [M0, 'Our solar inverter shows error 1.']);
});

test('the customer leaves while their stored conversation is fetched from Redis: the message sent after the hello is decided in it, in the hello\'s language, its ticket filed', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const session = await storedConversation(w);

  // The new process holds nothing: the hello waits for Redis, and the
  // message waits behind it when the customer leaves.
  const server = await w.serve(['--redis-timeout', '5']);
  const tab = await w.client(server);
  w.redis.pause();
  const text = 'Unser Wechselrichter der Solaranlage zeigt den Fehler 42.';
  tab.send({ type: 'hello', session, lang: 'de' });
  tab.send({ type: 'message', id: 'm2', text });
  await sleep(300);
  const e = await leaveThenResume(w, tab);
  assert.equal(e.fields.session_id, session);
  assert.equal(e.fields.message, text);
  assert.equal(JSON.parse(e.fields.turns)[0].text, STORED_QUESTION, 'decided in the stored conversation');
  assert.equal(e.fields.lang, 'de', 'in the language the hello asked for');
  await stopClean(server);
});

// A second tab's hello waits while the engine worker has the first tab's
// message of the conversation, and the second tab's next message waits
// for that welcome. 40 times: tab A fixes the conversation to English and
// sends 40 messages back to back, which keep it on the worker; once the
// first is answered, tab B sends a hello on A's conversation asking for
// German, a German message that escalates and a close, in one TCP
// segment. Every one of B's messages files its ticket, decided in German,
// whether or not its hello had to wait; the log shows that some did (a
// welcome that waited for a tab that left never goes out).
test('a second tab says hello, sends a message and leaves while the first tab\'s messages are decided: each of its tickets is filed, in its language', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve(['--rate', '100000', '--burst', '100000', '--queue', '512']);
  const a = await w.connect(server);
  const session = a.welcome.session;
  const texts = ['Can I take my Tibber Pulse with me?', 'Does my payment method change?'];
  const tries = 40;
  const burst = 40;
  const close = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]); // masked, 1000
  const german = (i) => `Unser Wechselrichter der Solaranlage zeigt den Fehler ${i}.`;
  for (let i = 0; i < tries; i++) {
    const raw = await Raw.open(server.port);
    raw.collect();
    await raw.write(handshake(HOST, server.port));
    await raw.waitFor((x) => x.includes('\r\n\r\n'));
    await a.hello({ session, lang: 'en' });
    for (let k = 0; k < burst; k++) a.send({ type: 'message', id: i * burst + k, text: texts[k % 2] });
    await a.replyTo(i * burst);
    await raw.write(Buffer.concat([
      maskedTextFrame(JSON.stringify({ type: 'hello', session, lang: 'de' })),
      maskedTextFrame(JSON.stringify({ type: 'message', id: `b${i}`, text: german(i) })),
      close,
    ]));
    for (let k = 1; k < burst; k++) await a.replyTo(i * burst + k);
    await raw.waitClose();
  }
  await waitFor(async () => (await w.redis.ticketIds()).length >= tries, 6000, 'every ticket of tab B');
  const tickets = (await w.redis.entries()).map((e) => e.fields);
  assert.deepEqual(tickets.map((e) => e.message).sort(), Array.from({ length: tries }, (_, i) => german(i)).sort());
  assert.deepEqual(tickets.filter((e) => e.lang !== 'de').map((e) => e.message), [], 'decided in the language B asked for');
  await a.close();
  await stopClean(server);
  const welcomedB = server.logged('session').filter((e) => e.session === session && e.resumed).length;
  // A's own hellos are resumed welcomes too: one per try.
  assert.ok(welcomedB - tries < tries, `no welcome of B waited (${welcomedB - tries} of ${tries} went out)`);
});

test('a message, then a frame libwebsockets refuses, in one TCP segment: the message\'s ticket is still filed', { skip: SKIP }, async (t) => {
  // The server decides the messages of a turn of its loop after reading
  // them all; here the connection is closed within that turn.
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const raw = await Raw.open(server.port);
  raw.collect();
  await raw.write(handshake(HOST, server.port));
  await raw.waitFor((s) => s.includes('\r\n\r\n'));
  const text = 'The solar inverter shows an error since the move.';
  const message = maskedTextFrame(JSON.stringify({ type: 'message', id: 'last', text }));
  // A ping of 128 bytes: control frames carry at most 125 (RFC 6455 5.5).
  const ping = Buffer.concat([Buffer.from([0x89, 0xfe, 0x00, 0x80, 0, 0, 0, 0]), Buffer.alloc(128)]);
  await raw.write(Buffer.concat([message, ping]));
  await raw.waitClose();
  await waitFor(async () => (await w.redis.ticketIds()).length === 1, 6000,
    'the ticket of the message before the bad frame to reach Redis');
  const [e] = await w.redis.entries();
  assert.equal(e.fields.message, text);
  await stopClean(server);
});

for (const [what, close, code] of [
  ['a binary frame', (c) => c.send(Buffer.from('{}'), { binary: true }), 1003],
  ['invalid UTF-8', (c) => c.send(Buffer.from([0x7b, 0xff]), { binary: false }), 1007],
  ['SIGTERM', (c, server) => server.proc.kill('SIGTERM'), 1001],
]) {
  test(`${what} while a message waits behind a ticket Redis is slow to take: both are answered, in order, then close ${code}`, { skip: SKIP }, async (t) => {
    const w = new World(t);
    await w.startRedis();
    const server = await w.serve(['--redis-timeout', '5']);
    const c = await w.connect(server);
    w.redis.pause();
    c.send({ type: 'message', id: 'm0', text: 'Our solar inverter shows a red light.' });
    await c.expect('typing', 5000); // m0 is with the Redis worker
    c.send({ type: 'message', id: 'm1', text: 'Will my payment method stay the same after the move?' });
    // m1 is read, and waits behind m0. A frame that closes comes after it
    // on the socket; SIGTERM does not, so it waits long enough for a read.
    await sleep(500);
    close(c, server);
    await sleep(200);
    w.redis.resume();
    const replies = [];
    for (;;) {
      const f = await c.next(8000).catch(() => null);
      if (!f) break;
      if (f.type === 'reply') replies.push(f);
    }
    assert.deepEqual(replies.map((r) => r.in_reply_to), ['m0', 'm1'], 'the replies owed before the close');
    assert.equal(replies[0].escalation.status, 'stored');
    assert.equal(outcome(replies[1], 'payment_method'), 'answer');
    assert.equal((await c.waitClose()).code, code);
    if (what === 'SIGTERM') {
      const exit = await within(server.exited, 10000, 'the server to exit after SIGTERM');
      assert.equal(exit.code, 0);
      assert.deepEqual(sanitizerReports(server.stderr), []);
    } else {
      await stopClean(server);
    }
  });
}

test('SIGTERM while Redis hangs: the reply owed for the ticket in flight goes out, then 1001, exit 0 within 10 s', { skip: SKIP }, async (t) => {
  const w = new World(t);
  await w.startRedis();
  const server = await w.serve();
  const c = await w.connect(server);
  w.redis.pause();
  const texts = ['Our solar inverter is beeping.', 'What about my payment method after the move?', 'The home battery is empty.'];
  texts.forEach((text, i) => c.send({ type: 'message', id: `m${i}`, text }));
  await c.expect('typing', 5000); // m0 is with the Redis worker, m1 and m2 wait behind it
  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  const frames = [];
  while (!c.closed && Date.now() - t0 < 25000) {
    const f = await c.next(25000 - (Date.now() - t0)).catch(() => null);
    if (f) frames.push(f);
  }
  const exit = await within(server.exited, 30000 - (Date.now() - t0), 'the server to exit after SIGTERM');
  const took = Date.now() - t0;
  w.redis.resume();

  const replies = frames.filter((f) => f.type === 'reply');
  const problems = [];
  if (!replies.some((r) => r.in_reply_to === 'm0')) {
    problems.push(`no reply to m0 (the message whose ticket was being written); frames: ${JSON.stringify(frames)}`);
  }
  const order = replies.map((r) => r.in_reply_to);
  if (JSON.stringify(order) !== JSON.stringify(['m0', 'm1', 'm2'].slice(0, order.length))) problems.push(`replies out of order: ${order}`);
  if (!c.closed || c.closed.code !== 1001) problems.push(`connection not closed with 1001: ${JSON.stringify(c.closed)}`);
  if (took > 11500) problems.push(`the server took ${took} ms to exit after SIGTERM (README: at most 10 s)`);
  if (exit.code !== 0) problems.push(`exit ${JSON.stringify(exit)}`);
  const reports = sanitizerReports(server.stderr);
  if (reports.length) problems.push(`sanitizer: ${reports.join('\n')}`);
  // Whatever the customer was told, the ticket is kept (spool or Redis).
  const kept = [...w.spoolTickets().map((x) => x.ticket_id), ...await w.redis.ticketIds()];
  for (const r of replies.filter((x) => x.escalation.status === 'stored')) {
    if (!kept.includes(r.escalation.ticket)) problems.push(`ticket ${r.escalation.ticket} told but not kept`);
  }
  if (kept.length < 1) problems.push('the ticket of m0 is neither in the spool nor in Redis');
  assert.deepEqual(problems, []);
});
