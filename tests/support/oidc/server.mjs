// A standards-compliant OIDC provider standing in for Authentik in labgate's tests.
//
// Usage: node server.mjs CONFIG.json
//
// CONFIG: {"issuer_path": "/application/o/hermes/",
//          "keys": [<private JWK>, ...],                  signing keys (RS256), given by the test
//          "clients": [{"client_id", "client_secret", "claims": {...}}],
//          "resources": {"urn:labgate": "labgate", ...}}   resource indicator -> audience
//
// The provider is mounted under issuer_path on 127.0.0.1, on a port the OS picks; the first
// line on stdout is `READY <port>`. Discovery is at `<issuer>.well-known/openid-configuration`
// and the JWKS under the issuer, as Authentik lays them out.
//
// Test-only admin endpoints (outside the issuer path):
//   POST /admin/jwks   body {"keys": [...]}: rebuild the provider with a new signing key set
//   GET  /admin/stats  {"jwks": n, "discovery": n}: requests served since start or last reset
//   POST /admin/stats/reset
//   POST /admin/jwks-cache-control  body {"value": "max-age=2" | null}: a Cache-Control header
//        on JWKS answers (oidc-provider sends none, like Authentik; other issuers do)
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const prefix = config.issuer_path.replace(/\/$/, '');
const stats = { jwks: 0, discovery: 0 };
const profiles = new Map(config.clients.map((c) => [c.client_id, c.claims ?? {}]));
let provider = null;
let issuer = null;
let jwksCacheControl = null;

function build(keys) {
  const p = new Provider(issuer, {
    jwks: { keys },
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    })),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Object.keys(config.resources)[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          const audience = config.resources[indicator];
          if (!audience) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'tools:read tools:list',
            audience,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => profiles.get(token.clientId) ?? {},
  });
  p.proxy = false;
  return p;
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function admin(req, res) {
  if (req.method === 'POST' && req.url === '/admin/jwks') {
    const body = await readBody(req);
    provider = build(body.keys);
    return json(res, 200, { ok: true });
  }
  if (req.method === 'POST' && req.url === '/admin/jwks-cache-control') {
    jwksCacheControl = (await readBody(req)).value ?? null;
    return json(res, 200, { ok: true });
  }
  if (req.method === 'GET' && req.url === '/admin/stats') return json(res, 200, stats);
  if (req.method === 'POST' && req.url === '/admin/stats/reset') {
    stats.jwks = 0;
    stats.discovery = 0;
    return json(res, 200, stats);
  }
  return json(res, 404, { error: 'not_found' });
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/admin/')) {
    admin(req, res).catch(() => json(res, 400, { error: 'bad_request' }));
    return;
  }
  if (!req.url.startsWith(`${prefix}/`)) return json(res, 404, { error: 'not_found' });
  const inner = req.url.slice(prefix.length);
  if (inner.startsWith('/jwks')) {
    stats.jwks += 1;
    if (jwksCacheControl !== null) res.setHeader('cache-control', jwksCacheControl);
  }
  if (inner.startsWith('/.well-known/openid-configuration')) stats.discovery += 1;
  req.originalUrl = req.url;
  req.url = inner;
  provider.callback()(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}${config.issuer_path}`;
  provider = build(config.keys);
  process.stdout.write(`READY ${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
