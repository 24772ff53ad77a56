import { describe, it, expect } from 'vitest';
import { createColors, operationColor, shouldUseColor } from '../../src/output/colors.js';

describe('shouldUseColor', () => {
  it('follows the terminal when neither variable is set, or when they are empty', () => {
    expect(shouldUseColor(true, {})).toBe(true);
    expect(shouldUseColor(false, {})).toBe(false);
    expect(shouldUseColor(true, { NO_COLOR: '', FORCE_COLOR: '' })).toBe(true);
  });

  it('turns colour off for any non-empty NO_COLOR', () => {
    for (const value of ['1', '0', 'false', 'yes']) expect(shouldUseColor(true, { NO_COLOR: value })).toBe(false);
  });

  it('lets FORCE_COLOR force colour on or off, over NO_COLOR', () => {
    expect(shouldUseColor(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(shouldUseColor(false, { FORCE_COLOR: '3', NO_COLOR: '1' })).toBe(true);
    expect(shouldUseColor(true, { FORCE_COLOR: '0' })).toBe(false);
    expect(shouldUseColor(true, { FORCE_COLOR: 'false' })).toBe(false);
  });
});

describe('createColors and operationColor', () => {
  it('emits ANSI codes only when enabled', () => {
    expect(createColors(false).red('x')).toBe('x');
    expect(createColors(true).red('x')).toBe('\u001b[31mx\u001b[39m');
  });

  it('gives each kind of operation its own colour, whatever the case', () => {
    const colors = createColors(true);
    const paint = (operation: string) => operationColor(colors, operation)('X');
    expect(paint('CREATE')).toBe(colors.green('X'));
    expect(paint('update')).toBe(colors.yellow('X'));
    expect(paint('Delete')).toBe(colors.red('X'));
    expect(paint('LOGIN')).toBe(colors.cyan('X'));
    expect(paint('LOGOUT')).toBe(colors.cyan('X'));
    expect(paint('something-else')).toBe(colors.magenta('X'));
    expect(new Set(['CREATE', 'UPDATE', 'DELETE', 'LOGIN', 'PUBLISH', 'OTHER'].map(paint)).size).toBe(6);
  });
});
