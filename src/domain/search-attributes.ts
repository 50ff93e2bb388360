import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The design's search attributes. Every workflow sets OpsKind; the others are
 * kept current by the workflows they describe, so the Web UI can filter on them
 * (for example `OpsKind="incident" AND OpsStatus="triggered"`).
 */
export const OpsKind = defineSearchAttributeKey('OpsKind', SearchAttributeType.KEYWORD);
export const OpsSeverity = defineSearchAttributeKey('OpsSeverity', SearchAttributeType.KEYWORD);
export const OpsService = defineSearchAttributeKey('OpsService', SearchAttributeType.KEYWORD);
export const OpsStatus = defineSearchAttributeKey('OpsStatus', SearchAttributeType.KEYWORD);

/** Name -> Temporal type name, for registering them on a namespace. */
export const SEARCH_ATTRIBUTES = [OpsKind, OpsSeverity, OpsService, OpsStatus].map((key) => ({
  name: key.name,
  type: 'Keyword' as const,
}));
