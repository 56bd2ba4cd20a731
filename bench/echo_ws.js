// bench/echo_ws.js: an echo server on the npm `ws` package (pinned in
// package.json / package-lock.json), what a Node.js team would deploy.
// Settings as close to the service's as ws allows: messages of at most
// 4096 bytes (maxPayload), no per-message compression (the ws default for
// servers), UTF-8 validated on text frames (ws always validates; the
// optional utf-8-validate addon is not installed, so ws uses its own JS
// check or Node's buffer.isUtf8). Each message is sent back as text.
//   node echo_ws.js [--port N]
'use strict';
const { WebSocketServer } = require('ws');

let port = 9002;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--port') port = Number(process.argv[++i]);
}
const wss = new WebSocketServer({ port, host: '127.0.0.1', maxPayload: 4096, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`echo_ws: port ${port}, ws ${require('ws/package.json').version}, node ${process.version}`));
process.on('SIGTERM', () => process.exit(0));
