// Test-only Rekor v1 stand-in: serves @sigstore/mock's Rekor v1 handler over HTTP on loopback.
//
//   node server.mjs --key KEY.pem [--port 0] [--host 127.0.0.1] [--clock 2026-01-01T00:00:00Z]
//
// KEY.pem is the log's PKCS#8 (or SEC1) ECDSA P-256 private key; its public key is what a
// trusted root lists for this log. Once listening, prints one JSON line to stdout:
//   {"url": "http://127.0.0.1:PORT", "publicKeyDer": "<base64 SPKI>"}
//
// Routes:
//   POST /api/v1/log/entries   proposed entry (hashedrekord, dsse, ...) -> {uuid: LogEntry}, 201,
//                              with ETag: uuid and Location: /api/v1/log/entries/uuid
//   GET  /api/v1/log/publicKey the log key as PEM (as a real Rekor v1 serves it)
//   GET  /healthz              {"status":"SERVING"}
//
// What the mock does NOT do (it is no real log): it does not validate the proposed entry
// (any JSON is accepted and logged canonicalized as the body), each entry's logIndex is random
// while its inclusion proof always describes a one-leaf tree (logIndex 0, treeSize 1, no
// hashes, rootHash = the leaf hash of the body), and nothing is stored or retrievable.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { initializeTLog, rekorHandler } = require('@sigstore/mock');

function parseArgs(argv) {
  const out = { host: '127.0.0.1', port: 0, key: null, clock: null };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in out)) throw new Error(`unknown option ${argv[i]}`);
    out[name] = argv[i + 1];
  }
  if (!out.key) throw new Error('--key KEY.pem is required');
  return out;
}

const args = parseArgs(process.argv.slice(2));
const privateKey = crypto.createPrivateKey(fs.readFileSync(args.key));
const publicKey = crypto.createPublicKey(privateKey);
const publicPem = publicKey.export({ format: 'pem', type: 'spki' });
const clock = args.clock ? new Date(args.clock) : undefined;
const MAX_BODY = 1024 * 1024;

let handler = null;

const server = http.createServer((req, res) => {
  const send = (status, body, type = 'application/json', extra = {}) => {
    res.writeHead(status, { 'Content-Type': type, ...extra });
    res.end(body);
  };
  if (req.method === 'GET' && req.url === '/healthz') return send(200, '{"status":"SERVING"}');
  if (req.method === 'GET' && req.url === '/api/v1/log/publicKey') {
    return send(200, publicPem, 'application/x-pem-file');
  }
  if (req.method !== 'POST' || req.url !== '/api/v1/log/entries') {
    return send(404, JSON.stringify({ code: 404, message: 'not found' }));
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', async () => {
    const result = await handler.fn(Buffer.concat(chunks).toString('utf8'));
    // Real Rekor v1 names the new entry in ETag and Location; clients (sigstore-go, so cosign)
    // pick the entry out of the {uuid: entry} map by the ETag, and crash without it.
    const extra = {};
    if (result.statusCode === 201) {
      const uuid = Object.keys(JSON.parse(result.response))[0];
      extra.ETag = uuid;
      extra.Location = `/api/v1/log/entries/${uuid}`;
    }
    send(result.statusCode, result.response, result.contentType || 'text/plain', extra);
  });
});

server.listen(Number(args.port), args.host, async () => {
  const { port } = server.address();
  const url = `http://${args.host}:${port}`;
  const tlog = await initializeTLog(url, { publicKey, privateKey }, clock);
  handler = rekorHandler(tlog);
  const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  process.stdout.write(JSON.stringify({ url, publicKeyDer: der }) + '\n');
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
