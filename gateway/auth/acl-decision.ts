/** The answer of an ACL check: allowed, or refused with the reason counted and a detail for the log. */
export type AclDecision = { readonly ok: true } | { readonly ok: false; readonly reason: 'publish_denied' | 'subscribe_denied'; readonly detail: string };
