// The CDN of the Space shown, shared by its page, its settings and a file's details: the CDN's
// addresses appear only while it is on.
import type { CdnEndpoint } from './bindings/CdnEndpoint';

export const cdn: { space: string | null; endpoint: CdnEndpoint | null } = $state({ space: null, endpoint: null });

/** The host files are served from through the CDN of `space`, or null while it is off. */
export function cdnHost(space: string): string | null {
  if (cdn.space !== space || !cdn.endpoint) return null;
  return cdn.endpoint.customDomain ?? cdn.endpoint.endpoint;
}
