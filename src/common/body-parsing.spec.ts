import { MAX_JSON_DEPTH, nestsDeeperThan } from './body-parsing';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe(nestsDeeperThan.name, () => {
  it('should accept nesting up to the limit and refuse one level more', () => {
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(bytes(`{"a":${nested(MAX_JSON_DEPTH)}}`), MAX_JSON_DEPTH)).toBe(true);
  });

  it('should count depth, not brackets: siblings do not add up', () => {
    const wide = `[${Array.from({ length: 1000 }, () => '{"a":[1]}').join(',')}]`;
    expect(nestsDeeperThan(bytes(wide), 3)).toBe(false);
  });

  it('should ignore brackets inside strings, escaped quotes included', () => {
    const text = `{"title": "${'[{'.repeat(100)}", "q": "a \\"[[[[ b", "e": "\\\\"}`;
    expect(JSON.parse(text)).toBeDefined();
    expect(nestsDeeperThan(bytes(text), 2)).toBe(false);
    // After the escaped backslash the string is closed: what follows counts again.
    expect(nestsDeeperThan(bytes(`["\\\\", ${nested(3)}]`), 3)).toBe(true);
  });

  it('should not be fooled by multi-byte UTF-8 characters', () => {
    expect(nestsDeeperThan(bytes(`{"t": "日本語 ☃ 😀 [[[["}`), 1)).toBe(false);
  });
});
