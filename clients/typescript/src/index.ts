export { EntitlementClient, Lease, answerFromCertificate } from './client';
export type { ClientOptions, OfflineOptions, CheckAnswer, CheckOptions, AnswerSource, LeaseEvent } from './client';
export { EntitlementError, HubError, HubUnreachableError } from './errors';
export { MemoryStore, WebStorageStore } from './store';
export type { OfflineStore } from './store';
export { GraphQLTransport, RestTransport } from './transport';
export type { Transport, HubCheck, HubConsume, Activation, LeaseState, Seat, UsageEvent, UsageResult, IssuedCertificate } from './transport';
export { verifyCertificate, entitlementStateAt } from './verify';
export type { Jwk, Jwks, CertificatePayload, CertificateEntitlement, VerificationResult } from './verify';
