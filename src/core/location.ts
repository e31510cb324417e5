/**
 * Locations users give for checkpoints and savepoints: plain paths or URIs (`file:///…`,
 * `s3://…`). One rule tells them apart everywhere: a scheme has at least two characters, so a
 * Windows drive letter (`C:\…`) reads as a path.
 */
import { isAbsolute } from 'node:path';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;

/** The location's URI scheme as written, or undefined for a plain path. */
export function uriScheme(location: string): string | undefined {
  return SCHEME.exec(location)?.[1];
}

/** A URI, or an absolute path: a location that means the same whatever the working directory. */
export function isAbsoluteLocation(location: string): boolean {
  return uriScheme(location) !== undefined || isAbsolute(location);
}
