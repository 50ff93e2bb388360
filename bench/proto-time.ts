/** Milliseconds of a protobuf Timestamp or Duration from a history (seconds may be a Long); 0 when absent. */
export const millis = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
