'use strict';
// Helpers for the end-to-end tests: start the real `autoassist serve` binary
// on a free port, talk to it over WebSocket (the `ws` package), over plain
// HTTP and over raw TCP, and check how it stopped.
//
// Every wait here is bounded: a test that hangs fails after a few seconds
// instead of stalling the suite.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const WebSocket = require('ws');

const REPO = path.resolve(__dirname, '..', '..');
const BIN = process.env.AUTOASSIST_BIN || path.join(REPO, 'build', 'autoassist');
const HOST = '127.0.0.1';
const WAIT_MS = 4000; // default bound for one expected event

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects with a message naming what was awaited when ms pass first.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Temporary directories made by tmpFile, removed when the test file ends.
const tmpDirs = [];
process.on('exit', () => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// Copies of the repository's intents/ and templates/ that a test may edit
// (and reload): { intents, templates } directories.
function dataCopy() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoassist-e2e-'));
  tmpDirs.push(dir);
  const out = {};
  for (const name of ['intents', 'templates']) {
    out[name] = path.join(dir, name);
    fs.cpSync(path.join(REPO, name), out[name], { recursive: true });
  }
  return out;
}

// Polls check() every 50 ms until it returns something truthy, which it
// resolves; rejects after ms.
async function waitFor(check, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const last = await check();
    if (last) return last;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

function tmpFile(name, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoassist-e2e-'));
  tmpDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

// The grid registry the English conversation checks the move-in date against.
const REGISTRY_LINE = {
  meter_id: '707057500012345671',
  address: 'Storgata 12B',
  postcode: '0155',
  city: 'Oslo',
  supply_start: '2027-03-01',
};

function registryFile() {
  return tmpFile('registry.jsonl', JSON.stringify(REGISTRY_LINE) + '\n');
}

// ---- HTTP ----

// One request on a fresh connection (no keep-alive). Resolves {status,
// headers, body}.
function httpRequest(port, urlPath, method = 'GET', ms = WAIT_MS) {
  return within(new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path: urlPath, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  }), ms, `${method} ${urlPath}`);
}

const httpGet = (port, urlPath, ms = WAIT_MS) => httpRequest(port, urlPath, 'GET', ms);

async function healthz(port) {
  const r = await httpGet(port, '/healthz');
  return { status: r.status, json: JSON.parse(r.body), headers: r.headers };
}

// Parses Prometheus text into { 'name{labels}': number }.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function metrics(port) {
  const r = await httpGet(port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseMetrics(r.body);
}

// ---- the server ----

class Server {
  // wrap: a command that runs the server in its place (exec), such as
  // ['prlimit', '--nofile=100:4096', '--'].
  constructor(args, env, wrap = []) {
    this.args = args;
    this.env = env;
    this.wrap = wrap;
    this.stdout = '';
    this.stderr = '';
    this.exit = null; // {code, signal} once exited
  }

  get wsUrl() { return `ws://${HOST}:${this.port}/ws`; }

  async start() {
    for (let attempt = 0; ; attempt++) {
      // A test may name the port (--port P among its arguments).
      const named = this.args.indexOf('--port');
      this.port = named >= 0 ? Number(this.args[named + 1]) : await freePort();
      this.stdout = '';
      this.stderr = '';
      this.exit = null;
      // Under AddressSanitizer freed memory waits in a quarantine (256 MiB
      // by default) and would read as growth; a small one keeps the memory
      // checks meaningful. A build without ASan ignores the variable.
      const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8'].filter(Boolean).join(':');
      // AUTOASSIST_OFFLOAD_ABOVE=0: every message goes through the engine
      // worker thread, as under load, rather than being decided on the
      // loop thread as at a test's light pace. A test can ask otherwise.
      const [cmd, ...pre] = [...this.wrap, BIN];
      this.proc = spawn(cmd, [...pre, 'serve', '--host', HOST, '--port', String(this.port), ...this.args], {
        env: { ...process.env, AUTOASSIST_OFFLOAD_ABOVE: '0', ASAN_OPTIONS: asan, ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.proc.stdout.setEncoding('utf8');
      this.proc.stderr.setEncoding('utf8');
      this.proc.stdout.on('data', (d) => { this.stdout += d; });
      this.proc.stderr.on('data', (d) => { this.stderr += d; });
      this.exited = new Promise((resolve) => {
        this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
        this.proc.on('error', (err) => { this.exit = { code: null, signal: null, err }; resolve(this.exit); });
      });
      try {
        await this.waitHealthy();
        return this;
      } catch (err) {
        // Another process may have taken the port between freePort() and
        // the bind: try a new one, a few times.
        if (this.exit && this.exit.code === 4 && attempt < 3) continue;
        await this.kill();
        throw err;
      }
    }
  }

  // healthMs: how long start() waits for /healthz (default 10 s).
  async waitHealthy(ms = this.healthMs || 10000) {
    const until = Date.now() + ms;
    for (;;) {
      if (this.exit) {
        throw new Error(`autoassist serve exited early (${JSON.stringify(this.exit)}): ${this.stderr.slice(-2000)}`);
      }
      try {
        const r = await httpGet(this.port, '/healthz', 1000);
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      if (Date.now() > until) throw new Error(`/healthz did not answer within ${ms} ms`);
      await sleep(50);
    }
  }

  // Sends SIGTERM and waits for the exit. Resolves {code, signal}.
  async stop(ms = 8000) {
    if (!this.exit) this.proc.kill('SIGTERM');
    return within(this.exited, ms, 'the server to exit after SIGTERM');
  }

  // Teardown: whatever state it is in, the process is gone afterwards.
  async kill() {
    if (!this.proc || this.exit) return;
    this.proc.kill('SIGKILL');
    await within(this.exited, 3000, 'the server to die after SIGKILL').catch(() => {});
  }

  rssKiB() {
    const status = fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
  }

  logLines() {
    return this.stderr.split('\n').filter((l) => l.length > 0);
  }

  // The log's events named event, parsed, in order.
  logged(event) {
    return this.logLines().map((l) => JSON.parse(l)).filter((o) => o.event === event);
  }

  // Waits (the log is flushed once a second) until the log holds count
  // events named event; resolves them.
  waitLogged(event, count = 1, ms = 5000) {
    return waitFor(() => { const ev = this.logged(event); return ev.length >= count && ev; },
      ms, `${count} "${event}" event(s) in the log`);
  }
}

// Problems the sanitizers (or anything else crashing) leave on stderr.
function sanitizerReports(stderr) {
  return stderr.split('\n').filter((l) =>
    /ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:|SUMMARY: (Address|Undefined|Thread)|Segmentation fault|Aborted/.test(l));
}

// Starts a server for test t; it is killed when t ends, whatever happened.
async function startServer(t, args = [], env = {}, wrap = []) {
  const server = new Server(args, env, wrap);
  t.after(() => server.kill());
  return server.start();
}

// SIGTERM, then: exit code 0, no signal, nothing from the sanitizers.
async function stopClean(server) {
  const exit = await server.stop();
  assert.deepEqual(sanitizerReports(server.stderr), [], 'sanitizer reports on stderr');
  assert.equal(exit.signal, null, `the server died of ${exit.signal}; stderr: ${server.stderr.slice(-1500)}`);
  assert.equal(exit.code, 0, `exit code ${exit.code}; stderr: ${server.stderr.slice(-1500)}`);
  return exit;
}

// ---- WebSocket client ----

// A connection whose frames are read in order with bounded waits.
class Client {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiter = null;
    this.closed = null;
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
        this.wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      const text = data.toString('utf8');
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        frame = { type: '<not json>', raw: text };
      }
      if (isBinary) frame = { type: '<binary>', raw: text };
      // The text as sent, for what JSON.parse loses (integers past 2^53);
      // not enumerable, so frames still compare by their fields.
      Object.defineProperty(frame, 'wire', { value: text, enumerable: false });
      this.frames.push(frame);
      this.wake();
    });
    ws.on('error', () => { /* surfaces as close */ });
  }

  // opts.protocols: the subprotocols to ask for (Sec-WebSocket-Protocol).
  static connect(url, opts = {}, ms = WAIT_MS) {
    const ws = opts.protocols ? new WebSocket(url, opts.protocols, opts) : new WebSocket(url, opts);
    const client = new Client(ws);
    return within(new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
        req.destroy();
      });
      ws.once('error', (err) => reject(err));
    }), ms, `a WebSocket connection to ${url}`).catch((err) => {
      ws.terminate();
      throw err;
    });
  }

  wake() {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  send(msg, opts) {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg), opts);
  }

  // The next frame from the server, in order.
  async next(ms = WAIT_MS) {
    const until = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.closed) {
        throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for a frame`);
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await within(new Promise((r) => { this.waiter = r; }), left, 'a frame').catch(() => {});
    }
    return this.frames.shift();
  }

  // The next frame, which must be of this type.
  async expect(type, ms) {
    const f = await this.next(ms);
    if (f.type !== type) throw new Error(`expected a ${type} frame, got ${JSON.stringify(f)}`);
    return f;
  }

  // Sends a message and returns its reply; a typing frame may come first
  // (when the reply waits for Redis), and both name the message.
  async ask(id, text, ms) {
    this.send({ type: 'message', id, text });
    return this.replyTo(id, ms);
  }

  async replyTo(id, ms) {
    let f = await this.next(ms);
    if (f.type === 'typing') {
      if (f.in_reply_to !== id) throw new Error(`typing for ${JSON.stringify(f.in_reply_to)}, expected ${id}`);
      f = await this.next(ms);
    }
    if (f.type !== 'reply') throw new Error(`expected a reply frame, got ${JSON.stringify(f)}`);
    if (f.in_reply_to !== id) throw new Error(`reply for ${JSON.stringify(f.in_reply_to)}, expected ${id}`);
    return f;
  }

  async hello(fields = {}) {
    this.send({ type: 'hello', ...fields });
    return this.expect('welcome');
  }

  // Resolves {code, reason} of the close, within ms.
  waitClose(ms = WAIT_MS) {
    return within(this.closedPromise, ms, 'the connection to close');
  }

  async close() {
    if (this.closed) return;
    this.ws.close(1000);
    await this.waitClose().catch(() => this.ws.terminate());
  }
}

// ---- raw TCP ----

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function handshake(host, port, extraHeaders = '') {
  return `GET /ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;
}

// A masked client text frame (RFC 6455 5.2), FIN set.
function maskedTextFrame(payload) {
  const p = Buffer.from(payload);
  let hdr;
  if (p.length < 126) {
    hdr = Buffer.from([0x81, 0x80 | p.length]);
  } else if (p.length < 65536) {
    hdr = Buffer.alloc(4);
    hdr[0] = 0x81;
    hdr[1] = 0x80 | 126;
    hdr.writeUInt16BE(p.length, 2);
  } else {
    throw new Error('frame too long for this helper');
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.alloc(p.length);
  for (let i = 0; i < p.length; i++) body[i] = p[i] ^ mask[i & 3];
  return Buffer.concat([hdr, mask, body]);
}

// A TCP connection that collects what the server sends and when it hangs up.
class Raw {
  constructor(port) {
    this.data = Buffer.alloc(0);
    this.ended = false;
    this.error = null;
    this.sock = net.connect(port, HOST);
    this.connected = within(new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    }), WAIT_MS, 'a TCP connection');
    this.closedPromise = new Promise((resolve) => this.sock.on('close', () => { this.ended = true; resolve(); }));
    this.sock.on('error', (e) => { this.error = e; });
  }

  static async open(port) {
    const r = new Raw(port);
    await r.connected;
    return r;
  }

  collect() {
    this.sock.on('data', (d) => { this.data = Buffer.concat([this.data, d]); });
  }

  text() { return this.data.toString('latin1'); }

  write(buf) {
    return new Promise((resolve) => {
      if (this.ended || this.sock.destroyed) return resolve(false);
      this.sock.write(buf, (err) => resolve(!err));
    });
  }

  waitClose(ms = WAIT_MS) { return within(this.closedPromise, ms, 'the server to close the TCP connection'); }

  // Resolves once pred(text so far) holds, or the connection ended.
  async waitFor(pred, ms = WAIT_MS) {
    const until = Date.now() + ms;
    while (!pred(this.text()) && !this.ended) {
      if (Date.now() > until) throw new Error(`timed out; got ${JSON.stringify(this.text().slice(0, 300))}`);
      await sleep(20);
    }
  }

  destroy() { this.sock.destroy(); }
}

module.exports = {
  BIN, HOST, REPO, REGISTRY_LINE, WAIT_MS, WebSocket,
  Client, Raw, Server,
  dataCopy, freePort, handshake, healthz, httpGet, httpRequest, maskedTextFrame, metrics, parseMetrics,
  registryFile, sanitizerReports, sleep, startServer, stopClean, tmpFile, waitFor, within,
};
