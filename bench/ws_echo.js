// ws_echo.js -- a peer for wsgwd's rows in `make bench`: node's `ws` WebSocket echo server
// (no backend hop), what a user might run instead of a gateway.
//   NODE_PATH=/usr/share/nodejs node bench/ws_echo.js PORT
'use strict';
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
process.on('SIGTERM', () => process.exit(0));
