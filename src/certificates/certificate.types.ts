import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import { IsOptional, Length, Max, Min } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { CertificatePayload } from './certificate.verify';

export const DEFAULT_CERTIFICATE_TTL = 30 * 24 * 3600;
export const MIN_CERTIFICATE_TTL = 60;
export const MAX_CERTIFICATE_TTL = 400 * 24 * 3600;

@ArgsType()
export class IssueCertificateArgs {
  @Field(() => ID, { nullable: true, description: 'Certify every usable entitlement of this account (give this or entitlementId).' })
  accountId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Certify this one entitlement (give this or accountId).' })
  entitlementId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Bind the certificate to this device fingerprint. Required for a DEVICE_LOCKED entitlement, and the device must be activated on it; without it, an account certificate leaves DEVICE_LOCKED entitlements out.',
  })
  @IsOptional()
  @Length(1, 255)
  deviceFingerprint?: string | null;

  @Field(() => Int, {
    defaultValue: DEFAULT_CERTIFICATE_TTL,
    description: `How long the certificate is valid, in seconds: ${MIN_CERTIFICATE_TTL} (a minute) to ${MAX_CERTIFICATE_TTL} (400 days); default 30 days.`,
  })
  @Min(MIN_CERTIFICATE_TTL)
  @Max(MAX_CERTIFICATE_TTL)
  ttl: number;
}

@ObjectType({
  description:
    'A signed entitlement certificate: a compact JWS (EdDSA/Ed25519) that offline, on-premises and embedded deployments verify with the keys of `GET /.well-known/jwks.json`, without calling the hub.',
})
export class Certificate {
  @Field({ description: 'The certificate itself: `base64url(header).base64url(payload).base64url(signature)`. Store it as is.' })
  certificate: string;

  @Field({ description: 'The id of the signing key (the `kid` of the header and of the JWKS entry that verifies it).' })
  kid: string;

  @Field(() => ID, { description: 'The unique id of this certificate (`jti`), as recorded in the audit log.' })
  jti: string;

  @Field({ description: 'When it was issued (`iat`).' })
  issuedAt: Date;

  @Field({ description: 'When it stops being valid (`exp`); ask for a new one before then.' })
  expiresAt: Date;

  @Field(() => GraphQLJSONObject, {
    description:
      'The signed payload, decoded: `{ iss, sub, account, device, entitlements: [{ id, sku, model, status, startsAt, endsAt, graceEndsAt, quantity, overagePolicy, resetPeriod, features: [{ key, limit }] }], iat, exp, jti }`.',
  })
  payload: CertificatePayload;
}
