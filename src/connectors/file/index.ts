/**
 * weir/connectors/file: the file source (text lines, JSON lines, CSV; bounded or continuously
 * monitored) and the exactly-once file sink (row formats, buckets, rolling policies, part files
 * made visible on checkpoint completion). docs/connectors/file.md describes both.
 */
export {
  FileSource,
  FileSourceBuilder,
  type FileSourceOptions,
  type FileSourceSplit,
  type FileSplit,
  type MalformedRecordPolicy,
  type MonitoringSplit,
} from './file-source.ts';
export {
  CsvReaderFormat,
  JsonLinesInputFormat,
  MalformedRecordError,
  TextLineInputFormat,
  withMalformedRecords,
  type CsvFormatOptions,
  type MalformedRecordInfo,
  type RecordContext,
  type RecordOrMalformed,
  type RecordPosition,
  type StreamFormat,
} from './stream-format.ts';
export {
  FileCommitter,
  FileSink,
  FileSinkWriter,
  OutputFileConfig,
  OutputFileConfigBuilder,
  RowFormatBuilder,
  SimpleStringEncoder,
  inProgressName,
  type Encoder,
  type FileSinkCommittable,
  type FileSinkOptions,
  type FileSinkWriterState,
  type InProgressPartState,
} from './file-sink.ts';
export { BasePathBucketAssigner, DateTimeBucketAssigner, type BucketAssigner, type BucketAssignerContext } from './bucket-assigners.ts';
export {
  DefaultRollingPolicy,
  DefaultRollingPolicyBuilder,
  OnCheckpointRollingPolicy,
  type PartFileInfo,
  type RollingPolicy,
} from './rolling-policies.ts';
