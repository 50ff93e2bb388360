import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes.js';

export interface TemporalSettings {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_API_KEY?: string | undefined;
  TEMPORAL_TLS?: boolean | undefined;
  TEMPORAL_TLS_CERT?: string | undefined;
  TEMPORAL_TLS_KEY?: string | undefined;
}

/** TLS and API-key options shared by the client and the worker's native connection. */
function securityOptions(settings: TemporalSettings) {
  const clientCertPair =
    settings.TEMPORAL_TLS_CERT && settings.TEMPORAL_TLS_KEY
      ? { crt: readFileSync(settings.TEMPORAL_TLS_CERT), key: readFileSync(settings.TEMPORAL_TLS_KEY) }
      : undefined;
  const tlsWanted = settings.TEMPORAL_TLS ?? (clientCertPair !== undefined || settings.TEMPORAL_API_KEY !== undefined);
  return {
    tls: tlsWanted ? (clientCertPair ? { clientCertPair } : true) : false,
    ...(settings.TEMPORAL_API_KEY ? { apiKey: settings.TEMPORAL_API_KEY } : {}),
  };
}

/** Either transport: Node's gRPC (@grpc/grpc-js) or the SDK's Rust client (NativeConnection). */
export type TemporalConnection = Connection | NativeConnection;

/**
 * A client over the SDK's Rust gRPC client: the same calls for a fraction of
 * the CPU of @grpc/grpc-js (HTTP/2 framing and TLS in Rust, not JavaScript),
 * which an alert storm spends on every signalWithStart (npm run bench:intake).
 * It loads the SDK's native library, so the short-lived opsctl keeps Connection.
 */
export async function connectNativeTemporalClient(settings: TemporalSettings): Promise<{ client: Client; connection: NativeConnection }> {
  const options: NativeConnectionOptions = {
    address: settings.TEMPORAL_ADDRESS,
    ...securityOptions(settings),
  };
  const connection = await NativeConnection.connect(options);
  return { client: new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE }), connection };
}

export async function connectTemporalClient(settings: TemporalSettings): Promise<{ client: Client; connection: Connection }> {
  const options: ConnectionOptions = {
    address: settings.TEMPORAL_ADDRESS,
    connectTimeout: '10s',
    ...securityOptions(settings),
  };
  const connection = await Connection.connect(options);
  return { client: new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE }), connection };
}

/**
 * Registers the design's search attributes on the namespace when missing. A
 * server that refuses (Temporal Cloud manages them in its console) is reported
 * to the caller rather than stopping the worker.
 */
export async function ensureSearchAttributes(
  connection: TemporalConnection,
  namespace: string,
): Promise<{ added: string[] }> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((attribute) => !known.has(attribute.name));
  if (missing.length === 0) return { added: [] };
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      // 2 is INDEXED_VALUE_TYPE_KEYWORD in temporal.api.enums.v1.IndexedValueType.
      missing.map((attribute) => [attribute.name, 2]),
    ),
  });
  return { added: missing.map((attribute) => attribute.name) };
}
