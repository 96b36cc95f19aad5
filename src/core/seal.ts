/**
 * A run sealed (AES-256-GCM, a fresh salt each time): what a recording keeps of its draw, and
 * what the state file of an unknown incident keeps of its case. Any change makes it not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface SealedRun {
  caseId: string;
  seed: string;
  suspects: number;
}

// Not a secret (it is in the package): it keeps the case and seed out of plain sight, so that
// the answer is not one `grep` or one `mystery start --seed` away from a file.
const pepper = 'tcpdump-mystery/recording/v1';
const keyFor = (salt: Buffer): Buffer => createHash('sha256').update(pepper).update(salt).digest();

export function sealDraw(run: SealedRun): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(salt), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(run), 'utf8'), cipher.final()]);
  return [salt, iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

export function unsealDraw(seal: string): SealedRun | undefined {
  try {
    const [salt, iv, tag, body] = seal.split('.').map((p) => Buffer.from(p, 'base64url'));
    if (!salt || !iv || !tag || !body || iv.length !== 12 || tag.length !== 16) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', keyFor(salt), iv);
    decipher.setAuthTag(tag);
    const run = JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')) as Partial<SealedRun>;
    if (typeof run.caseId !== 'string' || typeof run.seed !== 'string' || !Number.isInteger(run.suspects)) return undefined;
    return run as SealedRun;
  } catch {
    return undefined; // altered, or not a seal at all
  }
}
