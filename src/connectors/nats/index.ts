/**
 * `weir/connectors/nats`: NATS JetStream as a replayable source and as an exactly-once sink by
 * de-duplication (docs/connectors/nats.md). Needs the optional peer dependencies
 * `@nats-io/transport-node` and `@nats-io/jetstream`.
 */
export { JetStreamSource, type JetStreamSourceOptions, type JetStreamSplit } from './jetstream-source.ts';
export { JetStreamSink, subjectMatches, worstCaseRestartDelayMs, type JetStreamSinkOptions } from './jetstream-sink.ts';
export {
  defaultSerializer,
  jsonDeserializer,
  jsonSerializer,
  stringDeserializer,
  type JetStreamDeserializer,
  type JetStreamMessage,
  type JetStreamSerializer,
} from './serialization.ts';
export { closeSharedConnections, DEFAULT_SERVERS, type NatsConnectionSettings } from './connection.ts';
