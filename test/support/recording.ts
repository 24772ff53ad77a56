import type { IncomingHttpHeaders } from 'node:http';
import { FakeServer, type FakeReply, type FakeRequest, type FaultOptions, type Protocol } from './fake-server.js';

/** What one request looked like on the wire, before the protocol answered it. */
export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** Body bytes after gzip decoding. */
  bodyBytes: number;
  /** Body bytes as received. */
  rawBytes: number;
}

/** Puts a recorder in front of a fake destination, to assert on headers (Content-Encoding, authorization). */
export async function startRecorded<P extends Protocol>(protocol: P, options: FaultOptions = {}): Promise<{ server: FakeServer; requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const recorder: Protocol = {
    handle(request: FakeRequest): FakeReply {
      requests.push({ path: request.path, headers: request.headers, bodyBytes: request.body.length, rawBytes: request.rawBytes });
      return protocol.handle(request);
    },
    failure: (status) => protocol.failure(status),
    discardReply: (request) => protocol.discardReply(request),
  };
  return { server: await new FakeServer(recorder, options).start(), requests };
}
