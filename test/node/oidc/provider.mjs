// A real OpenID provider for Vitalwire's single sign-on tests: npm's
// OpenID-certified oidc-provider, bound to 127.0.0.1 on a free port, with
// one confidential client (Vitalwire), the users and claims the test gives,
// and its own login page. It prints {"issuer": ...} on its first line once
// it listens.
//
// Usage: node provider.mjs '<config JSON>'
//   {"client_id", "client_secret", "redirect_uri", "post_logout_redirect_uri", "scopes": [extra scopes],
//    "users": {"<login>": {"password", "claims": {...}, "mint": "wrong-aud" | "expired" | "tampered"}}}
//
// A user with "mint" gets, in the token answer, an ID token re-made from
// the real one: for another audience, already expired (both signed with the
// provider's own key), or with its payload changed after signing. The
// relying party must refuse each.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const cfg = JSON.parse(process.argv[2]);
const users = cfg.users || {};

// ES256: an EC key is made in a moment (an RSA one can take seconds on a
// busy machine).
const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: cfg.client_id,
      client_secret: cfg.client_secret,
      redirect_uris: [cfg.redirect_uri],
      post_logout_redirect_uris: [cfg.post_logout_redirect_uri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys: [signingJwk] },
    // Scopes besides OpenID's own the provider may grant (e.g. SMART user/ scopes).
    scopes: ['openid', 'offline_access', ...(cfg.scopes || [])],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'roles', 'care_teams'], email: ['email'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: async (ctx, id) => (users[id] ? { accountId: id, claims: async () => ({ sub: id, ...users[id].claims }) } : undefined),
  });

  // The test's refusals: re-make the ID token of a user with "mint".
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
    const payload = jose.decodeJwt(ctx.body.id_token);
    const mint = users[payload.sub] && users[payload.sub].mint;
    if (!mint) return;
    const now = Math.floor(Date.now() / 1000);
    const sign = p => new jose.SignJWT(p).setProtectedHeader({ alg: 'ES256', kid: 'test-key-1' }).sign(privateKey);
    if (mint === 'wrong-aud') ctx.body.id_token = await sign({ ...payload, aud: 'another-client' });
    if (mint === 'expired') ctx.body.id_token = await sign({ ...payload, iat: now - 1200, exp: now - 600 });
    if (mint === 'tampered') {
      const [h, , s] = ctx.body.id_token.split('.');
      const changed = Buffer.from(JSON.stringify({ ...payload, roles: ['vitalwire-admin'] })).toString('base64url');
      ctx.body.id_token = `${h}.${changed}.${s}`;
    }
  });

  const page = (body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test hospital sign-in</title></head><body>${body}</body></html>`;
  const esc = s => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const m = req.url.match(/^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/);
    if (!m) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'POST' && m[2]) {
        let body = '';
        for await (const chunk of req) { body += chunk; if (body.length > 4096) throw new Error('form too large'); }
        const form = new URLSearchParams(body);
        const login = form.get('login') || '';
        const u = users[login];
        if (!u || u.password !== form.get('password')) {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end(page(`<p role="alert">Wrong username or password.</p><a href="/interaction/${esc(m[1])}">Try again</a>`));
        }
        return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      }
      if (details.prompt.name === 'login') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(page(`<h1>Test hospital sign-in</h1>
<form method="post" action="/interaction/${esc(m[1])}/login">
<label>Username <input id="login" name="login" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button></form>`));
      }
      // Consent: a first-party client, granted what it asked.
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${err.message}`);
    }
  });
  console.log(JSON.stringify({ issuer }));
});
