// Writes a Brotli copy of every compressible file of a web build (`frontend/dist`) next to
// it, as `<file>.<tag>.br`, where <tag> is the file's entity tag as the server computes it
// (base64url of the first 16 bytes of its SHA-256). The server serves a copy only when the
// tag matches the file beside it, so a copy left over from another build is never sent.
// Brotli at quality 11 is too slow to run at every server start; here it runs once per
// build. Each copy is decompressed again and compared before it is kept.
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const COMPRESSIBLE = /\.(html|js|mjs|wasm|css|svg|json|map|txt|xml|webmanifest|ico|ttf)$/i;
// Below this, compression saves next to nothing (the server's own gzip threshold).
const MIN_BYTES = 256;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node precompress.mjs DIST_DIR');
  process.exit(2);
}

let before = 0;
let after = 0;
function walk(folder) {
  for (const name of readdirSync(folder)) {
    if (name.startsWith('.')) continue;
    const path = join(folder, name);
    const stat = statSync(path);
    if (stat.isDirectory()) {
      walk(path);
    } else if (name.endsWith('.br')) {
      unlinkSync(path);
    } else if (COMPRESSIBLE.test(name) && stat.size >= MIN_BYTES) {
      compress(path);
    }
  }
}

function compress(path) {
  const bytes = readFileSync(path);
  const tag = createHash('sha256').update(bytes).digest().subarray(0, 16).toString('base64url');
  const packed = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      [constants.BROTLI_PARAM_MODE]: path.endsWith('.wasm') ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
    },
  });
  if (!brotliDecompressSync(packed).equals(bytes)) {
    throw new Error(`${path}: the Brotli copy does not decompress to the file`);
  }
  if (packed.length < bytes.length) {
    writeFileSync(`${path}.${tag}.br`, packed);
    before += bytes.length;
    after += packed.length;
  }
}

walk(dir);
console.log(`precompress: Brotli copies of ${(before / 1024).toFixed(0)} KiB in ${(after / 1024).toFixed(0)} KiB`);
