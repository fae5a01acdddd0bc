import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { Jwk } from './certificate.verify';

/**
 * The public half of a certificate signing key. Every key ever used is kept (retired keys
 * too), so all instances serve the same JWKS and old certificates stay verifiable after a
 * rotation. Private keys never reach the database: they live in EHUB_SIGNING_KEY or the
 * data directory.
 */
@Entity('signing_key')
export class SigningKey {
  /** RFC 7638 thumbprint of the public key (base64url SHA-256), first 16 characters. */
  @PrimaryColumn('text')
  kid: string;

  /** `{ kty: "OKP", crv: "Ed25519", x }`. */
  @Column('jsonb', { name: 'public_jwk' })
  publicJwk: Jwk;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  /** Set when a rotation replaced it; it still verifies the certificates it signed. */
  @Column('timestamptz', { name: 'retired_at', nullable: true })
  retiredAt: Date | null;
}
