/** The node flags `up` gives its API children (src/cli/api-processes.ts, decision 0041). */
import { describe, expect, it } from 'vitest';
import { apiChildExecArgv } from '../../src/cli/api-processes.ts';

describe('API child flags', () => {
  it('adds a 32 MB young generation to the primary own flags', () => {
    expect(apiChildExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', '--max-semi-space-size=32']);
  });

  it.each([
    [['--max-semi-space-size=64'], ''],
    [[], '--inspect --max-semi-space-size=8'],
  ])('keeps a size the operator set (flags %j, NODE_OPTIONS %j)', (execArgv, nodeOptions) => {
    expect(apiChildExecArgv(execArgv, nodeOptions)).toEqual(execArgv);
  });
});
