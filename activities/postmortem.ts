import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../src/domain/errors.js';
import { storePostmortemDraft, type PostmortemDraft, type PostmortemStore } from '../src/incidents/postmortem-draft.js';

/**
 * Post-mortem drafts: written to the bucket when an incident resolves (the
 * incident workflow links it in its timeline and Slack thread), from our own records.
 */
export type PostmortemDeps = PostmortemStore;

export function createPostmortemActivities(deps: PostmortemDeps) {
  return {
    async writePostmortem(input: { incidentId: string; link?: string }): Promise<PostmortemDraft> {
      const draft = await storePostmortemDraft(deps, input.incidentId, input.link);
      if (!draft) throw ApplicationFailure.nonRetryable(`no incident ${input.incidentId} in the database`, ErrorType.NotFound);
      return draft;
    },
  };
}
