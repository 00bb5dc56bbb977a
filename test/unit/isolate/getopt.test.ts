// getopt: GNU getopt_long's rules as isolate's clients use them.
import { describe, expect, it } from 'vitest';
import { getopt, GetoptError, parseShortSpec, type LongOption } from '../../../src/isolate/getopt.js';
import { ISOLATE_SHORT_OPTIONS } from '../../../src/isolate/isolate-options.js';

const LONGS: LongOption[] = [
  { name: 'box-id', arg: 'required', short: 'b' },
  { name: 'processes', arg: 'optional', short: 'p' },
  { name: 'silent', arg: 'none', short: 's' },
  { name: 'verbose', arg: 'none', short: 'v' },
  { name: 'time', arg: 'required', short: 't' },
  { name: 'cg', arg: 'none' },
  { name: 'cg-mem', arg: 'required' },
  { name: 'cg-timing', arg: 'none' },
  { name: 'run', arg: 'none' },
  { name: 'wall-time', arg: 'required' },
];
const SHORT = 'b:p::svt:';
const parse = (argv: string[]) => getopt(argv, SHORT, LONGS);
const opts = (argv: string[]) => parse(argv).options.map((o) => [o.name, o.value]);

describe('parseShortSpec', () => {
  it("reads none / required (:) / optional (::)", () => {
    const m = parseShortSpec('ab:c::d');
    expect([...m]).toEqual([['a', 'none'], ['b', 'required'], ['c', 'optional'], ['d', 'none']]);
  });
  it("isolate's spec: -p optional, -t -w -x -m required, -s -v -e -D flags", () => {
    const m = parseShortSpec(ISOLATE_SHORT_OPTIONS);
    expect(m.get('p')).toBe('optional');
    for (const l of 'tmwxkfEdbciorMnq') expect(m.get(l), l).toBe('required');
    for (const l of 'sveD') expect(m.get(l), l).toBe('none');
  });
});

describe('getopt: short options', () => {
  it('clusters flags (-sv) and a value at the end of a cluster (-svt1)', () => {
    expect(opts(['-sv'])).toEqual([['silent', undefined], ['verbose', undefined]]);
    expect(opts(['-svt1.5'])).toEqual([['silent', undefined], ['verbose', undefined], ['time', '1.5']]);
  });
  it('a required value attached (-t5) or separate (-t 5), even one that looks like an option', () => {
    expect(opts(['-t5'])).toEqual([['time', '5']]);
    expect(opts(['-t', '5'])).toEqual([['time', '5']]);
    expect(opts(['-t', '-s'])).toEqual([['time', '-s']]);
    expect(opts(['-st', '2'])).toEqual([['silent', undefined], ['time', '2']]);
  });
  it('an optional value only attached: -p60 is 60, -p 60 is a bare -p and an operand 60', () => {
    expect(parse(['-p60'])).toEqual({ options: [{ name: 'processes', value: '60', as: '-p' }], operands: [] });
    expect(parse(['-p', '60'])).toEqual({ options: [{ name: 'processes', value: undefined, as: '-p' }], operands: ['60'] });
    expect(opts(['-sp'])).toEqual([['silent', undefined], ['processes', undefined]]);
    expect(opts(['-ps'])).toEqual([['processes', 's']]);
  });
  it('a missing value and an unknown letter are errors in getopt\'s words', () => {
    expect(() => parse(['-t'])).toThrow(new GetoptError("option requires an argument -- 't'"));
    expect(() => parse(['-sz'])).toThrow(new GetoptError("invalid option -- 'z'"));
  });
  it('"-" alone is an operand', () => {
    expect(parse(['-'])).toEqual({ options: [], operands: ['-'] });
  });
});

describe('getopt: long options', () => {
  it('--name=value and --name value; the long name is reported for a short alias', () => {
    expect(opts(['--time=2', '--box-id', '7'])).toEqual([['time', '2'], ['box-id', '7']]);
    expect(parse(['-b7']).options[0]).toEqual({ name: 'box-id', value: '7', as: '-b' });
    expect(parse(['--box-id=7']).options[0]).toEqual({ name: 'box-id', value: '7', as: '--box-id' });
  });
  it('an empty value after = is a value', () => {
    expect(opts(['--time='])).toEqual([['time', '']]);
  });
  it('an optional value only after =: --processes=4, and --processes 4 leaves 4 an operand', () => {
    expect(parse(['--processes=4'])).toEqual({ options: [{ name: 'processes', value: '4', as: '--processes' }], operands: [] });
    expect(parse(['--processes', '4'])).toEqual({ options: [{ name: 'processes', value: undefined, as: '--processes' }], operands: ['4'] });
  });
  it('a unique prefix names the option (--proc, --wall=3, --ru); an exact name wins over longer ones (--cg)', () => {
    expect(opts(['--proc=3', '--wall=3', '--ru', '--sil'])).toEqual([['processes', '3'], ['wall-time', '3'], ['run', undefined], ['silent', undefined]]);
    expect(opts(['--cg'])).toEqual([['cg', undefined]]);
    expect(opts(['--cg-m=5'])).toEqual([['cg-mem', '5']]);
  });
  it('an ambiguous prefix lists the possibilities', () => {
    expect(() => parse(['--cg-'])).toThrow(/option '--cg-' is ambiguous; possibilities: '--cg-mem' '--cg-timing'/);
    expect(() => parse(['--c'])).toThrow(/ambiguous/);
  });
  it('unknown names, a value given to a flag, and a missing required value are errors', () => {
    expect(() => parse(['--nope'])).toThrow(new GetoptError("unrecognized option '--nope'"));
    expect(() => parse(['--run=x'])).toThrow(new GetoptError("option '--run' doesn't allow an argument"));
    expect(() => parse(['--time'])).toThrow(new GetoptError("option '--time' requires an argument"));
  });
});

describe('getopt: permutation and --', () => {
  it('options after operands are still options (GNU permutation)', () => {
    expect(parse(['prog', '-s', 'arg', '--time=1'])).toEqual({
      options: [{ name: 'silent', value: undefined, as: '-s' }, { name: 'time', value: '1', as: '--time' }],
      operands: ['prog', 'arg'],
    });
  });
  it('everything after -- is an operand, options included; only the first -- is special', () => {
    expect(parse(['--run', '--', '/bin/sh', '-c', '--time=3', '--'])).toEqual({
      options: [{ name: 'run', value: undefined, as: '--run' }],
      operands: ['/bin/sh', '-c', '--time=3', '--'],
    });
  });
  it('a -- consumed as a required value is a value, not the end of options', () => {
    expect(parse(['-t', '--', '-s'])).toEqual({ options: [{ name: 'time', value: '--', as: '-t' }, { name: 'silent', value: undefined, as: '-s' }], operands: [] });
  });
});
