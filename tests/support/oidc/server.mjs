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
// Clients may also be OAuth login clients ("redirect_uris": loopback URIs, any port, as RFC 8252
// allows native apps): authorization code with PKCE, refresh tokens when `offline_access` is
// asked for. Authentik issues those without `prompt=consent`; oidc-provider follows OIDC Core
// §11 and drops `offline_access` unless the request carries it, so the stand-in adds it.
// The login page is `<issuer>interaction/<uid>`: a form with `username` and `password`
// (CONFIG "users": {"name": "password"}), then a consent page with one button.
// CONFIG "resource_prefixes": {"http://127.0.0.1:": "labgate"} maps any resource indicator with
// that prefix to an audience; "access_token_ttl" (seconds, default 600) applies to every token.
//
// Test-only admin endpoints (outside the issuer path):
//   POST /admin/jwks   body {"keys": [...]}: rebuild the provider with a new signing key set
//   GET  /admin/stats  {"jwks": n, "discovery": n, "refresh": n, "code": n, "login": n}: JWKS and
//        discovery requests, refresh_token and authorization_code grants, logins completed
//   POST /admin/stats/reset
//   POST /admin/jwks-cache-control  body {"value": "max-age=2" | null}: a Cache-Control header
//        on JWKS answers (oidc-provider sends none, like Authentik; other issuers do)
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const prefix = config.issuer_path.replace(/\/$/, '');
const stats = { jwks: 0, discovery: 0, refresh: 0, code: 0, login: 0 };
const users = config.users ?? {};
const ttl = config.access_token_ttl ?? 600;
const profiles = new Map(config.clients.map((c) => [c.client_id, c.claims ?? {}]));
let provider = null;
let issuer = null;
let jwksCacheControl = null;

function build(keys) {
  const p = new Provider(issuer, {
    jwks: { keys },
    clients: config.clients.map((c) => (c.redirect_uris ? {
      client_id: c.client_id,
      client_secret: c.client_secret,
      application_type: 'native',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: c.redirect_uris,
      token_endpoint_auth_method: 'client_secret_post',
    } : {
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    })),
    interactions: { url: (_ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AccessToken: ttl, ClientCredentials: ttl, RefreshToken: 14 * 24 * 3600 },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Object.keys(config.resources)[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          let audience = config.resources[indicator];
          for (const [start, aud] of Object.entries(config.resource_prefixes ?? {})) {
            if (!audience && indicator.startsWith(start)) audience = aud;
          }
          if (!audience) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'tools:read tools:list',
            audience,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => profiles.get(token.clientId) ?? {},
  });
  p.proxy = false;
  p.on('grant.success', (ctx) => {
    if (ctx.oidc.params.grant_type === 'refresh_token') stats.refresh += 1;
    if (ctx.oidc.params.grant_type === 'authorization_code') stats.code += 1;
  });
  return p;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The login page, then the consent page (as Authentik's default explicit-consent flow).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const action = `${prefix}/interaction/${details.uid}`;
  const consent = details.prompt.name === 'consent';
  if (req.method === 'GET') {
    const fields = consent
      ? `<p>${escape(details.params.client_id)} asks for: ${escape(details.params.scope ?? '')}</p>`
      : '<input name="username" autocomplete="username"><input name="password" type="password">';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><title>${consent ? 'Consent' : 'Sign in'}</title>
<h1>${consent ? 'Authorize' : 'Sign in to'} ${escape(details.params.client_id)}</h1>
<form method="post" action="${escape(action)}">${fields}<button type="submit">Continue</button></form>`);
    return;
  }
  const form = await readForm(req);
  if (!consent) {
    const username = form.get('username') ?? '';
    if (!(username in users) || users[username] !== form.get('password')) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><title>Sign in</title><p>Wrong username or password.</p>');
      return;
    }
    stats.login += 1;
    await provider.interactionFinished(req, res, { login: { accountId: username } });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } });
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
    for (const key of Object.keys(stats)) stats[key] = 0;
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
  if (inner.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => json(res, 400, { error: String(err.message ?? err) }));
    return;
  }
  if (inner.startsWith('/auth?') && inner.includes('offline_access')) {
    // Authentik honours offline_access without prompt=consent (see the header).
    const query = new URLSearchParams(inner.slice('/auth?'.length));
    if ((query.get('scope') ?? '').split(' ').includes('offline_access')) {
      const prompts = new Set((query.get('prompt') ?? '').split(' ').filter(Boolean));
      prompts.add('consent');
      query.set('prompt', [...prompts].join(' '));
      req.url = `${prefix}/auth?${query}`;
    }
  }
  if (inner.startsWith('/jwks')) {
    stats.jwks += 1;
    if (jwksCacheControl !== null) res.setHeader('cache-control', jwksCacheControl);
  }
  if (inner.startsWith('/.well-known/openid-configuration')) stats.discovery += 1;
  req.originalUrl = req.url;
  req.url = req.url.slice(prefix.length);
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
