import { actionFor, type Refusal } from '../core/codes.ts';
import { displayMessage } from '../core/display.ts';

/** The part of an admission.k8s.io/v1 AdmissionRequest this webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  name?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

/** An admission.k8s.io/v1 AdmissionResponse. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  /** A mutation: base64 of a JSON Patch (RFC 6902) document. */
  patchType?: 'JSONPatch';
  patch?: string;
}

/** The AdmissionReview the webhook answers with. */
export interface AdmissionReviewReply {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/**
 * Reads an AdmissionReview body: the request, or why it is not a usable admission.k8s.io/v1
 * AdmissionReview (the caller answers that with HTTP 400).
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest | string {
  if (!isObject(body)) return 'the body is not a JSON object';
  if (body.kind !== 'AdmissionReview') return 'kind must be AdmissionReview';
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    return `apiVersion ${JSON.stringify(body.apiVersion)} is not supported; only admission.k8s.io/v1`;
  }
  const request = body.request;
  if (!isObject(request)) return 'request is missing';
  return requestProblem(request) ?? (request as unknown as AdmissionRequest);
}

function requestProblem(request: Record<string, unknown>): string | undefined {
  if (typeof request.uid !== 'string' || request.uid === '') return 'request.uid is missing';
  if (typeof request.operation !== 'string' || !OPERATIONS.has(request.operation)) {
    return 'request.operation is missing or unknown';
  }
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.group !== 'string') {
    return 'request.kind is missing';
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Wraps a response in an AdmissionReview. */
export function reply(response: AdmissionResponse): AdmissionReviewReply {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * An allowing response, with warnings the user should see (kubectl prints them), escaped and
 * clipped like every text that may carry genome content (core/display.ts).
 */
export function allowed(uid: string, warnings: string[] = []): AdmissionResponse {
  return {
    uid,
    allowed: true,
    ...(warnings.length > 0 && { warnings: warnings.map(displayMessage) }),
  };
}

/**
 * A denying response whose message carries the refusal code first, the field (under
 * `fieldPrefix`), the reason and what to do, so kubectl's error says all of it. The field and
 * the reason are escaped and clipped (core/display.ts): they may carry genome text.
 */
export function denied(
  uid: string,
  refusal: Refusal,
  fieldPrefix = '',
  warnings: string[] = [],
): AdmissionResponse {
  const field =
    refusal.field === undefined
      ? fieldPrefix
      : joinField(fieldPrefix, displayMessage(refusal.field));
  const where = field === '' ? '' : ` ${field}:`;
  const reason = displayMessage(refusal.message.replace(/\.$/, ''));
  const message = `${refusal.code}:${where} ${reason}. What to do: ${actionFor(refusal.code)}`;
  return {
    uid,
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message },
    ...(warnings.length > 0 && { warnings: warnings.map(displayMessage) }),
  };
}

function joinField(prefix: string, field: string): string {
  if (prefix === '') return field;
  return field.startsWith('[') ? `${prefix}${field}` : `${prefix}.${field}`;
}
