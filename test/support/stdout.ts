import { vi } from 'vitest';

/** Runs `fn` with process.stdout.write captured (nothing reaches the terminal) and returns what it wrote. */
export async function captureStdout(fn: () => Promise<void>): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return out;
}
