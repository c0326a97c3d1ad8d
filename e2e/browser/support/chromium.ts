import * as fs from 'node:fs';
import * as path from 'node:path';

/** The launch options shared with measure-load.mjs (both read chromium.json). */
export function chromiumLaunchOptions(): { executablePath: string; args: string[] } {
  const options = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'chromium.json'), 'utf8'));
  return {
    executablePath: process.env.SWITCHBOARD_CHROMIUM || options.executablePath,
    args: options.args,
  };
}
