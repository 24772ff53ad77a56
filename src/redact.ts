/**
 * Last line of defence for secrets in messages: values registered here (database passwords, sink tokens) are
 * replaced wherever they appear in text printed by main.ts, whatever library produced the message.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // Very short values would redact ordinary words; they are not plausible secrets either.
  if (value && value.length >= 4) secrets.add(value);
}

export function redactSecrets(text: string): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('******');
  return result;
}
