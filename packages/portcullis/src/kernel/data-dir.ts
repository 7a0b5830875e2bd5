import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The default storage directory: $PORTCULLIS_DATA_DIR, else $XDG_DATA_HOME/portcullis, else
 * ~/.local/share/portcullis. Relative XDG paths are ignored, as the XDG Base Directory spec says.
 */
export function defaultStorageDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.PORTCULLIS_DATA_DIR;
  if (own) return own;
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'portcullis');
  return join(homedir(), '.local', 'share', 'portcullis');
}
