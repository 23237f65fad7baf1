// The reference OAuth server of the W4/W10 comparisons: panva's oidc-provider, in memory, on a
// loopback port. `node server.mjs PORT [CLIENT_SECRET]` prints one line when it listens:
//   oidc-provider ready http://127.0.0.1:PORT
//
// One confidential client (`svc`, client_secret_basic, client_credentials only; DPoP proofs with
// the server's nonce accepted), a public device client (`tv`, the device flow) and three
// resource servers, chosen with the `resource` parameter of the token request:
//   urn:bench:es256   JWT access tokens (RFC 9068) signed ES256
//   urn:bench:rs256   JWT access tokens signed RS256
//   urn:bench:opaque  opaque access tokens: oidc-provider introspects only those (it answers
//                     unsupported_token_type for a JWT), so introspection is measured on these.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Provider } from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT [CLIENT_SECRET]');
  process.exit(2);
}
const secret = process.argv[3] ?? 'bench-oidc-provider-secret-0123456789';
const issuer = `http://127.0.0.1:${port}`;

function signingKey(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

const resources = {
  'urn:bench:es256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  'urn:bench:rs256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'urn:bench:opaque': { accessTokenFormat: 'opaque' },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'svc',
      client_secret: secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      // A device that polls the token endpoint (the device flow workload).
      client_id: 'tv',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: {
    keys: [
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256', 'bench-es256'),
      signingKey('rsa', { modulusLength: 2048 }, 'RS256', 'bench-rs256'),
    ],
  },
  // Cookies sign nothing in these workloads; fixed keys keep the start-up quiet.
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // As in Castellan: a client introspects only its own tokens.
    introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    revocation: { enabled: false },
    // As in Castellan: proofs must carry the server's nonce.
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
    deviceFlow: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        const server = resources[resourceIndicator];
        if (!server) throw new Error(`unknown resource ${resourceIndicator}`);
        return { scope: 'api', audience: resourceIndicator, accessTokenTTL: 300, ...server };
      },
    },
  },
  ttl: { ClientCredentials: 300, AccessToken: 300 },
});
// Errors are the benchmark's business (it counts statuses); nothing per request on the console.
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready ${issuer}`);
});
