import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Policy } from '../config/policy.js';
import { scheduleCalendar } from '../oncall/ical.js';
import { scheduleNamed, shiftsOf, UnknownScheduleError } from '../oncall/lookup.js';
import { checkBearer } from './auth.js';

/**
 * `GET /oncall/<schedule>.ics`: a schedule as an iCalendar feed, from a week
 * ago to eight weeks ahead, overrides included. Bearer token; calendar apps
 * that cannot send a header may pass the same token as `?token=`.
 */
export interface OnCallRouteDeps {
  pool: pg.Pool;
  policy: Policy;
  webhookToken?: string | undefined;
}

const DAY = 86_400_000;

export function registerOnCallRoutes(app: FastifyInstance, deps: OnCallRouteDeps): void {
  app.get<{ Params: { file: string }; Querystring: { token?: string; person?: string } }>('/oncall/:file', async (request, reply) => {
    const token = request.query.token;
    const auth = checkBearer(request.headers.authorization ?? (token ? `Bearer ${token}` : undefined), deps.webhookToken);
    if (!auth.ok) return reply.code(401).send({ error: auth.reason, status: 401 });
    const match = /^(.+)\.ics$/.exec(request.params.file);
    if (!match) return reply.code(404).send({ error: 'expected /oncall/<schedule>.ics', status: 404 });
    let schedule;
    try {
      schedule = scheduleNamed(deps.policy, match[1]!);
    } catch (error) {
      if (error instanceof UnknownScheduleError) return reply.code(404).send({ error: error.message, status: 404 });
      throw error;
    }
    const now = Date.now();
    const person = request.query.person;
    const shifts = (await shiftsOf(deps.pool, schedule, now - 7 * DAY, now + 56 * DAY)).filter((shift) => !person || shift.person === person);
    return reply
      .header('content-type', 'text/calendar; charset=utf-8')
      .header('content-disposition', `inline; filename="${schedule.name}.ics"`)
      .send(scheduleCalendar({ schedule: schedule.name, shifts, people: deps.policy.oncall.people, generatedAt: new Date(now).toISOString() }));
  });
}
