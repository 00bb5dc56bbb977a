// GNU getopt_long's rules, which isolate's clients rely on: short options
// clustered (-sv) with values attached (-t1) or separate (-t 1); an optional
// value ("p::") only when attached; long options as --name=value or
// --name value, abbreviated to any unique prefix; options and operands in any
// order (permutation) until "--". Pure.

export type ArgKind = 'none' | 'required' | 'optional';

export interface LongOption {
  readonly name: string;
  readonly arg: ArgKind;
  /** The short letter it is an alias of, if any. */
  readonly short?: string;
}

export interface ParsedOption {
  /** The long name when there is one, else the short letter. */
  readonly name: string;
  readonly value: string | undefined;
  /** As written, for messages ("-t", "--time"). */
  readonly as: string;
}

export class GetoptError extends Error {}

/** Short options in getopt's syntax ("b:c:p::s") as letter → kind. */
export function parseShortSpec(spec: string): Map<string, ArgKind> {
  const out = new Map<string, ArgKind>();
  for (let i = 0; i < spec.length; i++) {
    const letter = spec[i]!;
    const colons = spec.slice(i + 1).match(/^:{0,2}/)![0].length;
    out.set(letter, colons === 0 ? 'none' : colons === 1 ? 'required' : 'optional');
    i += colons;
  }
  return out;
}

/** Options (in order) and operands (in order, including everything after "--"). Throws GetoptError with getopt's wording. */
export function getopt(argv: readonly string[], shortSpec: string, longs: readonly LongOption[]): { options: ParsedOption[]; operands: string[] } {
  const shorts = parseShortSpec(shortSpec);
  const longOf = new Map(longs.filter((l) => l.short).map((l) => [l.short!, l.name]));
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const opt = findLong(longs, name);
      let value = eq < 0 ? undefined : arg.slice(eq + 1);
      if (opt.arg === 'none' && value !== undefined) throw new GetoptError(`option '--${opt.name}' doesn't allow an argument`);
      if (opt.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length) throw new GetoptError(`option '--${opt.name}' requires an argument`);
        value = argv[++i];
      }
      options.push({ name: opt.name, value, as: `--${opt.name}` });
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j]!;
        const kind = shorts.get(letter);
        if (kind === undefined) throw new GetoptError(`invalid option -- '${letter}'`);
        const name = longOf.get(letter) ?? letter;
        if (kind === 'none') {
          options.push({ name, value: undefined, as: `-${letter}` });
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest !== '') {
          options.push({ name, value: rest, as: `-${letter}` });
        } else if (kind === 'optional') {
          options.push({ name, value: undefined, as: `-${letter}` });
        } else {
          if (i + 1 >= argv.length) throw new GetoptError(`option requires an argument -- '${letter}'`);
          options.push({ name, value: argv[++i], as: `-${letter}` });
        }
        break;
      }
      continue;
    }
    operands.push(arg);
  }
  return { options, operands };
}

/** An exact name, else the only option the name is a prefix of. */
function findLong(longs: readonly LongOption[], name: string): LongOption {
  const exact = longs.find((l) => l.name === name);
  if (exact) return exact;
  const prefixed = longs.filter((l) => l.name.startsWith(name));
  if (prefixed.length === 1 && name !== '') return prefixed[0]!;
  if (prefixed.length > 1 && name !== '') {
    throw new GetoptError(`option '--${name}' is ambiguous; possibilities: ${prefixed.map((l) => `'--${l.name}'`).join(' ')}`);
  }
  throw new GetoptError(`unrecognized option '--${name}'`);
}
