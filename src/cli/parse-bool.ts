// podman's boolean flags: --tls-verify, --tls-verify=false, --tls-verify=true.
import { InvalidArgumentError } from 'commander';

export function parseBool(flag: string) {
  return (value: string | undefined): boolean => {
    if (value === undefined || value === 'true') return true;
    if (value === 'false') return false;
    throw new InvalidArgumentError(`${flag} takes true or false`);
  };
}
