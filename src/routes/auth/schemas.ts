/** Request and response schemas of the `auth` route group. */
import { z } from "zod";

export const loginBody = z
  .object({
    email: z.string().trim().toLowerCase().email().max(254),
    password: z.string().min(1).max(1024),
    /** Which org to act in when the user belongs to several; defaults to the oldest membership. */
    orgId: z.string().uuid().optional(),
  })
  .strict();

export const tokenResponse = z.object({
  accessToken: z.string(),
  tokenType: z.literal("Bearer"),
  expiresIn: z.number().int(),
  orgId: z.string().uuid(),
  role: z.string(),
});
export type TokenResponse = z.infer<typeof tokenResponse>;
