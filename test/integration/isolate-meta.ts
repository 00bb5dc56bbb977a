// A parser of isolate's meta file as strict as its clients': CMS splits each
// line at the first colon (a line without one, e.g. a blank line, raises), and
// Judge0 splits the text at newlines and each line at colons into a hash (an
// empty line breaks it). On top: only isolate 2.x's keys, each at most once,
// in isolate's order, and the text ends with a newline.

/** isolate 2.x's keys in the order it writes them. */
export const ISOLATE_META_KEYS = [
  'time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'cg-mem', 'cg-oom-killed',
  'exitcode', 'exitsig', 'killed', 'status', 'message',
] as const;

export class MetaParseError extends Error {}

export function parseIsolateMeta(text: string): Record<string, string> {
  if (text === '') throw new MetaParseError('empty meta file');
  if (!text.endsWith('\n')) throw new MetaParseError(`the meta file does not end with a newline: ${JSON.stringify(text)}`);
  const out: Record<string, string> = {};
  let lastIndex = -1;
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const colon = line.indexOf(':');
    if (colon < 0) throw new MetaParseError(`line ${i + 1} has no colon: ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1);
    const index = (ISOLATE_META_KEYS as readonly string[]).indexOf(key);
    if (index < 0) throw new MetaParseError(`line ${i + 1}: unknown key ${JSON.stringify(key)}`);
    if (key in out) throw new MetaParseError(`line ${i + 1}: key ${key} repeated`);
    if (index < lastIndex) throw new MetaParseError(`line ${i + 1}: key ${key} out of isolate's order`);
    if (value === '' || value !== value.trim()) throw new MetaParseError(`line ${i + 1}: bad value ${JSON.stringify(value)}`);
    if (key !== 'message' && key !== 'status' && !/^\d+(\.\d+)?$/.test(value)) throw new MetaParseError(`line ${i + 1}: ${key} is not a number: ${value}`);
    if (key === 'status' && !['RE', 'SG', 'TO', 'XX'].includes(value)) throw new MetaParseError(`line ${i + 1}: status ${value} is not isolate's`);
    lastIndex = index;
    out[key] = value;
  });
  return out;
}
