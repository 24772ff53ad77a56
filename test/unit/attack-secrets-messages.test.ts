import { describe, expect, it } from 'vitest';
import { maskParseError } from '../../src/commands/program.js';
import { maskUrl } from '../../src/config/connection-url.js';
import { HttpClient } from '../../src/sinks/http.js';

// The message paths the attack on "no secret shown" fixed (session 8), one function each; the acceptance test
// (test/acceptance/attack-secrets.test.ts) runs them through the binary.

describe('maskUrl', () => {
  it("masks libpq's sslpassword= as it masks password=, in a URL and a keyword string", () => {
    expect(maskUrl('postgres://u@h/db?sslmode=require&sslpassword=p4ss-phrase&application_name=x')).toBe('postgres://u@h/db?sslmode=require&sslpassword=***&application_name=x');
    expect(maskUrl("host=h sslpassword='a b' password=c dbname=d")).toBe('host=h sslpassword=*** password=*** dbname=d');
    expect(maskUrl('postgres://u@h/db?application_name=sslpasswordless')).toBe('postgres://u@h/db?application_name=sslpasswordless');
  });

  it('masks the password of a URL mistyped without its scheme or with one slash, and of a user holding an @', () => {
    expect(maskUrl('api7:s3cret@db.example:5432/api7')).toBe('api7:***@db.example:5432/api7');
    expect(maskUrl('postgres:/api7:s3cret@db.example/api7')).toBe('postgres:/api7:***@db.example/api7');
    expect(maskUrl('//api7:s3cret@db.example/api7')).toBe('//api7:***@db.example/api7');
    expect(maskUrl('postgres://admin@server:s3cret@server.example/db')).toBe('postgres://admin@server:***@server.example/db');
    expect(maskUrl('admin@server:s3cret@server.example/db')).toBe('admin@server:***@server.example/db');
    // Nothing to mask: no password, a port, a keyword string without one.
    for (const url of ['postgres://u@h:5432/d', 'postgres://h:5432/d', 'postgres:///d?host=/run/postgresql', 'host=h port=5432', 'postgres://u@h/d?x=1']) expect(maskUrl(url)).toBe(url);
  });
});

describe('HttpClient.redact', () => {
  const client = new HttpClient(new URL('http://127.0.0.1:9'), {}, ['Ab1/Cd2+Ef3=Gh4', 'short']);
  it('removes a credential as sent, %-encoded and JSON-escaped, and leaves the words around it', () => {
    expect(client.redact('token Ab1/Cd2+Ef3=Gh4 refused')).toBe('token ****** refused');
    expect(client.redact('auth=Splunk%20Ab1%2FCd2%2BEf3%3DGh4&x=1')).toBe('auth=Splunk%20******&x=1');
    expect(client.redact('{"auth":"Splunk Ab1\\/Cd2+Ef3=Gh4"}')).toBe('{"auth":"Splunk ******"}');
    expect(client.redact('a shorter word stays')).toBe('a shorter word stays');
  });

  it('removes its own credential echoed back however short, as a whole word only', () => {
    expect(client.redact('{"text":"Invalid token short","code":4}')).toBe('{"text":"Invalid token ******","code":4}');
    expect(client.redact('shortcut and shorts stay')).toBe('shortcut and shorts stay');
  });
});

describe('maskParseError', () => {
  it("drops an unknown option's value and masks a URL's password; other messages stay as commander wrote them", () => {
    expect(maskParseError("error: unknown option '--db-url=postgres://u:pw@h/db'\n(Did you mean --db?)\n")).toBe("error: unknown option '--db-url=***'\n(Did you mean --db?)\n");
    expect(maskParseError("error: unknown command 'https://bob:s3cret@h.example/x'\n")).toBe("error: unknown command 'https://bob:***@h.example/x'\n");
    expect(maskParseError("error: unknown option '--bogus'\n")).toBe("error: unknown option '--bogus'\n");
    const choices = "error: option '-o, --output <format>' argument 'csvv' is invalid. Allowed choices are table, json, ndjson, csv.\n";
    expect(maskParseError(choices)).toBe(choices);
  });
});
