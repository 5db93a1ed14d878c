import { describe, expect, it } from 'vitest';
import { formatKeyValues, formatTable } from '../../../bench/lib/table.js';

describe('bench tables', () => {
  it('pads a Markdown table per column and right-aligns numbers when asked', () => {
    expect(formatTable(['broker', { header: 'msg/s', align: 'right' }], [['gateway', '9,999'], ['mosquitto', '10']])).toBe(
      ['| broker    | msg/s |', '| --------- | ----: |', '| gateway   | 9,999 |', '| mosquitto |    10 |', ''].join('\n'),
    );
  });
  it('pads keys of key/value lines to the longest key + 2 unless told', () => {
    expect(formatKeyValues([['a', '1'], ['bbb', '2']])).toBe('a    1\nbbb  2\n');
    expect(formatKeyValues([['a', '1']], 3)).toBe('a  1\n');
  });
});
