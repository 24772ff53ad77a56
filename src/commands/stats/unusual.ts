import type { BusyDay, FirstChange, NewAddress } from '../../queries/stats.js';
import { countOf, formatCount, sanitizeForTerminal } from '../../output/terminal-text.js';
import type { ChartStyle } from '../../output/stats-chart.js';

/** The unusual marks; `null` for a rule the table's mapping cannot serve (a field read through an expression). */
export interface Unusual {
  firstChanges: FirstChange[] | null;
  busyDays: BusyDay[];
  newAddresses: NewAddress[] | null;
}

/** A group's key as shown: a missing value is `(none)`, an empty or `(none)` string is quoted. */
export const keyText = (key: string | number | null) => (key === null ? '(none)' : key === '' || key === '(none)' ? JSON.stringify(key) : String(key));

/** Marks beside an operator's bar: new operator, unusually busy day, new source IP. */
export function operatorNotes(unusual: Unusual | undefined): Map<string, string> {
  const notes = new Map<string, string[]>();
  const add = (operator: string, note: string) => notes.set(operator, [...(notes.get(operator) ?? []), note]);
  for (const change of unusual?.firstChanges ?? []) add(change.operator, '! first change ever');
  for (const day of unusual?.busyDays ?? []) add(day.operator, `! ${formatCount(day.count)} on ${day.day}`);
  // A text source_ip column holds whatever was written: the address is sanitized like every other value.
  for (const address of unusual?.newAddresses ?? []) add(address.operator, `! new IP ${sanitizeForTerminal(address.ip)}`);
  return new Map([...notes].map(([operator, list]) => [operator, list.length > 2 ? `${list.slice(0, 2).join(', ')}, +${list.length - 2}` : list.join(', ')]));
}

export function renderUnusual(unusual: Unusual, factor: number, style: ChartStyle): string[] {
  const { colors } = style;
  const lines = [colors.bold('Unusual') + colors.dim(`  (rules: first change ever; a day over ${factor}x the operator's median day; a source IP new for the operator)`)];
  const mark = colors.yellow('!');
  for (const change of unusual.firstChanges ?? []) lines.push(`${mark} first change ever: ${sanitizeForTerminal(keyText(change.operator))} at ${change.first}`);
  for (const day of unusual.busyDays) lines.push(`${mark} busy day: ${sanitizeForTerminal(keyText(day.operator))} made ${formatCount(day.count)} changes on ${day.day} (median ${formatCount(day.median)} per active day)`);
  for (const address of unusual.newAddresses ?? []) {
    lines.push(`${mark} new source IP: ${sanitizeForTerminal(keyText(address.operator))} from ${sanitizeForTerminal(address.ip)} since ${address.first} (${countOf(address.count, 'entry', 'entries')})`);
  }
  const found = lines.length > 1;
  // "Nothing unusual" would also vouch for a rule that did not run.
  const unchecked = [unusual.firstChanges === null && 'first change ever', unusual.newAddresses === null && 'new source IP'].filter((rule) => rule !== false);
  if (!found) lines.push(colors.dim(unchecked.length ? 'nothing unusual by the rules checked' : 'nothing unusual'));
  for (const rule of unchecked) lines.push(colors.dim(`not checked: ${rule} (the table's mapping reads operator, timestamp or source IP through an expression)`));
  return lines;
}
