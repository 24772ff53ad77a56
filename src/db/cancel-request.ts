/** What the server told a connection at its start (BackendKeyData), and where pg reached it. */
export interface BackendKey {
  processID: number | null;
  secretKey: number | null;
  host: string;
  port: number;
}

/** Longest a cancel request may take to send: a server that accepts TCP and never reads must not hold an exit. */
const CANCEL_BOUND_MS = 1000;
/** The protocol's CancelRequest code (1234 5678). */
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Sends PostgreSQL's CancelRequest for the statement running on `key`'s backend, on a connection of its own (a Unix
 * socket when the host is a directory, as pg connects), without TLS: the server reads it before any TLS or
 * authentication. pg's own Client.cancel would first ask for TLS when the pool is configured with it, and then send
 * the request inside a handshake. Settles, never rejects, once the request is flushed, fails, or after the bound.
 */
export async function cancelRequest(key: BackendKey): Promise<void> {
  if (key.processID === null || key.secretKey === null) return;
  const { connect } = await import('node:net');
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  message.writeInt32BE(key.processID, 8);
  message.writeInt32BE(key.secretKey, 12);
  await new Promise<void>((resolve) => {
    const socket = key.host.startsWith('/') ? connect(`${key.host}/.s.PGSQL.${key.port}`) : connect(key.port, key.host);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => socket.destroy(), CANCEL_BOUND_MS);
    socket.once('connect', () => socket.end(message));
    // Sent once the request is flushed; the socket closes when the server, having read it, hangs up (unref'd: a
    // server that accepts and never reads holds no exit).
    socket.once('finish', () => {
      socket.unref();
      done();
    });
    socket.once('close', done);
    socket.once('error', () => undefined);
  });
}
