// Makes the CLI executable after tsc (npm links it as `mystery`).
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
