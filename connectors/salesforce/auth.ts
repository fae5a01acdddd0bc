import { createSign, randomUUID } from 'node:crypto';
import type { SalesforceCredentials, SalesforceOptions } from './options';

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/**
 * The RS256 assertion of the OAuth 2.0 JWT bearer flow: iss = the connected app's consumer
 * key, sub = the username, aud = the login server, exp within three minutes (Salesforce's
 * limit). jsforce has no signer of its own, so node:crypto signs it.
 */
export function signJwtAssertion(input: { clientId: string; username: string; audience: string; privateKeyPem: string; now?: Date }): string {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = b64url(
    JSON.stringify({ iss: input.clientId, sub: input.username, aud: input.audience, iat, exp: iat + 180, jti: randomUUID() }),
  );
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(input.privateKeyPem);
  return `${header}.${claims}.${b64url(signature)}`;
}

/**
 * The token request parameters of the configured grant. `client_id`/`client_secret` are added
 * by jsforce's OAuth2 from its config (client credentials, password); the JWT bearer request
 * carries only the assertion.
 */
export function grantParams(options: SalesforceOptions, credentials: SalesforceCredentials): { grant_type: string; [name: string]: string } {
  switch (options.auth) {
    case 'client_credentials':
      return { grant_type: 'client_credentials' };
    case 'password':
      return {
        grant_type: 'password',
        username: options.username ?? '',
        password: `${credentials.password ?? ''}${credentials.securityToken ?? ''}`,
      };
    case 'jwt_bearer':
      return {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: signJwtAssertion({
          clientId: options.clientId,
          username: options.username ?? '',
          audience: options.jwtAudience,
          privateKeyPem: credentials.privateKey ?? '',
        }),
      };
  }
}

/** OAuth error names (RFC 6749 §5.2 and Salesforce's) that mean the credentials were refused. */
export const OAUTH_AUTH_ERRORS = new Set([
  'invalid_grant',
  'invalid_client',
  'invalid_client_id',
  'invalid_client_credentials',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_request',
  'invalid_scope',
  'inactive_user',
  'inactive_org',
  'access_denied',
]);
