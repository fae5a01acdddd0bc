import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum ReleaseChannel {
  STABLE = 'STABLE',
  RC = 'RC',
  BETA = 'BETA',
  ALPHA = 'ALPHA',
  DEV = 'DEV',
}

export enum ReleaseStatus {
  DRAFT = 'DRAFT',
  PUBLISHED = 'PUBLISHED',
  YANKED = 'YANKED',
}

registerEnumType(ReleaseChannel, {
  name: 'ReleaseChannel',
  description: 'How stable a release is. Asking for a channel includes every more stable one (BETA: STABLE, RC and BETA).',
  valuesConfig: {
    STABLE: { description: 'General availability.' },
    RC: { description: 'Release candidate.' },
    BETA: { description: 'Feature-complete, still being tested.' },
    ALPHA: { description: 'Early, incomplete.' },
    DEV: { description: 'Development builds.' },
  },
});
registerEnumType(ReleaseStatus, {
  name: 'ReleaseStatus',
  description: 'DRAFT: being prepared (artifacts may be uploaded), offered to nobody. PUBLISHED: offered. YANKED: withdrawn (no new links or uploads).',
  valuesConfig: {
    DRAFT: { description: 'Being prepared: artifacts may be uploaded; offered to nobody.' },
    PUBLISHED: { description: 'Offered to those entitled to it.' },
    YANKED: { description: 'Withdrawn: no new links or uploads.' },
  },
});

@ObjectType({ description: 'What a release runs on; an empty list means any.' })
export class ReleaseCompatibility {
  @Field(() => [String], { description: 'Operating systems / platforms (lower-case, e.g. linux, windows).' })
  platforms: string[];
  @Field(() => [String], { description: 'CPU architectures (e.g. x86_64, arm64).' })
  architectures: string[];
  @Field(() => [String], { description: 'Device types (hardware models).' })
  deviceTypes: string[];
  @Field(() => String, { nullable: true, description: 'The oldest version that can upgrade to this release directly (semver); null = any.' })
  minUpgradeFrom: string | null;
}

@ObjectType({ description: 'A file of a release, stored in the artifact store and signed with the hub key (docs/delivery.md).' })
export class ReleaseArtifact {
  @Field(() => ID, { description: 'The artifact id.' })
  id: string;
  @Field(() => ID, { description: 'The release it belongs to.' })
  releaseId: string;
  @Field({ description: 'The file name.' })
  name: string;
  @Field(() => String, { nullable: true, description: 'The platform it is built for (e.g. linux); null = any.' })
  platform: string | null;
  @Field(() => String, { nullable: true, description: 'The CPU architecture it is built for (e.g. arm64); null = any.' })
  arch: string | null;
  @Field(() => Float, { description: 'Size in bytes (exact: below 2^53).' })
  size: number;
  @Field({ description: 'SHA-256 of the bytes, lower-case hex.' })
  sha256: string;
  @Field({ description: 'SHA-512 of the bytes, lower-case hex.' })
  sha512: string;
  @Field({ description: 'Compact JWS (EdDSA, typ ehub-artifact+jws) over the name, size and digests; verify with the JWKS or `ehub verify-artifact`.' })
  signature: string;
  @Field({ description: 'The signing key id (in GET /.well-known/jwks.json).' })
  kid: string;
  @Field({ description: 'When it was uploaded.' })
  createdAt: Date;
}

@ObjectType({ description: 'A version of a product (docs/delivery.md).' })
export class Release {
  @Field(() => ID, { description: 'The release id.' })
  id: string;
  @Field(() => ID, { description: 'The product released.' })
  productId: string;
  @Field({ description: 'The product SKU.' })
  productSku: string;
  @Field({ description: 'Semantic version, canonical form (no leading v).' })
  version: string;
  @Field(() => ReleaseChannel, { description: 'How stable it is.' })
  channel: ReleaseChannel;
  @Field(() => ReleaseStatus, { description: 'Draft, published or yanked.' })
  status: ReleaseStatus;
  @Field(() => Date, { nullable: true, description: 'The date the release counts as published (maintenance is judged by it); may be backdated. Null while DRAFT.' })
  releaseDate: Date | null;
  @Field({ description: 'True when releaseDate was set earlier than the actual publication.' })
  backdated: boolean;
  @Field(() => Date, { nullable: true, description: 'When it was actually published.' })
  publishedAt: Date | null;
  @Field(() => Date, { nullable: true, description: 'When it was yanked; null unless YANKED.' })
  yankedAt: Date | null;
  @Field(() => String, { nullable: true, description: 'Why it was yanked.' })
  yankReason: string | null;
  @Field(() => [String], { description: 'Feature keys a licence must hold to receive this release.' })
  requiredFeatures: string[];
  @Field(() => ReleaseCompatibility, { description: 'What it runs on and what it upgrades from.' })
  compatibility: ReleaseCompatibility;
  @Field(() => String, { nullable: true, description: 'Release notes.' })
  notes: string | null;
  @Field(() => [ReleaseArtifact], { description: 'Its files, by name.' })
  artifacts: ReleaseArtifact[];
  @Field({ description: 'When it was created.' })
  createdAt: Date;
  @Field({ description: 'When it last changed.' })
  updatedAt: Date;
}

@InputType({ description: 'A release, keyed by product and version: created when new, else updated.' })
export class UpsertReleaseInput {
  @Field(() => ID, { description: 'The product id or SKU.' })
  product: string;
  @Field({ description: 'Semantic version (e.g. 2.4.0, 2.5.0-rc.1; a leading v is dropped).' })
  version: string;
  @Field(() => ReleaseChannel, { nullable: true, description: 'Default STABLE when new; unchanged when omitted.' })
  channel?: ReleaseChannel;
  @Field(() => ReleaseStatus, { nullable: true, description: 'Default DRAFT when new; PUBLISHED publishes, YANKED withdraws. A published release cannot go back to DRAFT.' })
  status?: ReleaseStatus;
  @Field(() => Date, { nullable: true, description: 'The release date; earlier than now backdates it (not later than now). Default: the moment it is published.' })
  releaseDate?: Date;
  @Field(() => [String], { nullable: true, description: 'Feature keys a licence must hold to receive it; replaces the list when given.' })
  requiredFeatures?: string[];
  @Field(() => [String], { nullable: true, description: 'Platforms it runs on (empty = any); replaces the list when given.' })
  platforms?: string[];
  @Field(() => [String], { nullable: true, description: 'CPU architectures (empty = any); replaces the list when given.' })
  architectures?: string[];
  @Field(() => [String], { nullable: true, description: 'Device types (empty = any); replaces the list when given.' })
  deviceTypes?: string[];
  @Field(() => String, { nullable: true, description: 'Semantic version; empty string clears it.' })
  minUpgradeFrom?: string;
  @Field(() => String, { nullable: true, description: 'Release notes.' })
  notes?: string;
  @Field(() => String, { nullable: true, description: 'Why it was yanked (with status YANKED).' })
  yankReason?: string;
}

@InputType({ description: 'Who a download link is for and how long it lives.' })
export class CreateDownloadLinkInput {
  @Field(() => ID, { description: 'The artifact to download.' })
  artifact: string;
  @Field(() => ID, { nullable: true, description: "The account downloading (an account-scoped key: its own, the default)." })
  account?: string;
  @Field(() => String, { nullable: true, description: 'The device (activation fingerprint) downloading; needs account.' })
  deviceFingerprint?: string;
  @Field(() => Int, { nullable: true, description: 'Lifetime in seconds (default EHUB_DOWNLOAD_LINK_TTL_SECONDS, 600; at most EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS).' })
  ttlSeconds?: number;
}

@ObjectType({ description: 'A short-lived download URL bound to one artifact and one subject. It carries no API key.' })
export class DownloadLink {
  @Field(() => ID, { description: 'The link id (in the download log).' })
  id: string;
  @Field({ description: 'The URL to GET (hub-served with an HMAC signature and Range support, or an S3 presigned URL).' })
  url: string;
  @Field({ description: 'When the link stops working.' })
  expiresAt: Date;
  @Field(() => ReleaseArtifact, { description: 'The artifact it downloads.' })
  artifact: ReleaseArtifact;
  @Field({ description: 'fs: served by the hub; s3: presigned by the S3-compatible store.' })
  store: string;
}

@ObjectType({ description: 'One reason a release is refused to a subject, with the dates that decided it.' })
export class ReleaseAccessReasonType {
  @Field({
    description:
      'A stable code: RELEASE_NOT_PUBLISHED, RELEASE_YANKED, CHANNEL_MISMATCH, INCOMPATIBLE_PLATFORM, INCOMPATIBLE_ARCHITECTURE, INCOMPATIBLE_DEVICE_TYPE, UPGRADE_PATH_UNSUPPORTED, NOT_ENTITLED, ENTITLEMENT_NOT_ACTIVE, FEATURE_MISSING, MAINTENANCE_ENDED, MAINTENANCE_REVOKED, WARRANTY_RESTRICTED.',
  })
  code: string;
  @Field({ description: 'For people, with the deciding dates, e.g. "maintenance ended 2026-03-31, release published 2026-05-02".' })
  message: string;
}

@ObjectType({ description: 'Whether a release is available to an account or a device (docs/delivery.md, ADR 0039), with every reason when it is not.' })
export class ReleaseAccess {
  @Field({ description: 'True when the release may be installed / downloaded by the subject.' })
  allowed: boolean;
  @Field(() => [ReleaseAccessReasonType], { description: 'Every reason it is refused (empty when allowed).' })
  reasons: ReleaseAccessReasonType[];
  @Field(() => ID, { nullable: true, description: 'The entitlement that grants it, when allowed.' })
  entitlementId: string | null;
}
