import { DatadogSink, type DatadogOptions } from './datadog.js';
import { ElasticsearchSink, type ElasticsearchOptions } from './elasticsearch.js';
import { FileSink, type FileSinkOptions } from './file.js';
import { SplunkHecSink, type SplunkHecOptions } from './splunk-hec.js';
import type { Sink } from './types.js';

export type { DatadogOptions, ElasticsearchOptions, FileSinkOptions, SplunkHecOptions };
export type * from './types.js';

/** Which destination an export run writes to, with that destination's settings. */
export type SinkOptions =
  | ({ kind: 'splunk' } & SplunkHecOptions)
  | ({ kind: 'elasticsearch' } & ElasticsearchOptions)
  | ({ kind: 'datadog' } & DatadogOptions)
  | ({ kind: 'file' } & FileSinkOptions);

export type SinkKind = SinkOptions['kind'];

/** Builds the one sink of a run. Close it in `finally`. */
export function createSink(options: SinkOptions): Sink {
  switch (options.kind) {
    case 'splunk':
      return new SplunkHecSink(options);
    case 'elasticsearch':
      return new ElasticsearchSink(options);
    case 'datadog':
      return new DatadogSink(options);
    case 'file':
      return new FileSink(options);
  }
}
