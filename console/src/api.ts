// Calls to this node's HTTP/JSON client API (docs/HTTP.md), same origin: the
// console is a client like any other, with the signed-in client's bearer token
// and the operator's name (x-tongxing-operator, percent-encoded UTF-8), so the
// access guard decides every call and the audit trail names the person.

export interface Credentials {
  readonly token: string;
  readonly operator: string;
}

/** A refusal or failure as the node stated it: HTTP status, gRPC code name, message and (bad input) the field. */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal';
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let credentials: Credentials | undefined;

export function useCredentials(next: Credentials | undefined): void {
  credentials = next;
}

/** POST /v1/{service}/{method} with proto3 JSON; `approval` is the base64 SM2 signature governance calls carry. */
export async function call<T>(service: string, method: string, body: unknown = {}, approval?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credentials) {
    headers.authorization = `Bearer ${credentials.token}`;
    if (credentials.operator !== '') headers['x-tongxing-operator'] = encodeURIComponent(credentials.operator);
  }
  if (approval !== undefined) headers['x-tongxing-approval'] = approval;
  let response: Response;
  try {
    response = await fetch(`/v1/${service}/${method}`, { method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store' });
  } catch (error) {
    throw new ApiRefusal(0, 'UNAVAILABLE', `the node did not answer (${(error as Error).message})`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiRefusal(response.status, 'INTERNAL', `the node answered ${response.status} with something other than JSON`);
  }
  if (!response.ok) {
    const error = json as { code?: string; message?: string; field?: string };
    throw new ApiRefusal(response.status, error.code ?? 'UNKNOWN', error.message ?? text, error.field);
  }
  return json as T;
}

/** A refusal in one line, as the console shows it: the code name and the node's own words. */
export function describeRefusal(error: unknown): string {
  if (error instanceof ApiRefusal) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

// ---- proto3 JSON helpers: int64 travel as strings, bytes as base64 ----

export const hexOfBase64 = (b64: string): string => Array.from(atob(b64), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
export const base64OfHex = (hex: string): string => btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((h) => parseInt(h, 16))));
export const bytesOfBase64 = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
export const base64OfBytes = (bytes: Uint8Array): string => {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
};

/** Offers `bytes` as a file download, made in the page (nothing is fetched again). */
export function download(name: string, bytes: Uint8Array | string, type = 'application/octet-stream'): void {
  const blob = new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
