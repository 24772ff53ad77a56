/** What the attack-connect and attack-follow-reconnect files' fake servers say on the wire. */

/** A FATAL ErrorResponse, as a server sends it in answer to the start-up message. */
export function fatalMessage(code: string, text: string): Buffer {
  const fields = Buffer.from([['S', 'FATAL'], ['V', 'FATAL'], ['C', code], ['M', text]].map(([key, value]) => `${key}${value}\0`).join('') + '\0');
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}
