/** Configuration of the report packs; keys are environment variable names (parsed by `main`). */
import { z } from 'zod';
import { envOptionalString } from '@wattproof/core';

export const packConfigSchema = z.object({
  REPORT_SIGNING_KEY_FILE: envOptionalString().describe(
    'Ed25519 private key (PKCS#8 PEM, from `wattproof report keygen`) that signs report packs (`wattproof report pack`, GET /api/v1/packs/...); unset: packs cannot be issued',
  ),
});
export type PackConfig = z.output<typeof packConfigSchema>;
