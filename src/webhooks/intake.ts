import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';
import type { z } from 'zod';
import type { AlertBatch } from '../domain/alerts.js';
import type { SeverityPolicy } from '../domain/severity.js';
import { signalIncident } from '../incidents/open-incident.js';
import { alertsSignal } from '../../workflows/incident-contract.js';
import { alertmanagerPayloadSchema, alertsFromAlertmanager } from './alertmanager-payload.js';
import { checkBearer, checkSignature, SIGNATURE_HEADER, type AuthResult } from './auth.js';
import { alertmanagerDedupKey, eventIncidentKey, groupAlerts, type GroupingRule } from './dedup.js';
import { incidentWorkflowId } from '../domain/workflow-ids.js';
import { alertFromEvent, eventDedupKey, eventSchema } from './events-payload.js';
import { describeIssues } from './payload-errors.js';
import type { Rejection } from './rejected-deliveries.js';

/**
 * The alert routes. Each delivery is authenticated, validated, grouped into
 * incidents, and handed to Temporal with signalWithStart before it is
 * answered: 202 means durably in Temporal; 503 means Temporal could not be
 * reached and the sender must retry; a 4xx names what is wrong.
 */

export interface IntakeDeps {
  temporal: Client;
  taskQueue: string;
  webhookToken?: string | undefined;
  hmacSecret?: string | undefined;
  grouping: GroupingRule[];
  severity: SeverityPolicy;
  recordRejection: (rejection: Rejection) => Promise<void>;
  alertsAccepted: Counter<'route'>;
  /** How long a delivery may wait on Temporal before it is answered 503. */
  temporalTimeoutMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}

class IntakeError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function registerIntakeRoutes(app: FastifyInstance, deps: IntakeDeps): void {
  void app.register(async (scope) => {
    // Keep the raw body: signatures are over the bytes as sent, and refusals keep a prefix.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body as string;
      request.rawBody = text;
      try {
        done(null, text.length === 0 ? undefined : JSON.parse(text));
      } catch (error) {
        done(new IntakeError(400, `body is not valid JSON: ${(error as Error).message}`), undefined);
      }
    });

    scope.setErrorHandler(async (error: FastifyError | IntakeError, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 503;
      const message = status === 503 ? `Temporal is unavailable, retry later: ${error.message}` : error.message;
      void deps.recordRejection({
        route: request.routeOptions.url ?? request.url,
        status,
        reason: message,
        body: request.rawBody ?? '',
        remoteAddr: request.ip,
        userAgent: request.headers['user-agent'],
      });
      if (status === 503) void reply.header('retry-after', '5');
      return reply.code(status).send({ error: message, status });
    });

    scope.post('/webhooks/alertmanager', async (request, reply) => {
      authenticate(checkBearer(request.headers.authorization, deps.webhookToken));
      const payload = validate(alertmanagerPayloadSchema, request.body);
      const receivedAt = new Date().toISOString();
      const alerts = alertsFromAlertmanager(payload);
      const groups = groupAlerts(alerts, deps.grouping, alertmanagerDedupKey(payload.groupKey, payload.groupLabels));
      const incidents = await Promise.all(
        [...groups].map(([dedupKey, groupAlerts]) =>
          startOrSignal(dedupKey, {
            source: 'alertmanager',
            receivedAt,
            alerts: groupAlerts,
            externalURL: payload.externalURL,
            receiver: payload.receiver,
            group: { status: payload.status, labels: payload.groupLabels, truncatedAlerts: payload.truncatedAlerts },
          }),
        ),
      );
      deps.alertsAccepted.inc({ route: 'alertmanager' }, alerts.length);
      return reply.code(202).send({ status: 'accepted', incidents, alerts: alerts.length });
    });

    scope.post('/webhooks/events', async (request, reply) => {
      const hasBearer = request.headers.authorization !== undefined;
      authenticate(
        hasBearer || !request.headers[SIGNATURE_HEADER]
          ? checkBearer(request.headers.authorization, deps.webhookToken)
          : checkSignature(
              String(request.headers[SIGNATURE_HEADER]),
              request.rawBody ?? '',
              deps.hmacSecret,
              Math.floor(Date.now() / 1000),
            ),
      );
      const event = validate(eventSchema, request.body);
      const receivedAt = new Date().toISOString();
      const dedupKey = eventDedupKey(event);
      const incidentKey = eventIncidentKey(dedupKey);
      const workflowId = incidentWorkflowId(incidentKey);
      if (event.event_action === 'trigger') {
        await startOrSignal(incidentKey, { source: 'events', receivedAt, alerts: [alertFromEvent(event, dedupKey, receivedAt)] });
        deps.alertsAccepted.inc({ route: 'events' });
        return reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: dedupKey, incidents: [workflowId] });
      }
      // Acknowledge and resolve act on an open incident only; they never open one.
      const batch: AlertBatch =
        event.event_action === 'acknowledge'
          ? { source: 'events', receivedAt, alerts: [], acknowledgeBy: `events:${event.client ?? event.payload?.source ?? 'sender'}` }
          : { source: 'events', receivedAt, alerts: [alertFromEvent(event, dedupKey, receivedAt)] };
      try {
        await withTemporalDeadline(() => deps.temporal.workflow.getHandle(workflowId).signal(alertsSignal, batch));
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          return reply.code(202).send({
            status: 'ignored',
            message: `no open incident for dedup_key ${dedupKey}`,
            dedup_key: dedupKey,
            incidents: [],
          });
        }
        throw error;
      }
      return reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: dedupKey, incidents: [workflowId] });
    });
  });

  function authenticate(result: AuthResult): void {
    if (!result.ok) throw new IntakeError(401, result.reason);
  }

  function validate<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new IntakeError(400, 'body: expected a JSON object');
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new IntakeError(400, describeIssues(parsed.error));
    return parsed.data;
  }

  async function withTemporalDeadline<T>(call: () => Promise<T>): Promise<T> {
    return deps.temporal.connection.withDeadline(Date.now() + (deps.temporalTimeoutMs ?? 5000), call);
  }

  /** Durably hands the batch to the incident, starting it if it is not running. */
  async function startOrSignal(dedupKey: string, batch: AlertBatch): Promise<string> {
    return withTemporalDeadline(() => signalIncident(deps.temporal, { taskQueue: deps.taskQueue, dedupKey, batch, severity: deps.severity }));
  }
}
